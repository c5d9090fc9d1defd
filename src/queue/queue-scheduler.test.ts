import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StatedEnvelope } from '../core/index.js';
import { uniqueId } from '../util/index.js';
import { QueueScheduler, RetryScheduler, type Batch } from './index.js';

const min = 60_000;
const h = 60 * min;
const t0 = 1_700_000_000_000;

let n = 0;
function env(messageId: string, route: string, extra: Partial<StatedEnvelope> = {}): StatedEnvelope {
  n++;
  return {
    id: `${messageId}-${n}`, messageId, sender: { local: 'helvecio', domain: 'dsc.ufpb.br' }, recipient: { local: `u${n}`, domain: route },
    route: { transport: 'smtp', nextHop: route }, arrivedAt: t0, size: 10, attempts: [], nextAttemptAt: 0, dsn: {}, state: 'queued', ...extra,
  };
}

function scheduler(concurrency = 10, perRouteConcurrency = 2): { q: QueueScheduler; decisions: () => number } {
  const policy = new RetryScheduler({ retryMin: 5 * min, retryMax: h, maxQueueLifetime: 3 * 24 * h, delayWarning: 4 * h });
  let decided = 0;
  const decide = policy.decide.bind(policy);
  policy.decide = (e, now) => {
    decided++;
    return decide(e, now);
  };
  return { q: new QueueScheduler({ policy, concurrency, perRouteConcurrency }), decisions: () => decided };
}

const summary = (bs: Batch[]): string[] => bs.map((b) => `${b.kind} ${b.messageId} ${b.route.nextHop} ${b.envelopes.length}`);

void test('due envelopes of one message and route form one batch; held and waiting ones are not taken', () => {
  const { q } = scheduler();
  q.set(env('a', 'x.example'), t0);
  q.set(env('a', 'x.example'), t0);
  q.set(env('a', 'y.example'), t0);
  q.set(env('b', 'x.example', { state: 'held', held: true }), t0);
  q.set(env('c', 'x.example', { state: 'deferred', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + 5 * min }), t0);
  assert.deepEqual(summary(q.takeDue(t0)).sort(), ['deliver a x.example 2', 'deliver a y.example 1']);
  assert.deepEqual(q.takeDue(t0), [], 'busy envelopes are not taken twice');
  assert.equal(q.nextWakeAt(), t0 + 5 * min);
  assert.deepEqual(summary(q.takeDue(t0 + 5 * min)), ['deliver c x.example 1'], 'taken when its wait ends');
  assert.equal(q.size, 5);
});

void test('concurrency: per route and in total; finish frees the slots', () => {
  const { q } = scheduler(3, 2);
  for (let i = 0; i < 4; i++) q.set(env(`r${i}`, 'x.example'), t0);
  for (let i = 0; i < 4; i++) q.set(env(`s${i}`, `d${i}.example`), t0);
  const first = q.takeDue(t0);
  assert.equal(first.length, 3, 'three batches in total');
  assert.ok(first.filter((b) => b.route.nextHop === 'x.example').length <= 2, 'at most two on one route');
  assert.equal(q.running, 3);
  assert.deepEqual(q.takeDue(t0), [], 'no slot left');
  q.finish(first[0]);
  assert.equal(q.takeDue(t0).length, 1);
});

