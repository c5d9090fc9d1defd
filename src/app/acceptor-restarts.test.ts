/**
 * AcceptorRestarts' delays, read from its log lines: acceptors of one set that keep ending at
 * their start back off 1, 2, 4, 8 s; a reload's new set starts afresh (1 s), and the count of
 * the set it replaced is forgotten with its pending restart. t-97 runs the same over real
 * processes and SIGHUP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { AcceptorRestarts, type Ended } from './acceptor-restarts.js';

function restarts(): { r: AcceptorRestarts; delays: () => number[]; serving: Set<number> } {
  const lines: string[] = [];
  const serving = new Set([0]);
  const r = new AcceptorRestarts(pino({ base: undefined }, { write: (l: string) => void lines.push(l) }), (set) => serving.has(set));
  return { r, serving, delays: () => lines.map((l) => (JSON.parse(l) as { inMs?: number }).inMs ?? -1).filter((ms) => ms >= 0) };
}

/** One of `set` that ended at once (killed right after its start). */
const quick = (set: number): Ended => ({ pid: 1, startedAt: Date.now(), accepting: true, set });

void test('ends in a row within 10 s of their start back off 1, 2, 4, 8 s; one that ran 10 s starts the count again', () => {
  const { r, delays } = restarts();
  try {
    for (let i = 0; i < 4; i++) r.schedule(quick(0), 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    r.schedule({ ...quick(0), startedAt: Date.now() - 11_000 }, 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    assert.deepEqual(delays(), [1000, 2000, 4000, 8000, 1000]);
  } finally {
    r.clear();
  }
});

void test('a reload\'s new set starts afresh: its first end waits 1 s, not the old set\'s next step; the old set\'s count is forgotten', () => {
  const { r, delays, serving } = restarts();
  try {
    for (let i = 0; i < 4; i++) r.schedule(quick(0), 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    // the reload: set 1 serves, set 0 no longer
    serving.add(1);
    serving.delete(0);
    r.drop();
    r.schedule(quick(1), 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    r.schedule(quick(1), 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    r.schedule(quick(1), 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    assert.deepEqual(delays(), [1000, 2000, 4000, 8000, 1000, 2000, 4000]);
  } finally {
    r.clear();
  }
});

void test('a set on trial beside the serving one counts its own ends', () => {
  const { r, delays, serving } = restarts();
  try {
    serving.add(1);
    r.schedule(quick(0), 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    r.schedule(quick(0), 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    r.schedule(quick(0), 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    r.schedule(quick(1), 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    r.schedule(quick(0), 'killed by SIGKILL', null, 'SIGKILL', () => undefined);
    assert.deepEqual(delays(), [1000, 2000, 4000, 1000, 8000]);
  } finally {
    r.clear();
  }
});
