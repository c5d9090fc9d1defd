/**
 * @module delivered-once
 * The crash tests' check (t-02, t-88, t-97): every message answered 250 (its X-Test-Id in `acked`)
 * is in u@localhost's mailbox, none twice; and the load they send (`load`, and `sendThenKill`:
 * a load that kills a process once it has had `n` answers).
 */
import assert from 'node:assert/strict';
import type { LineClient } from './net.js';
import { waitFor, type Site } from './site.js';

/** Waits until every acked id is in the mailbox and the count has stopped moving; returns the counts. */
export async function delivered(site: Pick<Site, 'messages'>, acked: Set<string>): Promise<Map<string, number>> {
  let counts = new Map<string, number>();
  let last = -1;
  let since = Date.now();
  const deadline = Date.now() + 60_000;
  for (;;) {
    counts = new Map();
    // the server's own index may move a message from new/ to cur/ while it is read: look again
    const all = await site.messages('u@localhost').catch(() => undefined);
    if (!all) {
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
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

export function assertExactlyOnce(counts: Map<string, number>, acked: Set<string>): void {
  assert.deepEqual([...acked].filter((id) => !counts.has(id)), [], 'acknowledged messages lost');
  assert.deepEqual([...counts].filter(([, n]) => n > 1).map(([id]) => id), [], 'messages delivered twice');
}

/**
 * What a load's clients met instead of a 250, by kind ("greeting 421", "DATA closed", "error:
 * timeout waiting for a line"): a wait for mail that times out names them (moreAcked).
 */
export type Misses = Map<string, number>;

/** The reply's code, or "closed" when the connection ended before one. */
const codeOf = (reply: string | undefined): string => reply?.slice(0, 3) ?? 'closed';

/**
 * Clients sending numbered messages until `stop()` says so; `acked` holds those answered 250,
 * `misses` (when given) counts what they met instead.
 */
export function load(site: Pick<Site, 'connect'>, clients: number, stop: () => boolean, acked: Set<string>, prefix: string, misses?: Misses): Promise<void> {
  let next = 0;
  const miss = (kind: string): false => {
    misses?.set(kind, (misses.get(kind) ?? 0) + 1);
    return false;
  };
  /** Whether the next reply starts with `code`; a miss under `step` when not. */
  const expect = async (c: LineClient, code: string, step: string): Promise<boolean> => {
    const reply = await c.readReply();
    return reply?.startsWith(code) === true || miss(`${step} ${codeOf(reply)}`);
  };
  const one = async (): Promise<void> => {
    while (!stop()) {
      let c: LineClient | undefined;
      try {
        c = await site.connect();
        if (!(await expect(c, '220', 'greeting'))) continue;
        c.write('EHLO load.test\r\n');
        if (!(await expect(c, '250', 'EHLO'))) continue;
        while (!stop()) {
          const id = `${prefix}${next++}`;
          c.write('MAIL FROM:<load@test.example>\r\nRCPT TO:<u@localhost>\r\nDATA\r\n');
          if (!(await expect(c, '250', 'MAIL'))) break;
          if (!(await expect(c, '250', 'RCPT'))) break;
          if (!(await expect(c, '354', 'DATA'))) break;
          c.write(`Subject: ${id}\r\nX-Test-Id: ${id}\r\n\r\n${'body line\r\n'.repeat(50)}.\r\n`);
          if (!(await expect(c, '250', 'end of data'))) break;
          acked.add(id);
        }
      } catch (err) {
        // a kill cuts connections: expected; connect again
        miss(`error: ${(err as Error).message.slice(0, 60)}`);
      } finally {
        c?.close();
      }
    }
  };
  return Promise.all(Array.from({ length: clients }, () => one())).then(() => undefined);
}

/**
 * `clients` clients send numbered messages (load) until `n` are answered 250; then `kill` runs,
 * once, and the clients stop. Resolves with the ids answered 250, `n` or more (a kill cuts the
 * messages in flight).
 */
export async function sendThenKill(site: Pick<Site, 'connect'>, clients: number, n: number, kill: () => Promise<void>, prefix = 'm'): Promise<Set<string>> {
  const acked = new Set<string>();
  let killing: Promise<void> | undefined;
  const stop = (): boolean => {
    if (killing === undefined && acked.size >= n) killing = kill();
    return killing !== undefined;
  };
  await load(site, clients, stop, acked, prefix);
  await killing;
  assert.ok(acked.size >= n, `only ${acked.size} acknowledged`);
  return acked;
}

/**
 * Waits until `n` more messages than now are answered 250 (mail flows), for `what`. Timing out,
 * it names how many came, what the load met instead (`misses`) and what `state()` tells (the
 * processes, the log's end).
 */
export async function moreAcked(acked: ReadonlySet<string>, n: number, what: string, misses?: Misses, state?: () => string): Promise<void> {
  const before = acked.size;
  const missed = new Map(misses);
  try {
    await waitFor(what, () => acked.size >= before + n, 30_000);
  } catch (err) {
    const since = [...(misses ?? [])].map(([kind, count]) => [kind, count - (missed.get(kind) ?? 0)] as const).filter(([, count]) => count > 0);
    const met = since.length === 0 ? 'nothing else' : since.map(([kind, count]) => `${kind} ×${count}`).join(', ');
    throw new Error(`${(err as Error).message}: ${acked.size - before} of ${n} came; the load met ${met}${state ? `; ${state()}` : ''}`);
  }
}