void test('notices and expiries: one batch per message and kind, a failed notice waits for its retry', () => {
  const { q } = scheduler();
  q.set(env('m', 'x.example', { state: 'notice-pending', notice: 'failure', attempts: [{ at: t0, status: '5.1.1' }] }), t0);
  q.set(env('m', 'y.example', { state: 'notice-pending', notice: 'failure', attempts: [{ at: t0, status: '5.1.1' }] }), t0);
  q.set(env('w', 'x.example', { state: 'notice-pending', notice: 'delay', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + h }), t0);
  q.set(env('r', 'x.example', { state: 'notice-pending', notice: 'success', attempts: [{ at: t0, status: '2.0.0' }], nextAttemptAt: t0 + h }), t0);
  // an attempt made at the end of the lifetime failed: expired
  q.set(env('e', 'x.example', { state: 'deferred', attempts: [{ at: t0 + 3 * 24 * h, status: '4.4.1' }], nextAttemptAt: t0 + 4 * 24 * h }), t0 + 3 * 24 * h);
  const due = summary(q.takeDue(t0 + 3 * 24 * h)).sort();
  assert.deepEqual(due, ['expire e x.example 1', 'notice m x.example 2', 'notice r x.example 1', 'notice w x.example 1']);
  const { q: q2 } = scheduler();
  q2.set(env('r', 'x.example', { state: 'notice-pending', notice: 'success', attempts: [{ at: t0, status: '2.0.0' }], nextAttemptAt: t0 + h }), t0);
  q2.set(env('w', 'x.example', { state: 'notice-pending', notice: 'delay', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + h }), t0);
  assert.deepEqual(summary(q2.takeDue(t0)), ['notice w x.example 1'], 'a delay warning goes at once; a retried notice waits');
  assert.deepEqual(summary(q2.takeDue(t0 + h)), ['notice r x.example 1']);
});

void test('free files an envelope again; set on a busy one waits for free; forget drops it; legacy envelopes get a state', () => {
  const { q } = scheduler();
  const a = env('a', 'x.example');
  q.set(a, t0);
  const [batch] = q.takeDue(t0);
  assert.equal(q.isBusy(a.id), true);
  q.set({ ...a, state: 'deferred', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + 5 * min }, t0);
  assert.equal(q.nextWakeAt(), Infinity, 'busy: not filed yet');
  q.finish(batch);
  q.free(a.id, t0);
  assert.equal(q.nextWakeAt(), t0 + 5 * min);
  q.forget(a.id);
  assert.equal(q.size, 0);
  assert.deepEqual(q.takeDue(t0 + h), []);
  const { state: _s, ...legacy } = env('l', 'x.example', { held: true });
  assert.equal(q.set(legacy, t0).state, 'held');
  assert.deepEqual(q.takeDue(t0), []);
});

void test('work follows due work: a new envelope does not make the scheduler look at the waiting ones', () => {
  const { q, decisions } = scheduler(100, 100);
  for (let i = 0; i < 50; i++) q.set(env(`w${i}`, 'down.example', { state: 'deferred', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + 5 * min }), t0);
  const before = decisions();
  q.set(env('new', 'down.example'), t0 + min);
  assert.deepEqual(summary(q.takeDue(t0 + min)), ['deliver new down.example 1']);
  assert.equal(decisions() - before, 1, 'one decision for the one new envelope');
  assert.equal(q.takeDue(t0 + 5 * min).length, 50, 'all come due together');
});

void test('parking: an envelope waiting past parkAfterMs keeps only its time and id; due, it is handed out to be loaded', () => {
  const policy = new RetryScheduler({ retryMin: 5 * min, retryMax: h, maxQueueLifetime: 3 * 24 * h });
  const q = new QueueScheduler({ policy, parkAfterMs: 10 * min });
  const soon = env('m1', 'x.example', { state: 'deferred', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + 5 * min });
  const later = env('m2', 'x.example', { state: 'deferred', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + h });
  q.set(soon, t0);
  q.set(later, t0);
  assert.equal(q.size, 2);
  assert.equal(q.parked, 1);
  assert.deepEqual(q.envelopes().map((e) => e.id), [soon.id], 'only the one due within ten minutes is kept whole');
  assert.equal(q.get(later.id), undefined);
  assert.deepEqual(q.parkedMatching('m2'), [later.id]);
  assert.deepEqual(q.parkedMatching('m1'), []);
  assert.equal(q.nextWakeAt(), t0 + 5 * min);
  assert.deepEqual(q.takeLoads(), []);
  // an hour later both are due: the kept one is taken, the parked one is handed out to load
  assert.deepEqual(summary(q.takeDue(t0 + h)), [`deliver m1 x.example 1`]);
  assert.deepEqual(q.takeLoads(), [later.id]);
  assert.equal(q.size, 2, 'still counted while it is loaded');
  q.set(later, t0 + h);
  assert.equal(q.parked, 0);
  assert.deepEqual(summary(q.takeDue(t0 + h)), [`deliver m2 x.example 1`]);
  // set with keep: not parked however far away (an operator action looks at it next)
  const far = env('m3', 'x.example', { state: 'deferred', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + 5 * h });
  q.set(far, t0, { keep: true });
  assert.equal(q.get(far.id)?.id, far.id);
  q.forget(far.id);
  assert.equal(q.size, 2);
});

