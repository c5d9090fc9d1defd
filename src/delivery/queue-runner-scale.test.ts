/**
 * The queue runner with a big deferred queue on the files spool (issue 19), counted in what it
 * asks of the store and of the transport rather than in time: a restart loads every deferred
 * envelope once; only those that come due are tried (clock injected); an envelope waiting more
 * than five minutes is parked (only its time and id kept) and read back when due; a rescan (the
 * poll, a `sendmail` wake-up) reads only the messages the runner does not know yet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeliveryRequest, DeliveryStatus, EnvelopeInit, Notifier, QueueStore, Transport } from '../core/index.js';
import { FsQueueStore, RetryScheduler } from '../queue/index.js';
import { QueueRunner } from './queue-runner.js';

const min = 60_000;
const t0 = 1_700_000_000_000;
const count = 400;

/** Refuses every recipient for now (451), as a next hop that is down; records who was tried. */
class RefusingTransport implements Transport {
  readonly name = 'smtp';
  readonly tried: string[] = [];
  async deliver(req: DeliveryRequest): Promise<DeliveryStatus[]> {
    this.tried.push(...req.envelopes.map((e) => e.recipient.local));
    return req.envelopes.map((e) => ({ envelopeId: e.id, action: 'delayed', status: '4.3.0', reply: { code: 451, status: '4.3.0', lines: ['Try again later'] } }));
  }
}

const noNotices: Notifier = { notify: async () => undefined };

function deferred(i: number, nextAttemptAt: number): EnvelopeInit {
  return {
    sender: { local: 'a', domain: 'example.com' }, recipient: { local: `r${i}`, domain: 'example.net' },
    route: { transport: 'smtp', nextHop: 'example.net' }, arrivedAt: t0 - 10 * min, size: 6, nextAttemptAt, dsn: {},
    state: 'deferred',
  };
}

async function commit(store: FsQueueStore, inits: EnvelopeInit[]): Promise<void> {
  // together, so that the segment's group commit covers them
  await Promise.all(inits.map(async (init) => {
    const draft = await store.createMessage();
    await draft.commit([init], [Buffer.from('x\r\ny\r\n')]);
  }));
}

/** The store, with the calls a rescan might make counted. */
function counted(store: FsQueueStore): { store: QueueStore; calls: { find: number; walk: number; list: number; get: number } } {
  const calls = { find: 0, walk: 0, list: 0, get: 0 };
  return {
    calls,
    store: {
      createMessage: () => store.createMessage(),
      openMessage: (id) => store.openMessage(id),
      messageSize: (id) => store.messageSize(id),
      findEnvelope: (id) => (calls.get++, store.findEnvelope(id)),
      putEnvelope: (e) => store.putEnvelope(e),
      deleteEnvelope: (id) => store.deleteEnvelope(id),
      close: () => store.close(),
      findMessageEnvelopes: (id) => (calls.find++, store.findMessageEnvelopes(id)),
      listMessageIds: () => (calls.list++, store.listMessageIds()),
      walkEnvelopes: () => (calls.walk++, store.walkEnvelopes()),
    },
  };
}

