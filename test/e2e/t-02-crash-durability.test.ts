/**
 * t-02: a message answered 250 survives kill -9. Clients send under concurrent load; right after
 * the server has said 250 for N messages it is killed with SIGKILL, restarted, and every one of
 * the N must be in the mailbox exactly once (messages in flight at the kill may or may not
 * arrive, but never twice).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineClient } from '../helpers/net.js';
import { startSiteProcess } from '../helpers/site.js';

const N = 60;
const CLIENTS = 8;

test('kill -9 right after N acknowledgements: all N delivered after restart, none twice', async () => {
  const site = await startSiteProcess({ domains: ['localhost'], users: ['u@localhost'] });
  try {
    const acked = new Set<string>();
    let next = 0;
    let killed = false;
    let killing: Promise<void> | undefined;

    async function client(): Promise<void> {
      let c: LineClient | undefined;
      try {
        c = await site.connect();
        if (!(await c.readReply())?.startsWith('220')) return;
        if (!(await c.command('EHLO load.test'))?.startsWith('250')) return;
        while (!killed) {
          const id = `m${next++}`;
          c.write(`MAIL FROM:<load@test.example>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n`);
          if (!(await c.readReply())?.startsWith('250')) return;
          if (!(await c.readReply())?.startsWith('250')) return;
          if (!(await c.readReply())?.startsWith('354')) return;
          c.write(`Subject: crash ${id}\r\nX-Test-Id: ${id}\r\n\r\n${'body line\r\n'.repeat(50)}.\r\n`);
          const r = await c.readReply();
          if (!r?.startsWith('250')) return;
          acked.add(id);
          if (acked.size >= N && !killed) {
            killed = true;
            killing = site.kill9();
          }
        }
      } catch {
        // the kill cuts connections: expected
      } finally {
        c?.close();
      }
    }
    await Promise.all(Array.from({ length: CLIENTS }, () => client()));
    await killing;
    assert.ok(acked.size >= N, `only ${acked.size} acknowledged`);

    await site.restart();
    const deadline = Date.now() + 60000;
    let counts = new Map<string, number>();
    let stableSince = Date.now();
    let lastTotal = -1;
    for (;;) {
      counts = new Map();
      for (const m of await site.messages('u@localhost')) {
        const id = /^X-Test-Id: (\S+)$/m.exec(m)?.[1] ?? '?';
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      if (total !== lastTotal) {
        lastTotal = total;
        stableSince = Date.now();
      }
      const allThere = [...acked].every((id) => counts.has(id));
      if (allThere && Date.now() - stableSince > 1500) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const missing = [...acked].filter((id) => !counts.has(id));
    assert.deepEqual(missing, [], 'acknowledged messages lost');
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(twice, [], 'messages delivered twice');
  } finally {
    await site.destroy();
  }
});