void test('a saved schedule: every envelope with its next look (held: never by itself), restored all parked', () => {
  const policy = new RetryScheduler({ retryMin: 5 * min, retryMax: h, maxQueueLifetime: 3 * 24 * h });
  const q = new QueueScheduler({ policy, parkAfterMs: 10 * min });
  const ready = env('s1', 'x.example');
  const soon = env('s2', 'x.example', { state: 'deferred', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + 5 * min });
  const later = env('s3', 'x.example', { state: 'deferred', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + h });
  const held = env('s4', 'x.example', { state: 'held', held: true });
  for (const e of [ready, soon, later, held]) q.set(e, t0);
  const saved = [...q.schedule()].sort((a, b) => a.id.localeCompare(b.id));
  assert.deepEqual(saved, [
    { id: ready.id, at: 0, state: 'queued' }, { id: soon.id, at: t0 + 5 * min, state: 'deferred' },
    { id: later.id, at: t0 + h, state: 'deferred' }, { id: held.id, at: Infinity, state: 'held' },
  ]);
  const next = new QueueScheduler({ policy, parkAfterMs: 10 * min });
  next.restore(saved);
  assert.equal(next.size, 4);
  assert.equal(next.parked, 4, 'nothing read: all parked');
  assert.deepEqual(next.takeDue(t0), []);
  assert.deepEqual(next.takeLoads(), [ready.id], 'only the due one is handed out to be read');
  assert.deepEqual(next.parkedMatching('s4'), [held.id], 'a held one waits until the operator names it');
  assert.equal(next.nextWakeAt(), t0 + 5 * min);
  assert.deepEqual(counts(next), { queued: 1, deferred: 2, held: 1, 'notice-pending': 0 }, 'counted by their saved states, none read');
});

const counts = (q: QueueScheduler): Record<string, number> => Object.fromEntries(q.stateCounts().map((c) => [c.state, c.count]));

