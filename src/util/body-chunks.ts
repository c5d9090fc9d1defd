/**
 * @module body-chunks
 * How the SMTP client (body-writer.ts writeBody) and the local transport (maildir-transport.ts)
 * read a message body: chunk by chunk with read(), waiting for 'readable' only when nothing is
 * buffered, instead of an async iterator over the stream. A body the spool holds in memory (one Buffer in a Readable) is then read with no
 * wait at all; an async iterator made a promise, a next() and the iterator's own stream
 * listeners for each message (a microbenchmark of a 5 KB body: ~40 µs against ~10).
 * Standards: none.
 * Security: none beyond the caller's (the body is the spool's).
 * readWhole reads a whole message the same way into one Buffer, where stream/consumers'
 * buffer() made a Blob of the chunks (a copy, and the copy's ArrayBuffer detached: V8 then
 * deoptimizes every optimized function that touches a typed array, and compiles them again
 * with checks for detached buffers from then on) and read it back (another copy, a promise per
 * piece).
 * Limitations: a stream destroyed before its end (no 'end') rejects, as the iterator did.
 */
import type { Readable } from 'node:stream';

/** The next chunk of `body`; null after its last. Rejects with the stream's error. */
export async function nextChunk(body: Readable): Promise<Buffer | string | null> {
  for (;;) {
    const chunk = body.read() as Buffer | string | null;
    if (chunk !== null) return chunk;
    if (body.errored) throw body.errored;
    if (body.readableEnded) return null;
    if (body.destroyed) throw new Error('the message stream closed before its end');
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        off();
        resolve();
      };
      const failed = (err: Error): void => {
        off();
        reject(err);
      };
      const off = (): void => {
        body.off('readable', done);
        body.off('end', done);
        body.off('close', done);
        body.off('error', failed);
      };
      body.on('readable', done);
      body.on('end', done);
      body.on('close', done);
      body.on('error', failed);
    });
  }
}

/** All of `body` in one Buffer (its chunks copied once). Rejects with the stream's error. */
export async function readWhole(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for (let c = await nextChunk(body); c !== null; c = await nextChunk(body)) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    chunks.push(b);
    size += b.length;
  }
  return Buffer.concat(chunks, size);
}
