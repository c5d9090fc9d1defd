/**
 * The framing layer over a plain Duplex (no socket): lines across chunks, the length limit,
 * endless lines, discarding after STARTTLS, whole-line deadlines, and output backpressure;
 * over a real loopback socket, TCP_NODELAY on the TLS socket after STARTTLS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough, Writable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect as connectTcp, Socket, type AddressInfo } from 'node:net';
import { TLSSocket, createSecureContext, connect as tlsConnect } from 'node:tls';
import { fixturesDir } from '../../../test/helpers/paths.js';
import { CLOSED, LONG, LineConnection, TIMEOUT, type LineResult } from './index.js';

function pair(output: Writable = new PassThrough()): { conn: LineConnection; input: PassThrough } {
  const input = new PassThrough();
  return { conn: new LineConnection(Duplex.from({ readable: input, writable: output })), input };
}

const show = (r: LineResult): string => (typeof r === 'symbol' ? String(r.description) : r.toString('latin1'));

void test('lines end with CRLF or a bare LF, across chunks; the end of input is CLOSED', async () => {
  const { conn, input } = pair();
  input.write('STAT\r\nLI');
  assert.equal(show(await conn.readLine(255, 1000)), 'STAT');
  const next = conn.readLine(255, 1000);
  input.write('ST\r');
  input.write('\nNOOP\nQUIT\r\n');
  assert.equal(show(await next), 'LIST');
  assert.equal(show(await conn.readLine(255, 1000)), 'NOOP');
  assert.equal(show(await conn.readLine(255, 1000)), 'QUIT');
  input.end();
  assert.equal(await conn.readLine(255, 1000), CLOSED);
});

void test('the limit counts the CRLF (255 per RFC 2449 §4); an endless line is LONG once, never held whole', async () => {
  const { conn, input } = pair();
  const ok = 'A'.repeat(253);
  input.write(`${ok}\r\n${ok}A\r\nNOOP\r\n`);
  assert.equal(show(await conn.readLine(255, 1000)), ok);
  assert.equal(await conn.readLine(255, 1000), LONG);
  assert.equal(show(await conn.readLine(255, 1000)), 'NOOP');
  const r = conn.readLine(255, 5000);
  for (let i = 0; i < 100; i++) {
    input.write(Buffer.alloc(1000, 0x41));
    await new Promise((res) => setImmediate(res));
    assert.ok(conn.buffered <= 255 + 1000, `buffered ${conn.buffered}`);
  }
  input.write('AAA\r\nQUIT\r\n');
  assert.equal(await r, LONG);
  assert.equal(show(await conn.readLine(255, 1000)), 'QUIT');
});

void test('chunks that come while nothing reads are kept as they came, not joined: take() gives each, the same Buffer; a line across them is still read (issue 14)', async () => {
  const { conn, input } = pair();
  const chunks = [Buffer.from('a\r\nfirst'), Buffer.from('second'), Buffer.from('third\r\nb')];
  for (const c of chunks) {
    input.write(c);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(conn.buffered, chunks.reduce((n, c) => n + c.length, 0));
  const taken: Buffer[] = [];
  while (conn.buffered > 0) taken.push(conn.take());
  // joined on each arrival, the third chunk came as a copy of all three (garbage growing with what was held)
  assert.equal(taken.length, 3);
  taken.forEach((b, i) => assert.equal(b, chunks[i]));
  conn.unshift(taken[0].subarray(3));
  conn.unshift(Buffer.from('x'));
  for (const c of chunks.slice(1)) {
    input.write(c);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(show(await conn.readLine(255, 1000)), 'xfirstsecondthird');
  assert.equal(conn.take().toString(), 'b');
  assert.equal(conn.buffered, 0);
});

void test('discard drops buffered input (STARTTLS/STLS injection)', async () => {
  const { conn, input } = pair();
  input.write('USER evil\r\nPASS x');
  await new Promise((res) => setImmediate(res));
  conn.discard();
  input.write('CAPA\r\n');
  assert.equal(show(await conn.readLine(255, 1000)), 'CAPA');
});

void test('a line trickled one octet at a time times out as a whole (issue 12 item 5)', async () => {
  const { conn, input } = pair();
  const r = conn.readLine(255, 300);
  let sent = 0;
  let result: LineResult | undefined;
  void r.then((x) => (result = x));
  // 100 octets at one per 20 ms would take 2 s; every octet used to restart the timer
  for (; sent < 100 && result === undefined; sent++) {
    input.write('x');
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.equal(await r, TIMEOUT);
  assert.ok(sent < 100);
});

void test('replies the peer does not read stop the reading of further lines (issue 12 item 2)', async () => {
  // an output that takes nothing: everything written stays in the stream's buffer
  const stuck = new Writable({ highWaterMark: 1024, write: () => undefined });
  const { conn, input } = pair(stuck);
  input.write('EHLO a\r\n'.repeat(10_000));
  let handled = 0;
  for (;;) {
    const line = await conn.readLine(512, 200);
    if (line === TIMEOUT) break;
    assert.ok(Buffer.isBuffer(line));
    handled++;
    conn.queue(`250-${'x'.repeat(200)}\r\n`);
    if (handled > 10_000) break;
  }
  // 64 KB of unsent replies is ~300 of them: then no more lines are read
  assert.ok(handled < 1000, `${handled} lines answered with nobody reading`);
  assert.ok(stuck.writableLength < 200 * 1024, `${stuck.writableLength} octets unsent`);
});

void test('after STARTTLS the TLS socket has TCP_NODELAY too, so a reply is not held for the client\'s delayed ACK', async () => {
  // issue 15: submission (STARTTLS + AUTH) was suspected of waiting per message on Nagle
  const proto = Socket.prototype;
  const noDelay = new WeakMap<Socket, boolean>();
  // the original is called with the socket as `this`, so unbinding it is safe
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const origNoDelay = proto.setNoDelay;
  proto.setNoDelay = function (this: Socket, on?: boolean) {
    noDelay.set(this, on !== false);
    return origNoDelay.call(this, on);
  };
  const server = createServer();
  try {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<Socket>((r) => server.once('connection', r));
    const { port } = server.address() as AddressInfo;
    const raw = connectTcp({ host: '127.0.0.1', port });
    const conn = new LineConnection(await accepted);
    const ctx = createSecureContext({ key: readFileSync(join(fixturesDir, 'tls', 'localhost.key')), cert: readFileSync(join(fixturesDir, 'tls', 'localhost.crt')) });
    const upgraded = conn.upgradeTls(ctx, 10_000);
    const client = tlsConnect({ socket: raw, rejectUnauthorized: false });
    assert.ok(await upgraded, 'the handshake completed');
    const tlsSocket = (conn as unknown as { stream: Socket }).stream;
    assert.ok(tlsSocket instanceof TLSSocket);
    assert.equal(noDelay.get(tlsSocket), true);
    // and a reply still reaches the client through it
    const got = new Promise<string>((r) => client.once('data', (d: Buffer) => r(d.toString('latin1'))));
    conn.queue('250 2.0.0 Ok\r\n');
    conn.flush();
    assert.equal(await got, '250 2.0.0 Ok\r\n');
    client.destroy();
  } finally {
    proto.setNoDelay = origNoDelay;
    server.close();
  }
});

void test('readSome gives the held chunks as views, at most `max` octets, the rest kept for the next read; TIMEOUT, then CLOSED at the end', async () => {
  const { conn, input } = pair();
  const chunks = [Buffer.from('a APPEND x {10}\r\n0123'), Buffer.from('456789b NOOP\r\n')];
  input.write(chunks[0]);
  await new Promise((r) => setImmediate(r));
  assert.equal(show(await conn.readLine(255, 1000)), 'a APPEND x {10}');
  const first = await conn.readSome(10, 1000);
  assert.ok(Buffer.isBuffer(first) && first.buffer === chunks[0].buffer, 'a view of the chunk, not a copy');
  assert.equal(first.toString(), '0123');
  const later = conn.readSome(6, 1000);
  input.write(chunks[1]);
  const second = await later;
  assert.ok(Buffer.isBuffer(second) && second.buffer === chunks[1].buffer);
  assert.equal(second.toString(), '456789');
  assert.equal(show(await conn.readLine(255, 1000)), 'b NOOP');
  assert.equal(await conn.readSome(10, 50), TIMEOUT);
  input.end();
  assert.equal(await conn.readSome(10, 1000), CLOSED);
});