void test('counts per state are exact through every change: set, defer (parked), hold, release, forget, restore, flush', () => {
  const policy = new RetryScheduler({ retryMin: 5 * min, retryMax: h, maxQueueLifetime: 3 * 24 * h });
  const q = new QueueScheduler({ policy, parkAfterMs: 10 * min });
  const none = { queued: 0, deferred: 0, held: 0, 'notice-pending': 0 };
  assert.deepEqual(counts(q), none);
  // ids of uniqueId's form, so that parked ones are kept as numbers (their time: the arrival)
  const a = env(uniqueId(t0 - h), 'x.example', { arrivedAt: t0 - h });
  const b = env(uniqueId(t0), 'x.example');
  const c = env(uniqueId(t0), 'y.example');
  for (const e of [a, b, c]) q.set(e, t0);
  assert.deepEqual(counts(q), { ...none, queued: 3 });
  assert.equal(q.oldestArrivals().queued, t0 - h);
  // deferred for an hour: parked, still counted as deferred
  const deferred = (e: StatedEnvelope): StatedEnvelope => ({ ...e, state: 'deferred', attempts: [{ at: t0, status: '4.4.1' }], nextAttemptAt: t0 + h });
  q.set(deferred(a), t0);
  q.set(deferred(b), t0);
  assert.equal(q.parked, 2);
  assert.deepEqual(counts(q), { ...none, queued: 1, deferred: 2 });
  assert.deepEqual(q.oldestArrivals(), { queued: t0, deferred: t0 - h, held: Infinity, 'notice-pending': Infinity }, 'a parked one\'s arrival: its id\'s time');
  // hold and release (as the operator's transitions store them), delete
  q.set({ ...deferred(a), state: 'held', held: true }, t0);
  assert.deepEqual(counts(q), { ...none, queued: 1, deferred: 1, held: 1 });
  q.set({ ...a, state: 'queued' }, t0);
  assert.deepEqual(counts(q), { ...none, queued: 2, deferred: 1 });
  q.forget(c.id);
  q.forget(c.id);
  assert.deepEqual(counts(q), { ...none, queued: 1, deferred: 1 });
  // a notice pending, waiting for its retry far away: parked as notice-pending
  q.set({ ...a, state: 'notice-pending', notice: 'failure', attempts: [{ at: t0, status: '5.1.1' }], nextAttemptAt: t0 + h }, t0);
  assert.deepEqual(counts(q), { ...none, deferred: 1, 'notice-pending': 1 });
  // due parked ones handed out to load keep their state; a flush parks one again as queued
  assert.deepEqual(q.takeDue(t0 + 2 * h), []);
  assert.equal(q.takeLoads().length, 2);
  assert.deepEqual(counts(q), { ...none, deferred: 1, 'notice-pending': 1 });
  q.park(b.id, t0 + 2 * h, 'queued');
  q.park(a.id, t0 + 3 * h);
  assert.deepEqual(counts(q), { ...none, queued: 1, 'notice-pending': 1 });
  // the schedule round trip keeps them
  const next = new QueueScheduler({ policy, parkAfterMs: 10 * min });
  next.restore(q.schedule());
  assert.deepEqual(counts(next), counts(q));
  // a version 1 schedule (no states): held when never by itself, else deferred
  const old = new QueueScheduler({ policy, parkAfterMs: 10 * min });
  old.restore([{ id: 'o1-1', at: Infinity }, { id: 'o2-1', at: t0 }]);
  assert.deepEqual(counts(old), { ...none, deferred: 1, held: 1 });
  old.forget('o1-1');
  assert.deepEqual(counts(old), { ...none, deferred: 1 });
});

void test('loadLimit: due parked envelopes are handed out only while few due ones are in memory', () => {
  const policy = new RetryScheduler({ retryMin: 5 * min, retryMax: h, maxQueueLifetime: 3 * 24 * h });
  const q = new QueueScheduler({ policy, parkAfterMs: 10 * min, loadLimit: 3, concurrency: 1 });
  q.restore(Array.from({ length: 10 }, (_, i) => ({ id: `p${i}-1`, at: t0 })));
  assert.deepEqual(q.takeDue(t0), []);
  const first = q.takeLoads();
  assert.equal(first.length, 3, 'three at a time');
  assert.equal(q.nextWakeAt(), Infinity, 'the rest waits for loads and batches to end, not for a timer');
  assert.deepEqual(q.takeLoads(), []);
  // loaded: ready in memory, so still no room until they are delivered
  for (const id of first) q.set(env(id.replace(/-1$/, ''), 'x.example', { id }), t0);
  const batches = q.takeDue(t0);
  assert.equal(batches.length, 1, 'concurrency 1');
  assert.deepEqual(q.takeLoads(), [], 'two ready and one busy: no room yet');
  q.finish(batches[0]);
  q.forget(batches[0].envelopes[0].id);
  const b2 = q.takeDue(t0);
  assert.equal(b2.length, 1);
  assert.equal(q.takeLoads().length, 1, 'one delivered: one more read');
  assert.equal(q.parked, 7);
});
