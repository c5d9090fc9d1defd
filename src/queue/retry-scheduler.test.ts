import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Envelope } from '../core/index.js';
import { RetryScheduler } from './index.js';

const min = 60_000;
const h = 60 * min;
const d = 24 * h;
const t0 = 1_700_000_000_000;

function env(extra: Partial<Envelope> = {}): Envelope {
  return {
    id: 'm-1', messageId: 'm', sender: { local: 'helvecio', domain: 'dsc.ufpb.br' }, recipient: { local: 'suzana', domain: 'dc.uece.br' },
    route: { transport: 'smtp', nextHop: 'dc.uece.br' }, arrivedAt: t0, size: 10, attempts: [], nextAttemptAt: 0, dsn: {}, ...extra,
  };
}
const tried = (n: number): Envelope['attempts'] => Array.from({ length: n }, (_, i) => ({ at: t0 + i, status: '4.4.1' as const }));

const s = new RetryScheduler({ retryMin: 5 * min, retryMax: h, maxQueueLifetime: 3 * d, delayWarning: 4 * h });

void test('decide: new at once, deferred when due, held, expiry only once an attempt at the end of the lifetime failed', () => {
  const table: [string, Envelope, number, ReturnType<RetryScheduler['decide']>][] = [
    ['new envelope', env(), t0, { kind: 'deliver' }],
    ['not yet due', env({ attempts: tried(1), nextAttemptAt: t0 + 5 * min }), t0 + min, { kind: 'wait', until: t0 + 5 * min }],
    ['due', env({ attempts: tried(1), nextAttemptAt: t0 + 5 * min }), t0 + 5 * min, { kind: 'deliver' }],
    ['held', env({ state: 'held', held: true }), t0, { kind: 'held' }],
    ['held past lifetime', env({ state: 'held', held: true, attempts: tried(3) }), t0 + 4 * d, { kind: 'held' }],
    ['past lifetime, not tried since: a last try', env({ attempts: tried(9), nextAttemptAt: t0 + 4 * d }), t0 + 3 * d, { kind: 'deliver' }],
    ['an attempt at the end of the lifetime failed', env({ attempts: [{ at: t0 + 3 * d, status: '4.4.1' }], nextAttemptAt: t0 + 3 * d + h }), t0 + 3 * d, { kind: 'expire' }],
    ['past lifetime, never tried (server was down): one try first', env(), t0 + 5 * d, { kind: 'deliver' }],
  ];
  for (const [name, e, now, want] of table) assert.deepEqual(s.decide(e, now), want, name);
});

void test('nextAttempt: grows with time in queue, clamped to retry_min..retry_max, never past expiry', () => {
  const table: [string, number, number][] = [
    ['first failure right after arrival → retry_min', t0, t0 + 5 * min],
    ['queued 10m → wait 10m (doubling)', t0 + 10 * min, t0 + 20 * min],
    ['queued 20m → wait 20m', t0 + 20 * min, t0 + 40 * min],
    ['queued 5h → clamped to retry_max', t0 + 5 * h, t0 + 6 * h],
    ['30m before expiry → last try at expiry', t0 + 3 * d - 30 * min, t0 + 3 * d],
  ];
  for (const [name, now, want] of table) assert.equal(s.nextAttempt(env({ attempts: tried(1) }), now), want, name);
});

void test('a retry sequence from a fake clock doubles from retry_min and settles at retry_max', () => {
  let e = env();
  let now = t0;
  const gaps: number[] = [];
  for (let i = 0; i < 9; i++) {
    assert.equal(s.decide(e, now).kind, 'deliver');
    const next = s.nextAttempt(e, now);
    gaps.push((next - now) / min);
    e = { ...e, attempts: [...e.attempts, { at: now, status: '4.4.1' }], nextAttemptAt: next };
    assert.deepEqual(s.decide(e, now + 1), { kind: 'wait', until: next });
    now = next;
  }
  assert.deepEqual(gaps, [5, 5, 10, 20, 40, 60, 60, 60, 60]);
});

void test('delay warning: once, after delay_warning, honouring NOTIFY and never for the null sender', () => {
  const late = t0 + 5 * h;
  const table: [string, Envelope, number, boolean][] = [
    ['due', env({ attempts: tried(2) }), late, true],
    ['too early', env({ attempts: tried(2) }), t0 + 3 * h, false],
    ['already warned', env({ attempts: tried(2), delayWarnedAt: t0 + 4 * h }), late, false],
    ['never tried yet', env(), late, false],
    ['NOTIFY=NEVER', env({ attempts: tried(2), dsn: { notify: ['NEVER'] } }), late, false],
    ['NOTIFY=FAILURE only', env({ attempts: tried(2), dsn: { notify: ['FAILURE'] } }), late, false],
    ['NOTIFY=DELAY', env({ attempts: tried(2), dsn: { notify: ['DELAY'] } }), late, true],
    ['null sender (a bounce)', env({ attempts: tried(2), sender: null }), late, false],
    ['held', env({ attempts: tried(2), state: 'held', held: true }), late, false],
  ];
  for (const [name, e, now, want] of table) assert.equal(s.delayWarningDue(e, now), want, name);
  const off = new RetryScheduler({ delayWarning: 0 });
  assert.equal(off.delayWarningDue(env({ attempts: tried(2) }), t0 + 2 * d), false);
});

void test('bad options are refused', () => {
  assert.throws(() => new RetryScheduler({ retryMin: h, retryMax: min }), RangeError);
  assert.throws(() => new RetryScheduler({ retryMin: -1 }), RangeError);
  assert.throws(() => new RetryScheduler({ maxQueueLifetime: Number.NaN }), RangeError);
});
