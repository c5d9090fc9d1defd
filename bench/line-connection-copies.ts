/**
 * Octets Buffer.concat copies while LineConnection gives a 20 MiB literal to a reader with
 * readBytes(64 KiB), as append-stream does, the reader taking its input only after `burst`
 * chunks of 64 KiB have come (a session busy writing, or starved of CPU). A count, not a time:
 * the same on a loaded machine. Usage: node dist/bench/line-connection-copies.js [burst]
 * (issue 14: before, each chunk that came while input was held was joined to it, a copy).
 */
import { Duplex, PassThrough } from 'node:stream';
import { LineConnection } from '../src/server/connection/index.js';

const burst = Number(process.argv[2] ?? 4);
const total = 20 * 1024 * 1024;
let copied = 0;
const concat = Buffer.concat.bind(Buffer);
Buffer.concat = (list: readonly Uint8Array[], n?: number): Buffer<ArrayBuffer> => {
  const b = concat(list, n);
  copied += b.length;
  return b;
};
const input = new PassThrough({ highWaterMark: 1 });
const conn = new LineConnection(Duplex.from({ readable: input, writable: new PassThrough() }));
const chunk = Buffer.alloc(64 * 1024, 0x61);
let sent = 0;
let read = 0;
while (read < total) {
  for (let i = 0; i < burst && sent < total; i++, sent += chunk.length) input.write(Buffer.from(chunk));
  await new Promise((r) => setImmediate(r));
  while (conn.buffered > 0 && read < total) {
    const b = await conn.readBytes(Math.min(64 * 1024, total - read), 1000);
    if (typeof b === 'symbol') throw new Error(String(b.description));
    read += b.length;
  }
}
console.log(`burst ${burst}: ${(copied / 1048576).toFixed(1)} MiB copied by Buffer.concat reading ${total / 1048576} MiB`);
process.exit(0);
