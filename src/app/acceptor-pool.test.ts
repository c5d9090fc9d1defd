/**
 * AcceptorPool's start over a real acceptor process (forked from dist) and real sockets: a
 * port that another program took between the server's bind and the acceptor's listen fails
 * the start with the OS condition under it (EADDRINUSE, the host and port), which serve turns
 * into the line and exit status of a bind that failed (os-errors.test.ts). The window is real:
 * Linux lets two sockets with SO_REUSEADDR (libuv sets it on every TCP bind) bind one port
 * while neither listens; the first to listen has it. Tests that pick a free port and hand it
 * to `correio serve` met it (a serve of another test listened first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../config/index.js';
import { bindShared, handleAddress } from '../server/connection/index.js';
import { AcceptorPool, AcceptorStartError } from './acceptor-pool.js';

void test('an acceptor whose listen finds the port taken since the bind fails the start with EADDRINUSE, the host and the port', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'correio-pool-'));
  const lines: string[] = [];
  const logger = pino({ base: undefined }, { write: (l: string) => void lines.push(l) });
  const ours = await bindShared({ host: '127.0.0.1', port: 0 });
  const port = handleAddress(ours)?.port ?? 0;
  // another program binds the same port (allowed: ours does not listen yet) and listens first
  const theirs = net.createServer();
  await new Promise<void>((resolve, reject) => {
    theirs.once('error', reject);
    theirs.listen(port, '127.0.0.1', resolve);
  });
  const config = parseConfig(`hostname = "mx.test"\ndata_dir = ${JSON.stringify(dir)}\n[smtp]\nprocesses = 2\n`, { file: join(dir, 'correio.toml'), baseDir: dir });
  let rescans = 0;
  const pool = new AcceptorPool({
    count: 2,
    config: () => config,
    // no message comes: the acceptor never accepts
    store: { refresh: () => Promise.reject(new Error('not expected')), adopt: () => undefined, findMessageEnvelopes: () => [] } as unknown as ConstructorParameters<typeof AcceptorPool>[0]['store'],
    runner: { enqueue: () => undefined, rescan: () => Promise.resolve(void rescans++) },
    listeners: () => [{ handle: ours, mode: 'mx', local: false }],
    onAuthFailure: () => undefined,
    logger,
  });
  try {
    const err = await pool.start().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof AcceptorStartError, `the start failed: ${String(err)}`);
    assert.match(err.message, /^the SMTP acceptor process \(pid \d+\) ended before it accepted a connection: listen EADDRINUSE: address already in use/);
    assert.deepEqual(err.cause && { ...err.cause }, { code: 'EADDRINUSE', syscall: 'listen', address: '127.0.0.1', port });
    assert.equal(rescans, 1, 'the spool is rescanned after the acceptor ended');
    assert.ok(lines.some((l) => /acceptor process ended before it accepted a connection \(listen EADDRINUSE/.test(l)), lines.join(''));
    // the other program's port is left as it was
    assert.equal(theirs.listening, true);
  } finally {
    await pool.stop();
    ours.close();
    await new Promise((resolve) => theirs.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});
