/**
 * @module delivered-once
 * The crash tests' check (t-02, t-88): every message answered 250 (its X-Test-Id in `acked`)
 * is in u@localhost's mailbox, none twice.
 */
import assert from 'node:assert/strict';
import type { Site } from './site.js';

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

