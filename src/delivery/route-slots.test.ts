/**
 * Per-destination concurrency across nodes (route-slots.ts, PgEnvelopeLeases.routeSlot): two
 * queue runners (two nodes) on one PostgreSQL queue deliver to one real SMTP server that counts
 * its connections and its transactions in flight; with a per-route limit of 2 it never has more
 * than 2 deliveries at once, where each node alone would run 2. A dead node's slots come back
 * when they run out. No step waits a fixed time: each waits for what it needs (a slot refused
 * after both were taken, counted at the store) under a generous deadline.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Notifier } from '../core/index.js';
import { DnsResolver } from '../dns/index.js';
import { PgQueueStore, RetryScheduler } from '../queue/index.js';
import { SmtpTransport } from '../transport/index.js';
import { envelopeInit } from '../../test/contract/queue-store.contract.js';
import { startCountingSink } from '../../test/helpers/counting-smtp-sink.js';
import { pgUnavailable, withTestDatabase } from '../../test/helpers/pg.js';
import { waitFor } from '../../test/helpers/site.js';
import { QueueRunner } from './queue-runner.js';

const skip = await pgUnavailable();
const noNotices: Notifier = { notify: () => Promise.reject(new Error('no notice expected')) };

void describe('per-destination limits across nodes sharing a PostgreSQL queue', { skip }, () => {
  void test('two nodes, limit 2 per route: the destination never has more than 2 connections; all delivered once', () =>
    withTestDatabase(async (db) => {
      const sink = await startCountingSink();
      sink.hold = true;
      const route = { transport: 'smtp', nextHop: `[127.0.0.1]:${sink.port}` };
      const stores = await Promise.all(['a', 'b'].map((owner) => PgQueueStore.open(db.url, { owner })));
      // slots refused by the database (the route full), counted once both connections are open
      let counting = false;
      let refused = 0;
      for (const { leases } of stores) {
        const routeSlot = leases.routeSlot.bind(leases);
        leases.routeSlot = async (key, limit) => {
          const since = counting;
          const slot = await routeSlot(key, limit);
          if (since && slot === undefined) refused++;
          return slot;
        };
      }
      const transports = stores.map(
        () => new SmtpTransport({ hostname: 'me.test', dns: new DnsResolver({ servers: ['127.0.0.1:1'], timeoutMs: 300, tries: 1 }), reuse: { idleMs: 0 } }),
      );
      const runners = stores.map(
        (store, i) =>
          new QueueRunner({
            store,
            scheduler: new RetryScheduler({ retryMin: 60_000, retryMax: 600_000, maxQueueLifetime: 86_400_000, delayWarning: 3_600_000 }),
            transports: new Map([['smtp', transports[i]]]),
            notifier: noNotices,
            pollIntervalMs: 0,
            concurrency: 10,
            perRouteConcurrency: 2,
          }),
      );
      try {
        const subjects: string[] = [];
        for (let i = 0; i < 8; i++) {
          const draft = await stores[0].createMessage();
          await pipeline(Readable.from([Buffer.from(`Subject: m${i}\r\n\r\nbody\r\n`)]), draft.body);
          await draft.commit([envelopeInit(`r${i}@remote.example`, { route })]);
          subjects.push(`m${i}`);
        }
        // both nodes read the whole queue and race for it; each would open 2 connections alone
        await Promise.all(runners.map((r) => r.start()));
        await sink.untilOpen(2);
        // the other 6 batches ask again after both slots were taken (slotRetryMs apart): 12
        // refusals are about two rounds, as the 2.5 s this waited before; a third connection
        // let through ends the wait at once
        counting = true;
        await waitFor('12 slots refused while both are taken, or a third connection', () => refused >= 12 || sink.open > 2, 120_000);
        assert.equal(sink.open, 2, 'the two slots are taken; the other batches wait');
        assert.equal(sink.busy, 2, 'both connections are delivering');
        sink.hold = false;
        await waitFor('every message at the destination', () => sink.subjects.length >= subjects.length, 120_000);
        await Promise.all(runners.map((r) => r.idle()));
        assert.deepEqual([...sink.subjects].sort(), subjects.sort(), 'each message once');
        // deliveries, not sockets: a connection whose message is through is QUIT without waiting
        // (session-pool.ts), and may still be closing at the destination when the slot it had is
        // taken again (route-slots.ts, Limitations)
        assert.ok(sink.maxBusy <= 2, `at most 2 deliveries at once (saw ${sink.maxBusy})`);
      } finally {
        await Promise.all(runners.map((r) => r.stop()));
        for (const t of transports) await t.close();
        for (const s of stores) await s.close();
        await sink.close();
      }
    }));

  void test("a dead node's slots come back when they run out", () =>
    withTestDatabase(async (db) => {
      const a = await PgQueueStore.open(db.url, { owner: 'a', leaseMs: 1000 });
      const b = await PgQueueStore.open(db.url, { owner: 'b', leaseMs: 1000 });
      try {
        const held = await a.leases.routeSlot('smtp:x.example', 1);
        assert.ok(held, 'A takes the one slot');
        assert.equal(await b.leases.routeSlot('smtp:x.example', 1), undefined, 'B finds none');
        const other = await b.leases.routeSlot('smtp:y.example', 1);
        assert.ok(other, 'another route has its own');
        await other();
        // A stops renewing (it died); B gets the slot once A's time has run out
        a.leases.close();
        const got = await waitFor('the slot of the dead node', () => b.leases.routeSlot('smtp:x.example', 1), 10_000);
        await got();
        // a released slot is free at once
        const again = await b.leases.routeSlot('smtp:x.example', 1);
        assert.ok(again);
        await again();
      } finally {
        await a.close();
        await b.close();
      }
    }));
});
