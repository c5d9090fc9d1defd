import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyReader, parseReplyLines, ReplyProtocolError } from './reply-reader.js';
import { DotStuffer } from './dot-stuffer.js';

void test('single and multi-line replies, enhanced status lifted out', async () => {
  const r = new ReplyReader();
  r.push('250-mx.example.org greets you\r\n250-PIPELINING\r\n25');
  r.push('0 SIZE 1000\r\n550 5.1.1 No such user here\r\n');
  assert.deepEqual(await r.next(), { code: 250, lines: ['mx.example.org greets you', 'PIPELINING', 'SIZE 1000'] });
  assert.deepEqual(await r.next(), { code: 550, status: '5.1.1', lines: ['No such user here'] });
});

void test('enhanced code of another class is text, not status', () => {
  assert.deepEqual(parseReplyLines(['250 5.1.1 odd']), { code: 250, lines: ['5.1.1 odd'] });
  assert.deepEqual(parseReplyLines(['354']), { code: 354, lines: [''] });
});

void test('malformed replies are protocol errors', async () => {
  assert.throws(() => parseReplyLines(['hello']), ReplyProtocolError);
  assert.throws(() => parseReplyLines(['250-a', '251 b']), ReplyProtocolError);
  const r = new ReplyReader();
  r.push('garbage\r\n');
  await assert.rejects(r.next(), ReplyProtocolError);
});

void test('a line is read by its octets: code, separator, CR LF split across chunks', async () => {
  assert.throws(() => parseReplyLines(['2500 no separator']), ReplyProtocolError);
  assert.throws(() => parseReplyLines(['650 no such class']), ReplyProtocolError);
  assert.throws(() => parseReplyLines(['25']), ReplyProtocolError);
  assert.deepEqual(parseReplyLines(['250 ']), { code: 250, lines: [''] });
  assert.deepEqual(parseReplyLines(['451 4.03.1 padded']), { code: 451, status: '4.3.1', lines: ['padded'] });
  const r = new ReplyReader();
  const waiting = r.next();
  r.push('250-2.0.0 first\r');
  r.push('\n250 2.0.0 last\r\n354 go ahead\r');
  assert.deepEqual(await waiting, { code: 250, status: '2.0.0', lines: ['first', 'last'] });
  assert.equal(r.hasUnread, true);
  r.push('\n');
  assert.deepEqual(await r.next(), { code: 354, lines: ['go ahead'] });
  assert.equal(r.hasUnread, false);
});

void test('end() rejects waiting and later reads', async () => {
  const r = new ReplyReader();
  const p = r.next();
  r.end(new Error('gone'));
  await assert.rejects(p, /gone/);
  await assert.rejects(r.next(), /gone/);
});

function stuff(chunks: string[]): Promise<string> {
  const s = new DotStuffer();
  const out = chunks.map((c) => s.stuff(Buffer.from(c, 'latin1')));
  out.push(s.finish());
  return Promise.resolve(Buffer.concat(out).toString('latin1'));
}

void test('dot-stuffing, CRLF normalization and the terminator', async () => {
  assert.equal(await stuff(['a\r\n.b\r\n..\r\n']), 'a\r\n..b\r\n...\r\n.\r\n');
  assert.equal(await stuff(['.\r\n']), '..\r\n.\r\n');
  assert.equal(await stuff(['no newline']), 'no newline\r\n.\r\n');
  assert.equal(await stuff([]), '.\r\n');
  // bare LF and bare CR become CRLF, so "\n.\n" cannot end the data early (smuggling)
  assert.equal(await stuff(['a\n.\nb\r.\r\n']), 'a\r\n..\r\nb\r\n..\r\n.\r\n');
  // chunk boundaries between CR and LF, and before a leading dot
  assert.equal(await stuff(['x\r', '\n', '.y\r', '\n.', '.\r\n']), 'x\r\n..y\r\n...\r\n.\r\n');
  assert.equal(await stuff(['ends with CR\r']), 'ends with CR\r\n.\r\n');
});
