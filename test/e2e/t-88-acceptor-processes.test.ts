/**
 * t-88: `[smtp] processes = 2` (issue 19): the server hands every SMTP connection to an
 * acceptor process, which commits to spool segments of its own; the server delivers. kill -9
 * of either process loses no message answered 250 and delivers none twice:
 * - the acceptor, while a client is in the middle of DATA (that message is not delivered; the
 *   server starts another acceptor and mail flows again);
 * - the server (the delivery process) while it delivers: the acceptor finishes its sessions,
 *   the restarted server finds everything in the acceptors' segments.
 * A reload (SIGHUP) replaces the acceptor; mail flows through the new one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { LineClient } from '../helpers/net.js';
import { startSiteProcess, waitFor } from '../helpers/site.js';

type ProcessSite = Awaited<ReturnType<typeof startSiteProcess>>;

/** The pids of `parent`'s children (its acceptor processes), from /proc. */
function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === parent && fields[0] !== 'Z') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Clients sending numbered messages until `stop()` says so; `acked` holds those answered 250. */
function load(site: ProcessSite, clients: number, stop: () => boolean, acked: Set<string>, prefix: string): Promise<void> {
  let next = 0;
  const one = async (): Promise<void> => {
    while (!stop()) {
      let c: LineClient | undefined;
      try {
        c = await site.connect();
        if (!(await c.readReply())?.startsWith('220')) continue;
        if (!(await c.command('EHLO load.test'))?.startsWith('250')) continue;
        while (!stop()) {
          const id = `${prefix}${next++}`;
          c.write('MAIL FROM:<load@test.example>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n');
          if (!(await c.readReply())?.startsWith('250')) break;
          if (!(await c.readReply())?.startsWith('250')) break;
          if (!(await c.readReply())?.startsWith('354')) break;
          c.write(`Subject: ${id}\r\nX-Test-Id: ${id}\r\n\r\n${'body line\r\n'.repeat(50)}.\r\n`);
          if (!(await c.readReply())?.startsWith('250')) break;
          acked.add(id);
        }
      } catch {
        // a kill cuts connections: expected; connect again
      } finally {
        c?.close();
      }
    }
  };
  return Promise.all(Array.from({ length: clients }, () => one())).then(() => undefined);
}

/** Waits until every acked id is in the mailbox and the count has stopped moving; returns the counts. */
async function delivered(site: ProcessSite, acked: Set<string>): Promise<Map<string, number>> {
  let counts = new Map<string, number>();
  let last = -1;
  let since = Date.now();
  const deadline = Date.now() + 60_000;
  for (;;) {
    counts = new Map();
    // the server's own index may move a message from new/ to cur/ while it is read: look again
    const all = await site.messages('u@localhost').catch(() => undefined);
    if (!all) continue;
    for (const m of all) {
      const id = /^X-Test-Id: (\S+)$/m.exec(m)?.[1] ?? '?';
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    if (total !== last) {
      last = total;
      since = Date.now();
    }
    if ([...acked].every((id) => counts.has(id)) && Date.now() - since > 1500) return counts;
    if (Date.now() > deadline) return counts;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function assertExactlyOnce(counts: Map<string, number>, acked: Set<string>): void {
  assert.deepEqual([...acked].filter((id) => !counts.has(id)), [], 'acknowledged messages lost');
  assert.deepEqual([...counts].filter(([, n]) => n > 1).map(([id]) => id), [], 'messages delivered twice');
}

const opts = { domains: ['localhost'], users: ['u@localhost'], smtp: { processes: 2 } };

void test('processes = 2: kill -9 of the acceptor mid-DATA loses no 250, delivers none twice, and another acceptor takes over', async () => {
  const site = await startSiteProcess(opts);
  try {
    const server = site.child!.pid!;
    const [acceptor] = await waitFor('an acceptor process', () => (childrenOf(server).length === 1 ? childrenOf(server) : undefined));
    const acked = new Set<string>();
    let phase = 0;
    const running = load(site, 6, () => phase === 2, acked, 'a');
    await waitFor('mail through the acceptor', () => acked.size >= 40);
    // a client in the middle of DATA: its connection is the acceptor's
    const mid = await site.connect();
    assert.match((await mid.readReply()) ?? '', /^220/);
    await mid.command('EHLO mid.test');
    mid.write('MAIL FROM:<mid@test.example>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n');
    await mid.readReply();
    await mid.readReply();
    assert.match((await mid.readReply()) ?? '', /^354/);
    mid.write('Subject: mid\r\nX-Test-Id: mid-data\r\n\r\nhalf a body\r\n');
    process.kill(acceptor, 'SIGKILL');
    assert.equal(await mid.readReply().catch(() => undefined), undefined, 'the mid-DATA session was the acceptor\'s: cut');
    mid.close();
    const before = acked.size;
    // the server starts another acceptor; mail flows again
    const [second] = await waitFor('another acceptor', () => childrenOf(server).filter((p) => p !== acceptor).slice(0, 1), 20_000);
    assert.notEqual(second, acceptor);
    await waitFor('mail after the kill', () => acked.size >= before + 40, 30_000);
    phase = 2;
    await running;
    const counts = await delivered(site, acked);
    assertExactlyOnce(counts, acked);
    assert.equal(counts.has('mid-data'), false, 'a message cut in DATA is not delivered');
  } finally {
    await site.destroy();
  }
});

void test('processes = 2: kill -9 of the delivery process while it delivers loses no 250, delivers none twice', async () => {
  const site = await startSiteProcess(opts);
  try {
    const server = site.child!.pid!;
    await waitFor('an acceptor process', () => childrenOf(server).length === 1);
    const acked = new Set<string>();
    let killed = false;
    const running = load(site, 6, () => killed, acked, 'b');
    await waitFor('mail accepted and being delivered', async () => acked.size >= 60 && (await site.messages('u@localhost')).length > 0);
    killed = true;
    await site.kill9();
    await running;
    await site.restart();
    const counts = await delivered(site, acked);
    assertExactlyOnce(counts, acked);
  } finally {
    await site.destroy();
  }
});

void test('processes = 2: a reload replaces the acceptor and mail goes on through the new one', async () => {
  const site = await startSiteProcess(opts);
  try {
    const server = site.child!.pid!;
    const [first] = await waitFor('an acceptor process', () => (childrenOf(server).length === 1 ? childrenOf(server) : undefined));
    process.kill(server, 'SIGHUP');
    await waitFor('the old acceptor gone, a new one there', () => {
      const now = childrenOf(server);
      return now.length === 1 && now[0] !== first;
    }, 20_000);
    const acked = new Set<string>();
    let done = false;
    const running = load(site, 2, () => done, acked, 'r');
    await waitFor('mail after the reload', () => acked.size >= 10);
    done = true;
    await running;
    assertExactlyOnce(await delivered(site, acked), acked);
  } finally {
    await site.destroy();
  }
});
