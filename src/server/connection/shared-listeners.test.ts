/**
 * A socket bound here and accepted on by another process (issue 19, `[smtp] processes`): over
 * TCP and a UNIX socket, connections are refused before anyone listens, accepted by the child
 * that was sent the handle, and wait in the backlog while no process accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindShared, handleAddress, type ListenHandle } from './index.js';

// the child: accepts on the handle it is sent, answers each connection with its pid, stops on 'stop'
const child = `
const net = require('node:net');
let server;
process.on('message', (m, handle) => {
  if (m === 'listen') {
    server = net.createServer((s) => s.end(String(process.pid))).listen(handle, () => process.send('listening'));
  } else if (m === 'stop') server.close(() => process.exit(0));
});
`;

function hello(where: net.NetConnectOpts): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = net.connect(where);
    s.setEncoding('latin1');
    s.on('data', (d: string) => (got += d));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

async function acceptor(script: string, handle: ListenHandle): Promise<{ pid: number; stop(): Promise<void> }> {
  const c = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve) => c.once('spawn', () => resolve()));
  const listening = new Promise<void>((resolve) => c.once('message', () => resolve()));
  c.send('listen', handle as unknown as net.Server);
  await listening;
  return {
    pid: c.pid!,
    stop: () => new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.send('stop');
    }),
  };
}

for (const kind of ['tcp', 'unix'] as const) {
  void test(`bindShared (${kind}): refused until a process listens; accepted by the child; waits in the backlog between children`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'correio-shared-'));
    const script = join(dir, 'child.cjs');
    await writeFile(script, child);
    const path = join(dir, 's.sock');
    const handle = await bindShared(kind === 'tcp' ? { host: '127.0.0.1', port: 0 } : { host: 'unix', port: 0, path }, 0o600);
    try {
      const where: net.NetConnectOpts = kind === 'tcp' ? { host: '127.0.0.1', port: handleAddress(handle)!.port } : { path };
      if (kind === 'unix') assert.equal((await stat(path)).mode & 0o777, 0o600, 'the socket file has its mode');
      else assert.notEqual(handleAddress(handle)!.port, 0, 'port 0 resolved');
      await assert.rejects(hello(where), /ECONNREFUSED/, 'bound, not listening');
      const first = await acceptor(script, handle);
      assert.equal(await hello(where), String(first.pid));
      await first.stop();
      // listening still (the handle is open here): a connection waits until the next child accepts
      const waiting = hello(where);
      const second = await acceptor(script, handle);
      assert.equal(await waiting, String(second.pid));
      await second.stop();
    } finally {
      handle.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}
