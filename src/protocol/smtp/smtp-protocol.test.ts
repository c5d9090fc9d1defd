import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { MailError } from '../../core/smtp-reply.js';
import { replies } from '../../core/replies.js';
import { corporaDir, corporaSkip } from '../../../test/helpers/paths.js';
import {
  parseCommandLine, parseMailCommand, parseRcptCommand, parseBdatArgs, decodeXtext, encodeXtext, encodeReply,
  DataDecoder, DataReader, BdatReader, TextChecker,
} from './index.js';

const esmtp = { esmtp: true };
function code(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof MailError, String(e));
    return `${e.reply.code} ${e.reply.status}`;
  }
}

void test('command lines', () => {
  assert.deepEqual(parseCommandLine('mail FROM:<a@b>  '), { verb: 'MAIL', args: 'FROM:<a@b>' });
  assert.deepEqual(parseCommandLine('QUIT'), { verb: 'QUIT', args: '' });
});

void test('MAIL: the seed\'s space after the colon, parameters', () => {
  assert.deepEqual(parseMailCommand('FROM: <helvecio@dsc.ufpb.br>', { esmtp: false }), {
    sender: { local: 'helvecio', domain: 'dsc.ufpb.br' }, params: {},
  });
  const m = parseMailCommand('from:<> SIZE=1000 BODY=8bitmime RET=HDRS ENVID=a+2Bb AUTH=<>', esmtp);
  assert.equal(m.sender, null);
  assert.deepEqual(m.params, { size: 1000, body: '8BITMIME', ret: 'HDRS', envid: 'a+b' });
  assert.deepEqual(parseMailCommand('FROM:<josé@x.org> SMTPUTF8', esmtp).params, { smtpUtf8: true });
  assert.deepEqual(parseMailCommand('FROM:<"a>b"@x.org>', esmtp).sender, { local: '"a>b"', domain: 'x.org' });
});

void test('MAIL errors', () => {
  assert.equal(code(() => parseMailCommand('FROM:a@b', esmtp)), '501 5.5.4');
  assert.equal(code(() => parseMailCommand('TO:<a@b>', esmtp)), '501 5.5.4');
  assert.equal(code(() => parseMailCommand('FROM:<a@b> FOO=1', esmtp)), '555 5.5.4');
  // after HELO: SIZE, BODY and AUTH are taken as Postfix and OpenSMTPD take them; the rest is 555
  assert.equal(code(() => parseMailCommand('FROM:<a@b> SMTPUTF8', { esmtp: false })), '555 5.5.4');
  assert.equal(code(() => parseMailCommand('FROM:<a@b> RET=HDRS', { esmtp: false })), '555 5.5.4');
  assert.deepEqual(parseMailCommand('FROM:<a@b> SIZE=1 BODY=8BITMIME AUTH=<>', { esmtp: false }).params, { size: 1, body: '8BITMIME' });
  assert.equal(code(() => parseMailCommand('FROM:<a@b> SIZE=x', { esmtp: false })), '501 5.5.4');
  assert.equal(code(() => parseMailCommand('FROM:<a@b> SIZE=x', esmtp)), '501 5.5.4');
  assert.equal(code(() => parseMailCommand('FROM:<a@b> SIZE=1 SIZE=2', esmtp)), '501 5.5.4');
  assert.equal(code(() => parseMailCommand('FROM:<a@b> BODY=BINARYMIME', esmtp)), '504 5.5.4');
  assert.equal(code(() => parseMailCommand('FROM:<a b@c>', esmtp)), '501 5.1.7');
  assert.equal(code(() => parseMailCommand('FROM:<josé@x.org>', esmtp)), '553 5.6.7');
  assert.equal(code(() => parseMailCommand('FROM:<a@b>x', esmtp)), '501 5.5.4');
});

