/**
 * @module file-sink
 * A Writable over an open FileHandle that never closes it, so the owner can fsync before closing
 * (fs.WriteStream with autoClose:false never reports its end to stream.finished/pipeline).
 * Standards: none. Security: none.
 * Limitations: the caller closes the handle; chunks are written in order with writev(2).
 */
import { Writable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';

/** Writes every buffer, looping over short writes. Returns the bytes written. */
export async function writeAll(fh: FileHandle, chunks: readonly Buffer[]): Promise<number> {
  let total = 0;
  for (const c of chunks) total += c.length;
  const done = (await fh.writev([...chunks])).bytesWritten;
  if (done < total) {
    const rest = Buffer.concat([...chunks]).subarray(done);
    let off = 0;
    while (off < rest.length) off += (await fh.write(rest, off)).bytesWritten;
  }
  return total;
}

export interface FileSinkOptions {
  highWaterMark?: number;
  /** called with the byte count after each successful write */
  onWritten?: (bytes: number) => void;
  /** turns a write error into the error the stream emits */
  mapError?: (err: unknown) => Error;
}

/** A Writable that writes to `fh` and leaves it open. */
export function fileSink(fh: FileHandle, opts: FileSinkOptions = {}): Writable {
  return new Writable({
    highWaterMark: opts.highWaterMark ?? 64 * 1024,
    writev(chunks, cb) {
      const bufs = chunks.map((c) => (Buffer.isBuffer(c.chunk) ? c.chunk : Buffer.from(c.chunk as string, c.encoding)));
      writeAll(fh, bufs).then(
        (n) => {
          opts.onWritten?.(n);
          cb();
        },
        (err: unknown) => cb(opts.mapError ? opts.mapError(err) : (err as Error)),
      );
    },
  });
}