void test('a restart loads a big deferred queue once, tries only what comes due, and a rescan reads only new messages', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-scale-'));
  const spool = join(dir, 'spool');
  try {
    // the queue a down next hop leaves: next attempts one per minute from t0 + 1 min
    const first = await FsQueueStore.open(spool, { cache: true });
    for (let i = 0; i < count; i += 100) {
      await commit(first, Array.from({ length: 100 }, (_, k) => deferred(i + k, t0 + (i + k + 1) * min)));
    }
    await first.close();

    // the restart: recovery counts the messages without reading them, the runner's walk loads them
    const real = await FsQueueStore.open(spool, { cache: true });
    assert.equal(real.lastRecovery?.messages, count);
    const { store, calls } = counted(real);
    const clock = { t: t0, now(): number { return this.t; } };
    const transport = new RefusingTransport();
    const runner = new QueueRunner({
      store, transports: new Map([['smtp', transport]]), notifier: noNotices, clock, pollIntervalMs: 0,
      scheduler: new RetryScheduler({ retryMin: 60 * min, retryMax: 4 * 60 * min, maxQueueLifetime: 5 * 24 * 60 * min }),
    });
    await runner.start();
    // no schedule saved (as after a crash): the walk runs in the background
    await runner.loaded();
    assert.equal(runner.size, count);
    assert.deepEqual(calls, { find: 0, walk: 1, list: 0, get: 0 });
    // due within five minutes (r0..r4): kept; the rest parked
    assert.equal(runner.parked, count - 5);
    assert.deepEqual(runner.envelopes().map((e) => e.recipient.local).sort(), ['r0', 'r1', 'r2', 'r3', 'r4']);
    const ids = new Map<string, string>();
    for await (const e of real.walkEnvelopes()) ids.set(e.recipient.local, e.id);
    await runner.idle();
    assert.deepEqual(transport.tried, [], 'nothing is due at t0');

    // ten minutes and a half later: exactly the ten that came due are tried
    clock.t = t0 + 10.5 * min;
    runner.wake();
    await runner.idle();
    assert.deepEqual(transport.tried.sort(), Array.from({ length: 10 }, (_, i) => `r${i}`).sort());
    assert.equal(calls.get, 5, 'the five parked ones that came due (r5..r9) were read back, nothing else');
    assert.equal(runner.size, count);
    assert.equal(runner.parked, count, 'deferred an hour: all parked again');
    const retried = await real.findMessageEnvelopes(ids.get('r0')!.replace(/-1$/, ''));
    assert.equal(retried[0].attempts.length, 1, 'the refusal is recorded');
    assert.ok(retried[0].nextAttemptAt >= clock.t + 60 * min, 'and the next attempt is an hour away');

    // another process (sendmail) commits one message; the rescan reads that one, not the queue
    const other = await FsQueueStore.open(spool, { recover: 'never', lock: false });
    await commit(other, [deferred(count, t0 + 3 * 60 * min)]);
    await other.close();
    await runner.rescan();
    assert.equal(runner.size, count + 1);
    assert.deepEqual(calls, { find: 1, walk: 1, list: 1, get: 5 });

    // and a message that left the spool (delivered or removed elsewhere) is forgotten
    await real.deleteEnvelope(ids.get('r399')!);
    await runner.rescan();
    assert.equal(runner.size, count);
    assert.equal(calls.find, 1, 'nothing more was read');

    // an operator's hold names a parked envelope: it is read back, held, and stays held
    assert.equal(await runner.hold(ids.get('r398')!), 1);
    assert.equal(calls.get, 6);
    assert.equal((await real.findEnvelope(ids.get('r398')!))?.state, 'held');
    await runner.stop();
    await real.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a message another process renames into msg/ is read alone when the spool watch names it, with no rescan', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-watch-'));
  const spool = join(dir, 'spool');
  try {
    const real = await FsQueueStore.open(spool, { cache: true });
    await commit(real, [deferred(0, t0 + 60 * min)]);
    const { store, calls } = counted(real);
    const watched: QueueStore = { ...store, watchNew: (f) => real.watchNew(f) };
    const runner = new QueueRunner({
      store: watched, transports: new Map([['smtp', new RefusingTransport()]]), notifier: noNotices, clock: { now: () => t0 },
      scheduler: new RetryScheduler({ retryMin: 60 * min, retryMax: 4 * 60 * min, maxQueueLifetime: 5 * 24 * 60 * min }),
    });
    await runner.start();
    await runner.loaded();
    assert.equal(runner.size, 1);
    // `sendmail` (another instance, no lock): one file renamed into msg/
    const other = await FsQueueStore.open(spool, { recover: 'never', lock: false });
    await commit(other, [deferred(1, t0 + 90 * min)]);
    await other.close();
    for (let i = 0; i < 200 && runner.size < 2; i++) await new Promise((r) => setTimeout(r, 25));
    await runner.idle();
    assert.equal(runner.size, 2, 'found through the watch');
    assert.equal(calls.list, 0, 'no rescan listed msg/');
    assert.ok(calls.find >= 1, 'the named message was read');
    await runner.stop();
    await real.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** The scale test's runner on `store` at the clock's time. */
function runnerOn(store: QueueStore, transport: Transport, clock: { now(): number }, extra: { loadLimit?: number; concurrency?: number } = {}): QueueRunner {
  return new QueueRunner({
    store, transports: new Map([['smtp', transport]]), notifier: noNotices, clock, pollIntervalMs: 0, ...extra,
    scheduler: new RetryScheduler({ retryMin: 60 * min, retryMax: 4 * 60 * min, maxQueueLifetime: 5 * 24 * 60 * min }),
  });
}

void test('a clean stop saves the schedule: the restart reads no envelope until one is due, and a crash falls back to a walk while delivering', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-restart-'));
  const spool = join(dir, 'spool');
  try {
    const first = await FsQueueStore.open(spool, { cache: true });
    await commit(first, Array.from({ length: 50 }, (_, i) => deferred(i, t0 + (i + 1) * min)));
    const held = await first.createMessage();
    await held.commit([{ ...deferred(99, t0 + 2 * min), state: 'held', held: true }], [Buffer.from('x\r\n')]);
    const clock = { t: t0, now(): number { return this.t; } };
    const r1 = runnerOn(first, new RefusingTransport(), clock);
    await r1.start();
    await r1.loaded();
    await r1.stop();
    await first.close();

    // clean restart: the schedule is taken, nothing is walked or read before it is due
    const real = await FsQueueStore.open(spool, { cache: true });
    const { store, calls } = counted(real);
    const transport = new RefusingTransport();
    const r2 = runnerOn({ ...store, takeSchedule: () => real.takeSchedule(), saveSchedule: (e) => real.saveSchedule(e) }, transport, clock);
    await r2.start();
    assert.equal(r2.size, 51, 'known at once from the schedule');
    assert.equal(r2.parked, 51);
    await r2.loaded();
    await r2.idle();
    assert.deepEqual(calls, { find: 0, walk: 0, list: 1, get: 0 }, 'one listing (for messages added while stopped), no envelope read');
    clock.t = t0 + 3.5 * min;
    r2.wake();
    await r2.idle();
    assert.deepEqual(transport.tried.sort(), ['r0', 'r1', 'r2'], 'the three due are read and tried; the held one is not');
    assert.equal(calls.get, 3);
    // the operator releases the held one: read back by name
    assert.equal(await r2.release(`${held.id}-1`), 1);
    await r2.idle();
    assert.ok(transport.tried.includes('r99'));
    // a crash: nothing saved (r2 is never stopped); the next runner walks the spool while it delivers
    const crashed = await FsQueueStore.open(spool, { cache: true, lock: false });
    let open = (): void => undefined;
    const gate = { promise: new Promise<void>((r) => (open = r)), resolve: () => open() };
    const slow: QueueStore = {
      ...counted(crashed).store,
      takeSchedule: () => crashed.takeSchedule(),
      async *walkEnvelopes() {
        await gate.promise;
        yield* crashed.walkEnvelopes();
      },
    };
    const t3 = new RefusingTransport();
    const r3 = runnerOn(slow, t3, clock);
    await r3.start();
    assert.equal(r3.size, 0, 'the walk has not read anything yet');
    const fresh = await crashed.createMessage();
    await fresh.commit([{ ...deferred(200, 0), state: 'queued', nextAttemptAt: 0 }], [Buffer.from('x\r\n')]);
    r3.enqueue(await crashed.findMessageEnvelopes(fresh.id));
    for (let i = 0; i < 200 && !t3.tried.includes('r200'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(t3.tried, ['r200'], 'new mail is delivered before the walk ends');
    gate.resolve();
    await r3.loaded();
    assert.equal(r3.size, 52);
    await r3.stop();
    await crashed.close();
    await r2.stop();
    await real.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a whole-queue flush reads parked envelopes in batches and brings back at most loadLimit at once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-flush-'));
  const spool = join(dir, 'spool');
  try {
    const real = await FsQueueStore.open(spool, { cache: true });
    await commit(real, Array.from({ length: 60 }, (_, i) => deferred(i, t0 + 60 * min)));
    const clock = { now: (): number => t0 };
    let most = 0;
    const runner: QueueRunner = runnerOn(real, {
      name: 'smtp',
      async deliver(req: DeliveryRequest): Promise<DeliveryStatus[]> {
        most = Math.max(most, runner.envelopes().length);
        await new Promise((r) => setTimeout(r, 1));
        return req.envelopes.map((e) => ({ envelopeId: e.id, action: 'delivered', status: '2.0.0' }));
      },
    }, clock, { loadLimit: 5, concurrency: 2 });
    await runner.start();
    await runner.loaded();
    assert.equal(runner.parked, 60);
    assert.equal(await runner.flush(), 60);
    for (let i = 0; i < 500 && runner.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    await runner.idle();
    assert.equal(runner.size, 0, 'all delivered');
    assert.ok(most <= 5 + 2, `at most loadLimit envelopes (and those in flight) in memory at once (saw ${most})`);
    assert.deepEqual(await real.listMessageIds(), []);
    await runner.stop();
    await real.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
