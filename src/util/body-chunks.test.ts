import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { readWhole } from './body-chunks.js';

void test('readWhole joins every chunk in order into one Buffer (strings as UTF-8), an empty stream as an empty Buffer', async () => {
  const parts = [Buffer.from('Subject: a\r\n'), 'ção\r\n', Buffer.alloc(70_000, 0x61), Buffer.from('\r\nend')];
  const got = await readWhole(Readable.from(parts));
  assert.ok(got.equals(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)))));
  assert.equal((await readWhole(Readable.from([]))).length, 0);
});

void test('readWhole rejects with the stream\'s error, and when the stream is destroyed before its end', async () => {
  const failing = new PassThrough();
  const read = readWhole(failing);
  failing.write('part');
  setImmediate(() => failing.destroy(new Error('EIO: read failed')));
  await assert.rejects(read, /EIO: read failed/);
  const cut = new PassThrough();
  const read2 = readWhole(cut);
  cut.write('part');
  setImmediate(() => cut.destroy());
  await assert.rejects(read2, /closed before its end/);
});
