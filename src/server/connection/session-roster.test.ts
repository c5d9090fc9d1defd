/**
 * The roster of a POP3/IMAP server over real loopback sockets: connections past the limit from
 * one address, or in total, get the refusal and are closed while other addresses are let in; a
 * closed session gives its slot back; close() ends every session and lets no one in after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { SessionRoster } from './session-roster.js';

/** A session that closes when its socket does, or when ended. */
class FakeSession {
  readonly closed: Promise<void>;
  constructor(readonly socket: net.Socket) {
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }
  end(): void {
    this.socket.end('bye\r\n');
  }
}

async function rosterServer(maxTotal: number, maxPerIp: number) {
  const roster = new SessionRoster<FakeSession>(maxTotal, maxPerIp);
  const server = net.createServer((socket) => {
    const ip = roster.admit(socket, 'full\r\n');
    if (ip === undefined) return;
    roster.add(new FakeSession(socket), ip);
    socket.write('hello\r\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { roster, server, port: (server.address() as net.AddressInfo).port };
}

/** Connects from `from` and gives back the socket and the first line it hears. */
async function connect(port: number, from = '127.0.0.1'): Promise<{ socket: net.Socket; first: string }> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
  socket.setEncoding('utf8');
  let text = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', (d: string) => {
      text += d;
      if (text.includes('\r\n')) resolve();
    });
    socket.once('error', reject);
    socket.once('close', () => resolve());
  });
  return { socket, first: text.split('\r\n')[0] };
}

void test('past maxPerIp one address is refused, another address is let in; a closed session frees its slot', async () => {
  const { roster, server, port } = await rosterServer(10, 2);
  const a = await connect(port);
  const b = await connect(port);
  assert.deepEqual([a.first, b.first], ['hello', 'hello']);
  const c = await connect(port);
  assert.equal(c.first, 'full');
  const other = await connect(port, '127.0.0.2');
  assert.equal(other.first, 'hello');
  assert.equal(roster.size, 3);
  a.socket.destroy();
  const open = (): number => roster.size;
  while (open() !== 2) await new Promise((r) => setImmediate(r));
  const d = await connect(port);
  assert.equal(d.first, 'hello');
  for (const s of [b, c, other, d]) s.socket.destroy();
  await roster.close(() => {});
  server.close();
});

void test('past maxTotal every address is refused', async () => {
  const { roster, server, port } = await rosterServer(1, 5);
  const a = await connect(port);
  assert.equal(a.first, 'hello');
  assert.equal((await connect(port, '127.0.0.3')).first, 'full');
  a.socket.destroy();
  await roster.close(() => {});
  server.close();
});

void test('a connection let in whose session has not started yet holds its slot in the total', async () => {
  // as ImapServer does while its session code loads: admit now, add a turn later
  const roster = new SessionRoster<FakeSession>(1, 5);
  const waiting: (() => void)[] = [];
  const server = net.createServer((socket) => {
    const ip = roster.admit(socket, 'full\r\n');
    if (ip === undefined) return;
    socket.write('hello\r\n');
    waiting.push(() => roster.add(new FakeSession(socket), ip));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const a = await connect(port);
  assert.equal(a.first, 'hello');
  assert.equal((await connect(port, '127.0.0.3')).first, 'full', 'the total counts the session still starting');
  for (const start of waiting.splice(0)) start();
  const open = (): number => roster.size;
  assert.equal(open(), 1);
  a.socket.destroy();
  while (open() !== 0) await new Promise((r) => setImmediate(r));
  const b = await connect(port, '127.0.0.3');
  assert.equal(b.first, 'hello', 'its slot is free once it has closed');
  b.socket.destroy();
  await roster.close((s) => s.socket.destroy());
  server.close();
});

void test('close() ends every session, waits for them, and lets no one in after', async () => {
  const { roster, server, port } = await rosterServer(10, 10);
  const a = await connect(port);
  const b = await connect(port);
  const heard: string[] = [];
  for (const s of [a, b]) s.socket.on('data', (d: string) => heard.push(d));
  let ended = 0;
  await roster.close((s) => {
    ended++;
    s.end();
  });
  assert.equal(ended, 2);
  assert.equal(roster.size, 0);
  assert.equal(roster.closing, true);
  const late = await connect(port);
  assert.equal(late.first, '', 'a connection after close is dropped without a greeting');
  assert.ok(heard.join('').includes('bye'));
  server.close();
});
