/**
 * Octets a POP3 RETR of a 20 MiB message in a PostgreSQL mailbox holds between the store and
 * the socket, with a client that reads slowly (16 KiB, then 2 ms without reading): the most
 * octets read from PostgreSQL (bytea parsed by the pg driver) and not yet taken by the kernel
 * (the socket's write callback), taken at every read and write; with the peak of
 * process.memoryUsage().arrayBuffers and the scavenges and full collections seen (the chunks
 * that outlive two scavenges are promoted and wait for a full one, issue 17: t-96). A count,
 * not a time: the in-flight figure does not depend on the machine's load.
 * Usage: node --max-semi-space-size=1 --expose-gc dist/bench/pop3-retr-in-flight.js (needs PostgreSQL at
 * CORREIO_TEST_PG, as the tests).
 */
import net from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import pg from 'pg';
import { PgMailStore } from '../src/mailbox/index.js';
import { LineConnection } from '../src/server/connection/index.js';
import { transferMessage } from '../src/server/pop3/message-transfer.js';
import { createTestDatabase } from '../test/helpers/pg.js';

const MiB = 1024 * 1024;
const size = 20 * MiB;
let pulled = 0;
const bytea = pg.types.getTypeParser(17);
pg.types.setTypeParser(17, (v: string) => {
  const b = bytea(v) as Buffer;
  pulled += b.length;
  note();
  return b;
});
let given = 0;
let server: net.Socket | undefined;
let peak = 0;
let peakArrayBuffers = 0;
function note(): void {
  if (!server) return;
  peak = Math.max(peak, pulled - given + server.writableLength);
}
const gcs = { minor: 0, major: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === 1) gcs.minor++;
    else gcs.major++;
  }
}).observe({ entryTypes: ['gc'] });

const db = await createTestDatabase();
const store = await PgMailStore.open(db.url);
try {
  const line = Buffer.from(`line ${'z'.repeat(65)}\r\n`);
  const head = Buffer.from('Subject: big\r\n\r\n');
  const pieces = function* (): Generator<Buffer> {
    yield head;
    for (let n = 0; n < size; n += MiB) yield Buffer.alloc(MiB, line);
  };
  const { key } = await store.deliver('big@localhost', Readable.from(pieces(), { objectMode: false }), { uniqueKey: 'big' });
  const length = head.length + size;
  // the message given to the store is garbage now: collected (with --expose-gc) before the baseline
  (globalThis as { gc?: () => void }).gc?.();
  const listener = net.createServer();
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  const port = (listener.address() as net.AddressInfo).port;
  const client = net.connect(port, '127.0.0.1');
  const accepted = await new Promise<net.Socket>((r) => listener.once('connection', r));
  let received = 0;
  const done = new Promise<void>((resolve) => {
    // the slow reader: 16 KiB at a time, 2 ms between reads
    const read = (): void => {
      const b = client.read(Math.min(16 * 1024, client.readableLength)) as Buffer | null;
      if (b) received += b.length;
      if (b?.subarray(-5).toString() === '\r\n.\r\n') return resolve();
      setTimeout(read, 2);
    };
    client.pause();
    client.once('readable', read);
  });
  const sampler = setInterval(() => (peakArrayBuffers = Math.max(peakArrayBuffers, process.memoryUsage().arrayBuffers)), 5);
  const conn = new LineConnection(accepted);
  server = accepted;
  const before = { pulled, arrayBuffers: process.memoryUsage().arrayBuffers, ...gcs };
  await transferMessage(
    {
      open: () => store.open('big@localhost', key),
      send: (r) => conn.queue(`+OK ${r.text}\r\n`),
      write: (data) => {
        given += data.length;
        note();
        return conn.write(data, 60_000);
      },
      closed: () => accepted.destroyed,
      drop: () => accepted.destroy(),
    },
    length,
    undefined,
  );
  await done;
  clearInterval(sampler);
  console.log(
    `RETR ${(length / MiB).toFixed(1)} MiB (${received} octets read): at most ${(peak / 1024).toFixed(0)} KiB read from PostgreSQL and not yet taken by the kernel; ` +
      `arrayBuffers ${(before.arrayBuffers / MiB).toFixed(1)} -> peak ${(peakArrayBuffers / MiB).toFixed(1)} MiB; ${gcs.minor - before.minor} scavenges, ${gcs.major - before.major} full collections`,
  );
  client.destroy();
  accepted.destroy();
  listener.close();
} finally {
  await store.close();
  await db.drop();
}
