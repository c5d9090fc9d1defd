/**
 * The MIME tree made from a stream (parseMimeTreeStream, used for FETCH of big messages) is the
 * tree made from the message in memory (parseMimeTree) for every message of
 * `../shared/corpora/messages`, read in chunks of 1, 7 and 4096 octets (so a chunk ends inside
 * every kind of line, delimiter and CRLF): the same offsets and header fields, header octets
 * equal to the message's, and BODYSTRUCTURE encoded the same (its line counts come from the
 * pass, not from the body).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { bodyStructure, encodeValueBuffer, parseMimeTree, parseMimeTreeStream, type MimePart } from '../../src/protocol/imap/index.js';
import { corpusMessageFiles } from '../helpers/corpus-messages.js';

async function* chunks(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

function same(buf: Buffer, a: MimePart, b: MimePart, where: string): void {
  assert.equal(b.headerStart, a.headerStart, `${where} headerStart`);
  assert.equal(b.bodyStart, a.bodyStart, `${where} bodyStart`);
  assert.equal(b.end, a.end, `${where} end`);
  assert.deepEqual(b.fields, a.fields, `${where} fields`);
  assert.ok(b.header?.equals(buf.subarray(a.headerStart, a.bodyStart)), `${where} header octets`);
  assert.equal(a.children?.length, b.children?.length, `${where} parts`);
  for (const [i, c] of (a.children ?? []).entries()) same(buf, c, b.children![i], `${where}.${i + 1}`);
  assert.equal(a.message === undefined, b.message === undefined, `${where} message`);
  if (a.message) same(buf, a.message, b.message!, `${where}.message`);
}

void test('the streamed MIME tree of every corpus message is the in-memory one, whatever the chunk size', async () => {
  const files = await corpusMessageFiles();
  assert.ok(files.length > 50, `corpus found (${files.length} messages)`);
  const extra = [
    // no line end at all, a last line without one, an empty message, an unclosed multipart
    Buffer.from('Subject: x'),
    Buffer.from('Subject: x\r\n\r\nbody without end'),
    Buffer.alloc(0),
    Buffer.from('Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\nContent-Type: text/plain\r\n\r\ntwo\n--'),
  ];
  const messages = [...(await Promise.all(files.map((f) => readFile(f)))), ...extra];
  for (const [n, buf] of messages.entries()) {
    const whole = parseMimeTree(buf);
    const expected = encodeValueBuffer(bodyStructure(buf, whole, true));
    for (const size of [1, 7, 4096]) {
      if (size === 1 && buf.length > 200_000) continue;
      const where = `${files[n] ?? `extra ${n - files.length}`} in ${size}-octet chunks`;
      const streamed = await parseMimeTreeStream(chunks(buf, size));
      same(buf, whole, streamed, where);
      assert.ok(encodeValueBuffer(bodyStructure(undefined, streamed, true)).equals(expected), `${where}: BODYSTRUCTURE`);
    }
  }
});
