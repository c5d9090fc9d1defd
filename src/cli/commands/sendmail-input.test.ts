import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lfToCrlf, normalizeInput, splitMessage, fieldValue, SendmailInputError } from './sendmail-input.js';
import { addressesIn, displayName, headerRecipients, splitAddressList } from './sendmail.js';
import { parseSendmailArgs } from './sendmail-args.js';
import { CliError } from '../cli-context.js';

async function collect(gen: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const b of gen) parts.push(b);
  return Buffer.concat(parts).toString('latin1');
}

async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p, 'latin1');
}

/** every way of cutting `s` into two chunks gives the same result as one chunk */
async function allSplits(s: string, dotEnds: boolean): Promise<string> {
  const whole = await collect(normalizeInput(chunks(s), dotEnds));
  for (let i = 1; i < s.length; i++) {
    assert.equal(await collect(normalizeInput(chunks(s.slice(0, i), s.slice(i)), dotEnds)), whole, `split at ${i}`);
  }
  return whole;
}

void test('normalizeInput: LF → CRLF, CRLF kept, a final CRLF added, the same across chunk boundaries', async () => {
  assert.equal(await allSplits('a\nb\r\nc', false), 'a\r\nb\r\nc\r\n');
  assert.equal(await allSplits('\n\n', false), '\r\n\r\n');
  assert.equal(await collect(normalizeInput(chunks(''), false)), '');
});

void test('normalizeInput: a lone "." line ends the input unless -i; ".." and ".x" do not', async () => {
  assert.equal(await allSplits('a\n.\nb\n', true), 'a\r\n');
  assert.equal(await allSplits('a\r\n.\r\nb\r\n', true), 'a\r\n');
  assert.equal(await allSplits('.\n', true), '');
  assert.equal(await allSplits('a\n..\n.x\n', true), 'a\r\n..\r\n.x\r\n');
  assert.equal(await allSplits('a\n.\nb\n', false), 'a\r\n.\r\nb\r\n');
  assert.equal(await allSplits('a\n.', true), 'a\r\n.\r\n', 'a "." without line end at EOF is text');
});

void test('normalizeInput: a read error becomes SendmailInputError 66', async () => {
  // eslint-disable-next-line require-yield
  async function* failing(): AsyncGenerator<Buffer> {
    throw Object.assign(new Error('boom'), { code: 'EIO' });
  }
  await assert.rejects(collect(normalizeInput(failing(), true)), (e: unknown) => e instanceof SendmailInputError && e.exitCode === 66);
});

void test('splitMessage: fields with folding, the body streamed after; mbox "From " dropped', async () => {
  const s = await splitMessage(chunks('From x Mon\r\nTo: a,\r\n b\r\nSubject: s\r\n\r\nbody\r\n'));
  assert.deepEqual(s.fields.map((f) => f.name), ['to', 'subject']);
  assert.equal(s.fields[0].raw, 'To: a,\r\n b');
  assert.equal(fieldValue(s.fields[0]), 'a, b');
  assert.equal(s.separator, true);
  assert.equal(await collect(s.body), 'body\r\n');
});

void test('splitMessage: a non-header line begins the body; the cap is enforced', async () => {
  const s = await splitMessage(chunks('Subject: s\r\nnot a header\r\nmore\r\n'));
  assert.equal(s.separator, false);
  assert.equal(await collect(s.body), 'not a header\r\nmore\r\n');
  await assert.rejects(splitMessage(chunks(`X: ${'a'.repeat(100)}\r\n\r\n`), 50), (e: unknown) => e instanceof SendmailInputError && e.exitCode === 65);
});

void test('lfToCrlf keeps CRLF split across chunks', () => {
  const f = lfToCrlf();
  assert.equal(Buffer.concat([f(Buffer.from('a\r')), f(Buffer.from('\nb\n'))]).toString(), 'a\r\nb\r\n');
});

void test('parseSendmailArgs: getopt-style flags, attached values, -o options, --', () => {
  const o = parseSendmailArgs(['-t', '-oi', '-fme@x.org', '-F', 'Full Name', '-oem', '-odi', 'a@b.c', '-N', 'success,delay', '--', '-odd']);
  assert.equal(o.extract, true);
  assert.equal(o.ignoreDots, true);
  assert.equal(o.from, 'me@x.org');
  assert.equal(o.fullName, 'Full Name');
  assert.deepEqual(o.notify, ['SUCCESS', 'DELAY']);
  assert.deepEqual(o.recipients, ['a@b.c', '-odd']);
  assert.equal(parseSendmailArgs(['-ti']).ignoreDots, true);
  assert.equal(parseSendmailArgs(['-bs']).mode, 'smtp');
  assert.equal(parseSendmailArgs(['-bv', 'x']).mode, 'verify');
  assert.equal(parseSendmailArgs(['-bp']).mode, 'print');
  assert.equal(parseSendmailArgs(['-q']).mode, 'flush');
  for (const bad of [['-Z'], ['-f'], ['-bd'], ['-q30m'], ['--nope'], ['-R', 'most']]) {
    assert.throws(() => parseSendmailArgs(bad), (e: unknown) => e instanceof CliError && e.exitCode === 64, bad.join(' '));
  }
});

void test('address lists: angle addresses, quoted commas, groups, comments, bare names', () => {
  assert.deepEqual(splitAddressList('Suzana <s@x.org>, "Smith, J" <j@x.org>, Team: a@y.org (c), b@y.org;, plain'), [
    's@x.org',
    'j@x.org',
    'a@y.org',
    'b@y.org',
    'plain',
  ]);
  assert.deepEqual(splitAddressList('undisclosed-recipients:;'), []);
  assert.deepEqual(splitAddressList('<@relay.org:u@x.org>'), ['u@x.org']);
  assert.deepEqual(addressesIn('pascal, "john doe"@x.org', 'example.org').map((a) => `${a.local}@${a.domain}`), [
    'pascal@example.org',
    '"john doe"@x.org',
  ]);
  for (const bad of ['two words', '<unclosed@x.org', 'a@@b', 'x@-bad-.org']) {
    assert.throws(() => addressesIn(bad, 'example.org'), (e: unknown) => e instanceof CliError && e.exitCode === 65, bad);
  }
});

void test('headerRecipients: Resent-* fields win when present', () => {
  const f = (raw: string): { name: string; raw: string } => ({ name: raw.slice(0, raw.indexOf(':')).toLowerCase(), raw });
  assert.deepEqual(
    headerRecipients([f('To: a@x.org'), f('Cc: b@x.org'), f('Bcc: c@x.org')], 'x.org').map((a) => a.local),
    ['a', 'b', 'c'],
  );
  assert.deepEqual(headerRecipients([f('To: a@x.org'), f('Resent-To: r@x.org')], 'x.org').map((a) => a.local), ['r']);
});

void test('displayName: atoms plain, specials quoted, non-ASCII as RFC 2047 words', () => {
  assert.equal(displayName('Jacques Silva'), 'Jacques Silva');
  assert.equal(displayName('Silva, J. "Jack"'), '"Silva, J. \\"Jack\\""');
  assert.equal(displayName('Hélvécio'), `=?UTF-8?B?${Buffer.from('Hélvécio').toString('base64')}?=`);
});
