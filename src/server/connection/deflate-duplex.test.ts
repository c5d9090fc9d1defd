import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Duplex, PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInflateRaw } from 'node:zlib';
import { DeflateDuplex } from './deflate-duplex.js';

test('a compressed write completes only once the stream under it can take more (a client that stops reading holds the session back)', async () => {
  // the socket of a client that reads nothing (what it would read: `sent`): it fills at 1 KB
  const sent = new PassThrough({ highWaterMark: 1024 });
  sent.pause();
  const raw = new Duplex({
    highWaterMark: 1024,
    read() {},
    write(chunk: Buffer, _enc, cb) {
      if (sent.write(chunk)) cb();
      else sent.once('drain', () => cb());
    },
  });
  const d = new DeflateDuplex(raw, Buffer.alloc(0));
  const chunks = Array.from({ length: 8 }, () => randomBytes(64 * 1024));
  let done = 0;
  for (const c of chunks) d.write(c, () => done++);
  // time enough to compress them all: none but the first may complete while nothing is read
  await sleep(300);
  assert.ok(done <= 1, `${done} writes completed with the client reading nothing`);
  // the client reads: every write completes, and what it read inflates to what was written
  const inflate = createInflateRaw();
  const got: Buffer[] = [];
  inflate.on('data', (b: Buffer) => got.push(b));
  sent.on('data', (b: Buffer) => inflate.write(b));
  sent.resume();
  for (let i = 0; i < 600 && done < chunks.length; i++) await sleep(50);
  assert.equal(done, chunks.length);
  await sleep(50);
  assert.ok(Buffer.concat(got).equals(Buffer.concat(chunks)));
  d.destroy();
});