void test('RCPT with DSN parameters (RFC 3461)', () => {
  const r = parseRcptCommand('TO:<suzana@dc.uece.br> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;suzana+2Bx@dc.uece.br', esmtp);
  assert.deepEqual(r, {
    recipient: { local: 'suzana', domain: 'dc.uece.br' },
    dsn: { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;suzana+x@dc.uece.br' },
  });
  assert.deepEqual(parseRcptCommand('TO:<postmaster>', esmtp).recipient, { local: 'postmaster', domain: '' });
  assert.equal(code(() => parseRcptCommand('TO:<a@b> NOTIFY=NEVER,DELAY', esmtp)), '501 5.5.4');
  assert.equal(code(() => parseRcptCommand('TO:<a@b> NOTIFY=SOMETIMES', esmtp)), '501 5.5.4');
  assert.equal(code(() => parseRcptCommand('TO:<a@b> ORCPT=rfc822', esmtp)), '501 5.5.4');
  assert.equal(code(() => parseRcptCommand('TO:<a b@c>', esmtp)), '501 5.1.3');
  assert.equal(code(() => parseRcptCommand('TO:<a@b> X=1', esmtp)), '555 5.5.4');
});

void test('xtext round trip and errors', () => {
  // RFC 3461 §4: "+", "=" and octets outside "!".."~" as "+HH" (the SMTP client's ENVID and ORCPT)
  assert.equal(encodeXtext('a+b=c d'), 'a+2Bb+3Dc+20d');
  fc.assert(fc.property(fc.string(), (s) => decodeXtext(encodeXtext(s)) === Buffer.from(s, 'utf8').toString('latin1')));
  assert.throws(() => decodeXtext('a+2'), MailError);
  assert.throws(() => decodeXtext('a b'), MailError);
});

void test('BDAT arguments', () => {
  assert.deepEqual(parseBdatArgs('100 LAST'), { size: 100, last: true });
  assert.deepEqual(parseBdatArgs('0'), { size: 0, last: false });
  assert.throws(() => parseBdatArgs('-1'), MailError);
  assert.throws(() => parseBdatArgs('10 FIRST'), MailError);
});

void test('reply encoding: HELO (plain) is the seed\'s text, EHLO adds enhanced codes', () => {
  assert.equal(encodeReply(replies.senderOk(), false), '250 OK\r\n');
  assert.equal(encodeReply(replies.noSuchUser(), false), '550 No such user here\r\n');
  assert.equal(encodeReply(replies.noSuchUser(), true), '550 5.1.1 No such user here\r\n');
  assert.equal(encodeReply(replies.help(), true), '214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP\r\n214 2.0.0 See RFC 5321\r\n');
  assert.equal(encodeReply({ code: 250, lines: ['a\r\n250 forged'] }, true), '250 a 250 forged\r\n');
});

function decodeAll(input: Buffer, chunkSizes?: number[], maxSize?: number) {
  const d = new DataDecoder({ maxSize });
  const body: Buffer[] = [];
  let rest: Buffer | undefined;
  let pos = 0;
  let k = 0;
  while (pos < input.length && !d.done) {
    const len = chunkSizes ? Math.max(1, chunkSizes[k++ % chunkSizes.length]) : input.length;
    const r = d.push(input.subarray(pos, pos + len));
    pos += len;
    body.push(...r.body);
    if (r.done) rest = Buffer.concat([r.rest ?? Buffer.alloc(0), input.subarray(pos)]);
  }
  return { body: Buffer.concat(body).toString('latin1'), done: d.done, rest: rest?.toString('latin1'), flaw: d.flaw };
}

void test('DATA: unstuffing, end of data, leftovers', () => {
  const r = decodeAll(Buffer.from('Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n'));
  assert.deepEqual(r, { body: 'Subject: x\r\n\r\n.dot\r\n', done: true, rest: 'QUIT\r\n', flaw: undefined });
  // the first line can be the end directly after 354
  assert.deepEqual(decodeAll(Buffer.from('.\r\nNOOP\r\n')), { body: '', done: true, rest: 'NOOP\r\n', flaw: undefined });
  assert.equal(decodeAll(Buffer.from('a\r\n.\r')).done, false);
});

void test('DATA: any chunking gives the same result', () => {
  const arb = fc.array(fc.constantFrom('a', '.', '\r', '\n', '\r\n', '\r\n.', '\r\n.\r\n', '..', 'xyz'), { maxLength: 40 });
  fc.assert(
    fc.property(arb, fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }), (parts, sizes) => {
      const input = Buffer.from(parts.join('') + '\r\n.\r\nNEXT', 'latin1');
      const a = decodeAll(input, sizes);
      const b = decodeAll(input);
      // once flawed the body is dropped, so only an unflawed body must match byte for byte
      assert.deepEqual([a.done, a.rest, a.flaw], [b.done, b.rest, b.flaw]);
      if (b.flaw === undefined) assert.equal(a.body, b.body);
    }),
  );
});

