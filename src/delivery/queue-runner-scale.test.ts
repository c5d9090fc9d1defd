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
