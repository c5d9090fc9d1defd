/**
 * The process site helper (site.ts startSiteProcess): restart() stops and reaps the running
 * `correio serve` (and with it its SMTP acceptor processes) before it starts the next one, and
 * destroy() stops the restarted one; a port taken before serve binds it starts it over with fresh
 * ports (bounded), a fixed one fails at once. Real processes, checked by PID.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort, LineClient } from './net.js';
import { childrenOf, startSiteProcess } from './site.js';

/** Whether a process with this PID exists (a zombie counts: it is not reaped yet). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ESRCH');
    return false;
  }
}

void test('restart() stops and reaps the running serve and its acceptors; destroy() stops the restarted one', async () => {
  // the default [smtp] processes on 2 cores or more: the server and one acceptor child
  const site = await startSiteProcess({ domains: ['example.org'], smtp: { processes: 2 } });
  try {
    const first = site.child!.pid!;
    const acceptors = childrenOf(first);
    assert.ok(acceptors.length >= 1, `an acceptor process under ${first}`);
    await site.restart();
    const second = site.child!.pid!;
    assert.notEqual(second, first);
    assert.equal(exists(first), false, `the first serve (${first}) is gone and reaped`);
    for (const pid of acceptors) assert.equal(exists(pid), false, `its acceptor (${pid}) is gone`);
    // the new one holds the lock and answers (an old one beside it made the new one exit 75)
    const c = await LineClient.connect(site.port, site.host);
    assert.match((await c.readReply()) ?? '', /^220 /);
    c.close();
    assert.equal(site.child!.exitCode, null, 'the restarted serve is running');
    await site.destroy();
    assert.equal(exists(second), false, `the restarted serve (${second}) is gone after destroy()`);
  } finally {
    await site.destroy();
  }
});

void test('a port taken before serve binds it (exit 69, "already in use"): started over with fresh ports, a bounded number of times', async () => {
  // a "parallel test" holds a port freePort had handed out: the first config lists it
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
  const taken = (holder.address() as net.AddressInfo).port;
  const given: number[] = [];
  const site = await startSiteProcess({
    domains: ['example.org'],
    tables: async () => {
      given.push(given.length === 0 ? taken : await freePort());
      return `[imap]\nlisten = ["127.0.0.1:${given.at(-1)}"]\n`;
    },
  });
  try {
    assert.equal(given.length, 2, `started over once: ${given.join(', ')}`);
    const c = await LineClient.connect(given[1], '127.0.0.1');
    assert.match((await c.readReply()) ?? '', /^\* OK/, 'IMAP on the fresh port');
    c.close();
  } finally {
    await site.destroy();
  }
  // a fixed port (opts.port, tables a string) is not retried: the refusal comes at once
  await assert.rejects(
    startSiteProcess({ domains: ['example.org'], port: taken }),
    (err: Error) => /exited 69: .*smtp\.listen: 127\.0\.0\.1:\d+ is already in use/.test(err.message),
  );
  await new Promise((r) => holder.close(r));
});