void test('DATA: bare CR/LF, long lines, size are flagged but reading continues to the real end', () => {
  assert.equal(decodeAll(Buffer.from('a\nb\r\n.\r\n')).flaw, 'bare-line-ending');
  assert.equal(decodeAll(Buffer.from('a\rb\r\n.\r\n')).flaw, 'bare-line-ending');
  assert.equal(decodeAll(Buffer.from('x'.repeat(998) + '\r\n.\r\n')).flaw, undefined);
  assert.equal(decodeAll(Buffer.from('x'.repeat(999) + '\r\n.\r\n')).flaw, 'line-too-long');
  assert.equal(decodeAll(Buffer.from('12345\r\n.\r\n'), undefined, 7).flaw, undefined);
  const big = decodeAll(Buffer.from('123456\r\n.\r\nRSET\r\n'), [3], 7);
  assert.deepEqual([big.flaw, big.done, big.rest], ['too-big', true, 'RSET\r\n']);
});

const smugglingRel = 'smtp/smtp-smuggling-end-of-data-sequences.json';
void test('DATA: every SMTP smuggling sequence ends nothing; the real end comes after the smuggled text', { skip: corporaSkip(smugglingRel) }, () => {
  const corpus = JSON.parse(readFileSync(join(corporaDir, smugglingRel), 'utf8')) as { sequences: { sequence_hex: string }[] };
  assert.ok(corpus.sequences.length >= 10);
  for (const { sequence_hex } of corpus.sequences) {
    const seq = Buffer.from(sequence_hex, 'hex');
    const smuggled = 'MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nsmuggled\r\n';
    const input = Buffer.concat([Buffer.from('body'), seq, Buffer.from(smuggled), Buffer.from('\r\n.\r\nQUIT\r\n')]);
    for (const sizes of [undefined, [1], [2], [3]]) {
      const r = decodeAll(input, sizes);
      assert.equal(r.done, true, sequence_hex);
      assert.equal(r.rest, 'QUIT\r\n', `${sequence_hex}: the end of data is the real one`);
      const hasBare = /\r(?!\n)|(?<!\r)\n/.test(seq.toString('latin1'));
      if (hasBare) assert.equal(r.flaw, 'bare-line-ending', sequence_hex);
      else assert.ok(r.body.includes('smuggled'), sequence_hex);
    }
  }
});

void test('DataReader stream hands back the leftover', async () => {
  const reader = new DataReader();
  Readable.from([Buffer.from('a\r\n..b\r\n.'), Buffer.from('\r\nQUIT\r\n')]).pipe(reader);
  const parts: Buffer[] = [];
  for await (const c of reader) parts.push(c as Buffer);
  assert.equal(Buffer.concat(parts).toString(), 'a\r\n.b\r\n');
  assert.equal(reader.leftover.toString(), 'QUIT\r\n');
  assert.equal(reader.flaw, undefined);
});

void test('BDAT reader and text checker', () => {
  const r = new BdatReader(5);
  assert.deepEqual(r.push(Buffer.from('abc')), { data: Buffer.from('abc'), done: false });
  const t = r.push(Buffer.from('de' + 'BDAT'));
  assert.equal(t.data?.toString(), 'de');
  assert.equal(t.rest?.toString(), 'BDAT');
  const c = new TextChecker(100);
  c.push(Buffer.from('a\r'));
  c.push(Buffer.from('\nb\r\n'));
  c.end();
  assert.equal(c.flaw, undefined);
  const c2 = new TextChecker();
  c2.push(Buffer.from('a\nb'));
  assert.equal(c2.flaw, 'bare-line-ending');
  const c3 = new TextChecker(3);
  c3.push(Buffer.from('abcd'));
  assert.equal(c3.flaw, 'too-big');
  const c4 = new TextChecker();
  c4.push(Buffer.from('a\r'));
  c4.end();
  assert.equal(c4.flaw, 'bare-line-ending');
});
