import test from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { MinuteCounts, startActivity } from './activity.js';
import { channels } from '../core/index.js';

const t0 = Date.UTC(2026, 11, 5, 21, 0, 30);

void test('MinuteCounts: counts per minute, zeros between, oldest first', () => {
  const c = new MinuteCounts();
  c.add('received', t0);
  c.add('received', t0 + 10_000);
  c.add('delivered', t0 + 60_000);
  c.add('bounced', t0 + 3 * 60_000);
  const s = c.series(t0 + 3 * 60_000, 5);
  assert.equal(s.length, 5);
  assert.equal(s[4].minute, '2026-12-05T21:03:00.000Z');
  assert.deepEqual(s.map((m) => [m.received, m.delivered, m.bounced]), [[0, 0, 0], [2, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]]);
});

void test('MinuteCounts: forgets minutes older than it keeps, and caps what it is asked for', () => {
  const c = new MinuteCounts(3);
  c.add('deferred', t0);
  c.add('deferred', t0 + 5 * 60_000);
  const s = c.series(t0 + 5 * 60_000, 100);
  assert.equal(s.length, 3);
  assert.equal(s.reduce((n, m) => n + m.deferred, 0), 1);
});

void test('startActivity: counts the events published, expired as bounced, until stopped', () => {
  let now = t0;
  const a = startActivity(() => now);
  try {
    diagnostics.channel(channels.received).publish({});
    diagnostics.channel(channels.deferred).publish({});
    diagnostics.channel(channels.expired).publish({});
    now += 60_000;
    diagnostics.channel(channels.delivered).publish({});
    const [before, last] = a.series(2);
    assert.deepEqual([before.received, before.deferred, before.bounced, last.delivered], [1, 1, 1, 1]);
  } finally {
    a.stop();
  }
  diagnostics.channel(channels.delivered).publish({});
  assert.equal(a.series(1)[0].delivered, 1);
});
