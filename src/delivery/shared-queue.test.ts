/**
 * Two queue runners (two nodes) on one PostgreSQL queue: every envelope is delivered once,
 * by whichever node claims it, and a node that dies holding leases is taken over once they
 * run out. Real parts: PgQueueStore, the Maildir transport and store on a temp directory.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DeliveryRequest, DeliveryStatus, Notifier, Transport } from '../core/index.js';
import { MaildirStore } from '../mailbox/index.js';
import { PgQueueStore, RetryScheduler } from '../queue/index.js';
import { MaildirTransport } from '../transport/maildir-transport.js';
import { storeMessage } from '../../test/contract/queue-store.contract.js';
import { pgUnavailable, withTestDatabase } from '../../test/helpers/pg.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';
import { QueueRunner } from './queue-runner.js';

const skip = await pgUnavailable();

/** The real Maildir transport, counting which node delivered which envelope. */
class CountingTransport implements Transport {
  readonly name = 'local';
  constructor(private readonly inner: Transport, private readonly node: string, private readonly log: Map<string, string[]>) {}
  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]> {
    for (const e of req.envelopes) this.log.set(e.id, [...(this.log.get(e.id) ?? []), this.node]);
    return this.inner.deliver(req, signal);
  }
}

const noNotices: Notifier = {
  notify: () => Promise.reject(new Error('no notice expected')),
};

function runnerFor(store: PgQueueStore, mail: MaildirStore, node: string, log: Map<string, string[]>): QueueRunner {
  return new QueueRunner({
    store,
    scheduler: new RetryScheduler({ retryMin: 60_000, retryMax: 600_000, maxQueueLifetime: 86_400_000, delayWarning: 3_600_000 }),
    transports: new Map([['local', new CountingTransport(new MaildirTransport({ mailboxes: mail }), node, log)]]),
    notifier: noNotices,
    pollIntervalMs: 0,
  });
}

async function delivered(root: string): Promise<number> {
  let n = 0;
  for (const user of await readdir(join(root, 'x.example'))) n += (await readdir(join(root, 'x.example', user, 'new'))).length;
  return n;
}

async function drained(store: PgQueueStore): Promise<boolean> {
  for await (const _ of store.walkEnvelopes()) return false;
  return true;
}

void describe('queue runners of two nodes on one PostgreSQL queue', { skip }, () => {
  void test('both nodes know every envelope; each is delivered exactly once', () =>
    withTempDir('correio-shared-', (dir) =>
      withTestDatabase(async (db) => {
        const [a, b] = await Promise.all([PgQueueStore.open(db.url, { owner: 'a' }), PgQueueStore.open(db.url, { owner: 'b' })]);
        const mail = new MaildirStore(join(dir, 'mail'), { hostname: 'cluster' });
        const log = new Map<string, string[]>();
        const ra = runnerFor(a, mail, 'a', log);
        const rb = runnerFor(b, mail, 'b', log);
        try {
          const envs = [];
          for (let i = 0; i < 30; i++) envs.push(...(await storeMessage(a, `Subject: m${i}\r\n\r\nbody ${i}\r\n`, [`u${i % 3}@x.example`, `v${i % 2}@x.example`])));
          // both load the whole queue and race for it
          await Promise.all([ra.start(), rb.start()]);
          while (!(await drained(a))) {
            await Promise.all([ra.idle(), rb.idle()]);
            await Promise.all([ra.rescan(), rb.rescan()]);
          }
          await Promise.all([ra.idle(), rb.idle()]);
          assert.equal(log.size, envs.length);
          for (const e of envs) assert.equal(log.get(e.id)?.length, 1, `${e.id} delivered by ${log.get(e.id)?.join(',')}`);
          assert.equal(await delivered(join(dir, 'mail')), envs.length);
        } finally {
          await Promise.all([ra.stop(), rb.stop()]);
          await a.close();
          await b.close();
        }
      })));

  void test('a node that died holding leases: the other delivers once they run out', () =>
    withTempDir('correio-shared-', (dir) =>
      withTestDatabase(async (db) => {
        const a = await PgQueueStore.open(db.url, { owner: 'a', leaseMs: 1_500 });
        const b = await PgQueueStore.open(db.url, { owner: 'b', leaseMs: 1_500 });
        const mail = new MaildirStore(join(dir, 'mail'), { hostname: 'cluster' });
        const log = new Map<string, string[]>();
        const rb = runnerFor(b, mail, 'b', log);
        try {
          const envs = await storeMessage(a, 'Subject: orphan\r\n\r\nx\r\n', ['u1@x.example', 'u2@x.example']);
          // node A claimed them, then died (no heartbeat, no release)
          assert.equal((await a.leases.claim(envs.map((e) => e.id))).length, 2);
          a.leases.close();
          await rb.start();
          await rb.idle();
          assert.equal(log.size, 0, 'not while A\'s lease lives');
          assert.equal(await drained(b), false);
          while (!(await drained(b))) {
            await new Promise((r) => setTimeout(r, 300));
            await rb.rescan();
            await rb.idle();
          }
          assert.deepEqual([...log.values()], [['b'], ['b']]);
          assert.equal(await delivered(join(dir, 'mail')), 2);
        } finally {
          await rb.stop();
          await a.close();
          await b.close();
        }
      })));
});
