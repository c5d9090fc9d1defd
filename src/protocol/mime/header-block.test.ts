import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  findHeader,
  findHeaderEnd,
  foldHeader,
  headerBlockOf,
  parseHeaderFields,
  splitMessage,
  splitMessageBuffer,
  unfold,
} from './header-block.js';

async function text(r: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** a stream that yields the string in pieces of `size` bytes, to cross every chunk edge */
function chunked(s: string, size: number): Readable {
  const buf = Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

const message =
  'Received: from a (b [192.0.2.1])\r\n\tby c with ESMTP id 1;\r\n Tue, 1 Jul 2003 10:52:37 +0200\r\n' +
  'Subject: hello\r\n  world\r\n' +
  'X-Empty:\r\n' +
  'To: jacques@dc.uece.br\r\n' +
  '\r\n' +
  'Body line 1\r\n\r\nBody: not a header\r\n';

void test('parseHeaderFields unfolds and keeps order (RFC 5322 §2.2.3)', () => {
  const head = message.slice(0, message.indexOf('\r\n\r\n') + 2);
  const fields = parseHeaderFields(head);
  assert.deepEqual(
    fields.map((f) => f.name),
    ['Received', 'Subject', 'X-Empty', 'To'],
  );
  assert.equal(fields[0].value, 'from a (b [192.0.2.1])\tby c with ESMTP id 1; Tue, 1 Jul 2003 10:52:37 +0200');
  assert.equal(findHeader(fields, 'subject'), 'hello  world');
  assert.equal(findHeader(fields, 'x-empty'), '');
  assert.equal(findHeader(fields, 'cc'), undefined);
});

void test('parseHeaderFields reports lines that are not fields', () => {
  const invalid: string[] = [];
  const fields = parseHeaderFields('Good: 1\r\nno colon here\r\nBad Name: 2\r\n: empty\r\n', invalid);
  assert.deepEqual(fields, [{ name: 'Good', value: '1' }]);
  assert.deepEqual(invalid, ['no colon here', 'Bad Name: 2', ': empty']);
});

void test('unfold removes only CRLF before whitespace', () => {
  assert.equal(unfold('a\r\n b\r\nc'), 'a b\r\nc');
});

void test('findHeaderEnd: CRLF, LF, and a message that starts with an empty line', () => {
  assert.deepEqual(findHeaderEnd(Buffer.from('A: 1\r\n\r\nbody')), { headerEnd: 6, bodyStart: 8 });
  assert.deepEqual(findHeaderEnd(Buffer.from('A: 1\n\nbody')), { headerEnd: 5, bodyStart: 6 });
  assert.deepEqual(findHeaderEnd(Buffer.from('\r\nbody')), { headerEnd: 0, bodyStart: 2 });
  assert.deepEqual(findHeaderEnd(Buffer.from('A: 1\r\nB: 2\r\n')), { headerEnd: -1, bodyStart: -1 });
});

for (const size of [1, 2, 3, 7, 1000]) {
  void test(`splitMessage splits header and body across chunk edges (chunks of ${size})`, async () => {
    const split = await splitMessage(chunked(message, size));
    assert.equal(split.complete, true);
    assert.equal(split.hasBody, true);
    assert.equal(split.header.toString(), message.slice(0, message.indexOf('\r\n\r\n') + 2));
    assert.equal(findHeader(split.fields, 'to'), 'jacques@dc.uece.br');
    assert.equal(await text(split.body), 'Body line 1\r\n\r\nBody: not a header\r\n');
  });

  void test(`headerBlockOf yields exactly the header block (chunks of ${size})`, async () => {
    assert.equal(await text(headerBlockOf(chunked(message, size))), message.slice(0, message.indexOf('\r\n\r\n') + 2));
  });
}

void test('splitMessage: a message without a body, and one with an empty header block', async () => {
  const noBody = await splitMessage(Readable.from([Buffer.from('A: 1\r\nB: 2\r\n')]));
  assert.equal(noBody.hasBody, false);
  assert.equal(noBody.fields.length, 2);
  assert.equal(await text(noBody.body), '');
  const noHead = await splitMessage(Readable.from([Buffer.from('\r\njust body\r\n')]));
  assert.equal(noHead.fields.length, 0);
  assert.equal(await text(noHead.body), 'just body\r\n');
});

void test('splitMessage stops at the cap on a whole line and passes the rest on untouched', async () => {
  const long = 'A: ' + 'x'.repeat(50) + '\r\n';
  const msg = long.repeat(100) + '\r\nbody\r\n';
  const split = await splitMessage(chunked(msg, 64), { maxHeaderBytes: 1000 });
  assert.equal(split.complete, false);
  assert.equal(split.header.length % long.length, 0);
  assert.ok(split.header.length <= 1000);
  assert.equal(split.header.toString() + (await text(split.body)), msg);
});

void test('headerBlockOf caps at a line end and releases the source', async () => {
  const long = 'A: ' + 'x'.repeat(50) + '\r\n';
  const source = chunked(long.repeat(100) + '\r\nbody\r\n', 64);
  const out = await text(headerBlockOf(source, { maxHeaderBytes: 1000 }));
  assert.equal(out, long.repeat(Math.floor(1000 / long.length)));
  assert.equal(source.destroyed, true);
});

void test('splitMessage: destroying the body destroys the source', async () => {
  const source = chunked(message + 'x'.repeat(10000), 100);
  const split = await splitMessage(source);
  split.body.destroy();
  await new Promise((r) => setImmediate(r));
  assert.equal(source.destroyed, true);
});

void test('foldHeader folds at whitespace to 78 octets and unfolds back to the value', () => {
  const value = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
  const folded = foldHeader('Subject', value);
  for (const line of folded.split('\r\n')) assert.ok(Buffer.byteLength(line) <= 78, line);
  assert.ok(folded.split('\r\n').length > 1);
  assert.equal(unfold(folded), `Subject: ${value}`);
});

void test('foldHeader leaves short values alone and never makes whitespace-only lines', () => {
  assert.equal(foldHeader('To', '<a@b>'), 'To: <a@b>');
  const folded = foldHeader('X', `${'a'.repeat(70)}      ${'b'.repeat(70)}`);
  for (const line of folded.split('\r\n')) assert.match(line, /[^ \t]/);
  assert.equal(unfold(folded), `X: ${'a'.repeat(70)}      ${'b'.repeat(70)}`);
});

void test('foldHeader cuts a word over 998 octets (RFC 5322 §2.1.1) without splitting UTF-8', () => {
  const word = 'é'.repeat(1500); // 3000 octets
  const folded = foldHeader('X', word);
  const lines = folded.split('\r\n');
  assert.ok(lines.length >= 4);
  for (const line of lines) {
    assert.ok(Buffer.byteLength(line) <= 998);
    assert.ok(!line.includes('\ufffd'));
  }
  assert.equal(unfold(folded).replace(/ /g, ''), `X:${word}`);
});

void test('headerBlockOf: an empty header block gives nothing, a body-less message gives all', async () => {
  assert.equal(await text(headerBlockOf(chunked('\r\nbody\r\n', 1))), '');
  assert.equal(await text(headerBlockOf(chunked('A: 1\r\nB: 2\r\n', 1))), 'A: 1\r\nB: 2\r\n');
  assert.equal(await text(headerBlockOf(chunked('A: 1\n\nbody\n', 1))), 'A: 1\n');
});

void test('splitMessageBuffer splits a message in memory as splitMessage splits it in one chunk', async () => {
  const long = 'A: ' + 'x'.repeat(50) + '\r\n';
  const cases: [string, number | undefined][] = [
    [message, undefined],
    ['A: 1\r\nB: 2\r\n', undefined], // no body, no empty line
    ['\r\njust body\r\n', undefined], // empty header block
    ['A: 1\nB:\n two\n\nbody\n', undefined], // LF line ends, a folded field
    ['', undefined],
    [long.repeat(100) + '\r\nbody\r\n', 1000], // header end past the cap, in the same chunk
    [long.repeat(100), 1000], // no empty line, longer than the cap
    [long.repeat(10), 1000], // no empty line, shorter than the cap
  ];
  for (const [text_, cap] of cases) {
    const buf = Buffer.from(text_);
    const opts = cap === undefined ? {} : { maxHeaderBytes: cap };
    const inMemory = splitMessageBuffer(buf, opts);
    const streamed = await splitMessage(Readable.from([buf]), opts);
    const label = JSON.stringify(text_.slice(0, 40));
    assert.equal(inMemory.header.toString(), streamed.header.toString(), label);
    assert.deepEqual(inMemory.fields, streamed.fields, label);
    assert.equal(inMemory.complete, streamed.complete, label);
    assert.equal(inMemory.hasBody, streamed.hasBody, label);
    assert.equal(inMemory.body.toString(), await text(streamed.body), label);
    // nothing is lost between the two parts but the empty line
    const between = buf.subarray(inMemory.header.length, buf.length - inMemory.body.length).toString();
    assert.ok(['', '\n', '\r\n'].includes(between), label);
    assert.equal(between !== '', inMemory.hasBody && inMemory.complete, label);
  }
  const capped = splitMessageBuffer(Buffer.from(long.repeat(100)), { maxHeaderBytes: 1000 });
  assert.equal(capped.complete, false);
  assert.ok(capped.header.length <= 1000 && capped.header.length % long.length === 0);
});
