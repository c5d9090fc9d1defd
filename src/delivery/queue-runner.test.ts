import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  channels,
  type DeliveryReport, type DeliveryRequest, type DeliveryStatus, type DsnParams, type Envelope, type MessageId, type Notifier, type Transport,
} from '../core/index.js';
import { MaildirStore } from '../mailbox/index.js';
import { FsQueueStore, RetryScheduler, StoreQueueControl, listQueue } from '../queue/index.js';
import { MaildirTransport } from '../transport/maildir-transport.js';
import { SmtpTransport } from '../transport/smtp-transport.js';
import { DnsResolver } from '../dns/index.js';
import { startScriptedPeer } from '../../test/helpers/scripted-smtp-peer.js';
import { QueueRunner, shutdownError } from './queue-runner.js';

const min = 60_000;
const h = 60 * min;
const t0 = 1_700_000_000_000;
const body = 'From: helvecio@dsc.ufpb.br\r\nSubject: teste\r\n\r\nOla\r\n';

class FakeClock {
  t = t0;
  now(): number {
    return this.t;
  }
}

type Script = (req: DeliveryRequest, call: number) => DeliveryStatus[] | Promise<DeliveryStatus[]>;

/** A transport whose results are scripted per call; it reads the whole message like a real one. */
class ScriptedTransport implements Transport {
  readonly name = 'test';
  calls: string[][] = [];
  active = 0;
  maxActive = 0;
  /** while set, every delivery waits for it (so that deliveries overlap however slow the submits are) */
  gate: Promise<void> | undefined;
  constructor(private readonly script: Script) {}
  async deliver(req: DeliveryRequest): Promise<DeliveryStatus[]> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.gate;
      const chunks: Buffer[] = [];
      for await (const c of await req.openMessage()) chunks.push(c as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), body);
      await new Promise((r) => setTimeout(r, 5));
      this.calls.push(req.envelopes.map((e) => e.recipient.local));
      return await this.script(req, this.calls.length);
    } finally {
      this.active--;
    }
  }
}

const all = (action: DeliveryStatus['action'], status: DeliveryStatus['status'], extra: Partial<DeliveryStatus> = {}): Script =>
  (req) => req.envelopes.map((e) => ({ envelopeId: e.id, action, status, ...extra }));

class RecordingNotifier implements Notifier {
  calls: { kind: string; messageId: MessageId; reports: DeliveryReport[] }[] = [];
  failures = 0;
  constructor(private readonly store?: FsQueueStore) {}
  async notify(kind: 'failure' | 'delay' | 'success', messageId: MessageId, reports: readonly DeliveryReport[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('intake refused the notice (451)');
    }
    // a real notifier reads the original: it must still be there
    if (this.store) await (await this.store.openMessage(messageId)).toArray();
    this.calls.push({ kind, messageId, reports: [...reports] });
  }
}

interface Rig {
  dir: string;
  store: FsQueueStore;
  mail: MaildirStore;
  clock: FakeClock;
  notifier: RecordingNotifier;
  runner: QueueRunner;
  transport: ScriptedTransport;
  /** commits a message and (unless `enqueue` is false: as found in the spool at start) hands it to the runner */
  submit(rcpts: { to: string; route?: string; dsn?: DsnParams }[], enqueue?: boolean): Promise<Envelope[]>;
  done(): Promise<void>;
}

async function rig(script: Script, opts: { perRouteConcurrency?: number; concurrency?: number; delayWarning?: number; dir?: string; decisions?: { n: number } } = {}): Promise<Rig> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'correio-runner-')));
  const store = await FsQueueStore.open(join(dir, 'spool'));
  const mail = new MaildirStore(join(dir, 'mail'), { hostname: 'mx' });
  const clock = new FakeClock();
  const notifier = new RecordingNotifier(store);
  const transport = new ScriptedTransport(script);
  const scheduler = new RetryScheduler({ retryMin: 5 * min, retryMax: h, maxQueueLifetime: 3 * 24 * h, delayWarning: opts.delayWarning ?? 4 * h });
  const decisions = opts.decisions;
  if (decisions) {
    const decide = scheduler.decide.bind(scheduler);
    scheduler.decide = (env, now) => {
      decisions.n++;
      return decide(env, now);
    };
  }
  const runner = new QueueRunner({
    store,
    scheduler,
    transports: new Map<string, Transport>([['local', new MaildirTransport({ mailboxes: mail })], ['test', transport]]),
    notifier,
    clock,
    concurrency: opts.concurrency ?? 10,
    perRouteConcurrency: opts.perRouteConcurrency ?? 4,
    pollIntervalMs: 0,
  });
  return {
    dir, store, mail, clock, notifier, runner, transport,
    async submit(rcpts, enqueue = true) {
      const draft = await store.createMessage();
      await pipeline(Readable.from([body]), draft.body);
      const envs = await draft.commit(rcpts.map((r) => {
        const [local, domain] = r.to.split('@');
        return {
          sender: { local: 'helvecio', domain: 'dsc.ufpb.br' },
          recipient: { local, domain },
          route: r.route === undefined ? { transport: 'local', nextHop: r.to } : { transport: 'test', nextHop: r.route },
          arrivedAt: clock.now(),
          size: 0,
          nextAttemptAt: 0,
          dsn: r.dsn ?? {},
        };
      }));
      if (enqueue) runner.enqueue(envs);
      return envs;
    },
    async done() {
      await runner.stop();
      await store.close();
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

async function queued(store: FsQueueStore): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for await (const e of store.walkEnvelopes()) out.push(e);
  return out;
}

/** advances the fake clock and runs what became due */
async function advance(r: Rig, ms: number): Promise<void> {
  r.clock.t += ms;
  r.runner.wake();
  await r.runner.idle();
}

void test('local delivery: each recipient gets the message in its Maildir; the spool is emptied', async () => {
  const r = await rig(all('delivered', '2.0.0'));
  try {
    await r.runner.start();
    await r.submit([{ to: 'suzana@dc.uece.br' }, { to: 'pascal@dc.uece.br' }]);
    await r.runner.idle();
    for (const u of ['suzana@dc.uece.br', 'pascal@dc.uece.br']) {
      const [m] = await r.mail.list(u);
      const text = Buffer.concat(await (await r.mail.open(u, m.key)).toArray()).toString();
      assert.equal(text, `Return-Path: <helvecio@dsc.ufpb.br>\r\nDelivered-To: ${u}\r\n${body}`);
    }
    assert.deepEqual(await queued(r.store), []);
    assert.deepEqual(await r.store.listMessageIds(), [], 'the messages went with their last envelopes');
    assert.equal(r.notifier.calls.length, 0);
  } finally {
    await r.done();
  }
});

void test('batch by route; deferred then delivered: one request per route, attempt recorded, retried when due', async () => {
  const r = await rig(async (req, call) =>
    call === 1
      ? req.envelopes.map((e) => ({ envelopeId: e.id, action: 'delayed', status: '4.4.1', remoteMta: 'mx.dc.uece.br', ip: '127.0.0.3', error: 'connection refused' }))
      : req.envelopes.map((e) => ({ envelopeId: e.id, action: 'relayed', status: '2.0.0', remoteMta: 'mx.dc.uece.br' })));
  const seen: unknown[] = [];
  const onDeferred = (m: unknown): void => void seen.push(m);
  subscribe(channels.deferred, onDeferred);
  try {
    await r.runner.start();
    const envs = await r.submit(['suzana', 'jacques', 'pascal'].map((u) => ({ to: `${u}@dc.uece.br`, route: 'dc.uece.br' })));
    await r.runner.idle();
    assert.deepEqual(r.transport.calls, [['suzana', 'jacques', 'pascal']]);
    const after = await queued(r.store);
    assert.equal(after.length, 3);
    for (const e of after) {
      assert.deepEqual(e.attempts, [{ at: t0, status: '4.4.1', host: 'mx.dc.uece.br', ip: '127.0.0.3', error: 'connection refused' }]);
      assert.equal(e.nextAttemptAt, t0 + 5 * min);
    }
    assert.equal(seen.length, 3);
    await advance(r, 4 * min); // not yet due
    assert.equal(r.transport.calls.length, 1);
    await advance(r, min);
    assert.equal(r.transport.calls.length, 2);
    assert.deepEqual(await queued(r.store), []);
    assert.equal(r.notifier.calls.length, 0);
    assert.equal(envs.length, 3);
  } finally {
    unsubscribe(channels.deferred, onDeferred);
    await r.done();
  }
});

void test('neverTried: the envelopes enqueued so are told to their first try only; a retry and other envelopes are not', async () => {
  const told: (string[] | undefined)[] = [];
  const r = await rig(async (req, call) => {
    told.push(req.neverTried && [...req.neverTried].sort());
    return req.envelopes.map((e) => (call === 1 ? { envelopeId: e.id, action: 'delayed', status: '4.4.1', error: 'busy' } : { envelopeId: e.id, action: 'relayed', status: '2.0.0' }));
  });
  try {
    // enqueued before the start: the start's look at the spool cannot have found them first
    // (a runner that knows an envelope already keeps it as it knows it, not as never tried)
    const envs = await r.submit([{ to: 'suzana@dc.uece.br', route: 'dc.uece.br' }, { to: 'jacques@dc.uece.br', route: 'dc.uece.br' }], false);
    r.runner.enqueue(envs, { neverTried: true });
    await r.runner.start();
    await r.runner.idle();
    await advance(r, 5 * min); // the retry
    await r.submit([{ to: 'pascal@dc.uece.br', route: 'dc.uece.br' }]);
    await r.runner.idle();
    assert.deepEqual(told, [envs.map((e) => e.id).sort(), undefined, undefined]);
    assert.equal(r.transport.calls.length, 3);
    assert.deepEqual(await queued(r.store), []);
  } finally {
    await r.done();
  }
});

void test('permanent failures: one failure notice per message listing every failed recipient, across routes', async () => {
  const r = await rig((req) =>
    req.envelopes.map((e) => e.recipient.local === 'pascal'
      ? { envelopeId: e.id, action: 'relayed' as const, status: '2.0.0' as const }
      : { envelopeId: e.id, action: 'failed' as const, status: '5.1.1' as const, reply: { code: 550, status: '5.1.1' as const, lines: ['No such user here'] } }));
  try {
    await r.runner.start();
    await r.submit([
      { to: 'jacques@dc.uece.br', route: 'dc.uece.br' },
      { to: 'pascal@dc.uece.br', route: 'dc.uece.br' },
      { to: 'maria@other.example', route: 'other.example' },
      { to: 'suzana@dc.uece.br' }, // local: delivered
    ]);
    await r.runner.idle();
    assert.equal(r.transport.calls.length, 2);
    assert.equal(r.notifier.calls.length, 1);
    const [n] = r.notifier.calls;
    assert.equal(n.kind, 'failure');
    assert.deepEqual(n.reports.map((x) => [x.envelope.recipient.local, x.result.status, x.result.reply?.code]).sort(), [
      ['jacques', '5.1.1', 550], ['maria', '5.1.1', 550],
    ]);
    assert.deepEqual(await queued(r.store), []);
    assert.equal((await r.mail.list('suzana@dc.uece.br')).length, 1);
  } finally {
    await r.done();
  }
});

void test('NOTIFY=NEVER: a failure is dropped without notice; NOTIFY=SUCCESS: a success notice', async () => {
  const r = await rig((req) => req.envelopes.map((e) => e.recipient.local === 'a'
    ? { envelopeId: e.id, action: 'failed' as const, status: '5.1.1' as const }
    : { envelopeId: e.id, action: 'delivered' as const, status: '2.0.0' as const }));
  try {
    await r.runner.start();
    await r.submit([{ to: 'a@x.example', route: 'x.example', dsn: { notify: ['NEVER'] } }]);
    await r.submit([{ to: 'b@x.example', route: 'x.example', dsn: { notify: ['SUCCESS'] } }]);
    await r.runner.idle();
    assert.deepEqual(r.notifier.calls.map((c) => [c.kind, c.reports.map((x) => x.envelope.recipient.local)]), [['success', ['b']]]);
    assert.deepEqual(await queued(r.store), []);
  } finally {
    await r.done();
  }
});

void test('delay warning once after delay_warning; expiry after max_queue_lifetime bounces with 5.4.7', async () => {
  const r = await rig(all('delayed', '4.4.1', { remoteMta: 'mx.x.example', reply: { code: 421, status: '4.4.1', lines: ['try later'] } }), { delayWarning: 30 * min });
  try {
    await r.runner.start();
    await r.submit([{ to: 'a@x.example', route: 'x.example' }, { to: 'b@x.example', route: 'x.example' }]);
    await r.runner.idle();
    for (let i = 0; i < 6; i++) await advance(r, h); // many retries over six hours
    const delays = r.notifier.calls.filter((c) => c.kind === 'delay');
    assert.equal(delays.length, 1, 'one delay warning per message');
    assert.equal(delays[0].reports.length, 2);
    for (const e of await queued(r.store)) assert.ok(e.delayWarnedAt !== undefined);
    const before = r.transport.calls.length;
    await advance(r, 3 * 24 * h); // past the lifetime: one last try, then give up
    assert.equal(r.transport.calls.length, before + 1);
    const failures = r.notifier.calls.filter((c) => c.kind === 'failure');
    assert.equal(failures.length, 1);
    assert.deepEqual(failures[0].reports.map((x) => x.result.status), ['5.4.7', '5.4.7']);
    assert.match(failures[0].reports[0].result.error ?? '', /delivery time expired; last error: 421 4\.4\.1 try later/);
    assert.equal(failures[0].reports[0].result.remoteMta, 'mx.x.example');
    assert.deepEqual(await queued(r.store), []);
  } finally {
    await r.done();
  }
});

void test('a failing notifier never loses the notice: the envelope stays and the notice is retried, not the delivery', async () => {
  const r = await rig(all('failed', '5.1.1'));
  try {
    r.notifier.failures = 1;
    await r.runner.start();
    const [env] = await r.submit([{ to: 'jacques@dc.uece.br', route: 'dc.uece.br' }]);
    await r.runner.idle();
    assert.equal(r.notifier.calls.length, 0);
    const [kept] = await queued(r.store);
    assert.equal(kept.id, env.id);
    assert.equal(kept.attempts.at(-1)?.status, '5.1.1');
    assert.ok(kept.nextAttemptAt > t0);
    await advance(r, h);
    assert.equal(r.transport.calls.length, 1, 'not delivered again');
    assert.equal(r.notifier.calls.length, 1);
    assert.equal(r.notifier.calls[0].reports[0].result.status, '5.1.1');
    assert.deepEqual(await queued(r.store), []);
  } finally {
    await r.done();
  }
});

void test('a notice pending when the process dies is sent after the restart, once; the delivery is not repeated', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-runner-'));
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const first = await rig(all('failed', '5.1.1'), { dir });
  try {
    // the process "dies" while the notice is being sent: the notifier never returns
    first.notifier.notify = async () => {
      await gate;
      throw new Error('the process died');
    };
    await first.runner.start();
    await first.submit([{ to: 'jacques@dc.uece.br', route: 'dc.uece.br' }]);
    let stored: Envelope | undefined;
    for (let i = 0; i < 500 && stored?.state !== 'notice-pending'; i++) {
      await new Promise((r) => setTimeout(r, 10));
      [stored] = await queued(first.store);
    }
    assert.deepEqual([stored?.state, stored?.notice, stored?.attempts.at(-1)?.status], ['notice-pending', 'failure', '5.1.1'], 'the outcome is stored before the notice goes');

    const second = await rig(all('delivered', '2.0.0'), { dir });
    await second.runner.start();
    await second.runner.idle();
    assert.equal(second.transport.calls.length, 0, 'not delivered again');
    assert.deepEqual(second.notifier.calls.map((c) => [c.kind, c.reports.map((x) => [x.result.action, x.result.status])]), [['failure', [['failed', '5.1.1']]]]);
    assert.deepEqual(await queued(second.store), []);
    await second.done();
  } finally {
    release();
    await first.runner.stop();
    await first.store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

void test('an envelope written before states existed: its recorded failure gets its notice, a held one stays held', async () => {
  const r = await rig(all('delivered', '2.0.0'));
  try {
    // in the spool at start, not handed to the runner (the start reads them)
    const [failed] = await r.submit([{ to: 'a@x.example', route: 'x.example' }], false);
    const [held] = await r.submit([{ to: 'b@x.example', route: 'x.example' }], false);
    // the shapes an older correio wrote: no state; a final status as the last attempt; a hold flag
    await r.store.putEnvelope({ ...failed, attempts: [{ at: t0, status: '5.1.1', error: 'no such user' }] });
    await r.store.putEnvelope({ ...held, held: true });
    await r.runner.start();
    await r.runner.idle();
    assert.equal(r.transport.calls.length, 0);
    assert.deepEqual(r.notifier.calls.map((c) => [c.kind, c.reports[0].result.status, c.reports[0].result.error]), [['failure', '5.1.1', 'no such user']]);
    const left = await queued(r.store);
    assert.deepEqual(left.map((e) => e.id), [held.id]);
    assert.deepEqual(r.runner.envelopes().map((e) => e.state), ['held']);
  } finally {
    await r.done();
  }
});

void test('a transport that throws defers its envelopes with 4.3.0 and the error text; no transport → 4.3.5', async () => {
  const r = await rig(() => {
    throw new Error('socket hang up');
  });
  try {
    await r.runner.start();
    await r.submit([{ to: 'a@x.example', route: 'x.example' }]);
    const draft = await r.store.createMessage();
    await pipeline(Readable.from([body]), draft.body);
    r.runner.enqueue(await draft.commit([{ sender: null, recipient: { local: 'b', domain: 'y' }, route: { transport: 'nope', nextHop: 'y' }, arrivedAt: t0, size: 0, nextAttemptAt: 0, dsn: {} }]));
    await r.runner.idle();
    const byLocal = new Map((await queued(r.store)).map((e) => [e.recipient.local, e.attempts[0]]));
    assert.deepEqual([byLocal.get('a')?.status, byLocal.get('a')?.error], ['4.3.0', 'socket hang up']);
    assert.equal(byLocal.get('b')?.status, '4.3.5');
  } finally {
    await r.done();
  }
});

void test('recovery: what was committed before a crash is delivered at start, a delivery already made is not repeated', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-runner-'));
  try {
    const first = await rig(all('delivered', '2.0.0'), { dir });
    const envs = await first.submit([{ to: 'suzana@dc.uece.br' }, { to: 'pascal@dc.uece.br' }]);
    // the runner was never started (the process "died"); but suzana's copy was already written
    await first.mail.deliver('suzana@dc.uece.br', Readable.from(['Return-Path: <helvecio@dsc.ufpb.br>\r\n', 'Delivered-To: suzana@dc.uece.br\r\n', body]), { uniqueKey: envs[0].id });
    await first.done();

    const second = await rig(all('delivered', '2.0.0'), { dir });
    await second.runner.start();
    await second.runner.idle();
    assert.equal((await second.mail.list('suzana@dc.uece.br')).length, 1, 'not twice');
    assert.equal((await second.mail.list('pascal@dc.uece.br')).length, 1);
    assert.deepEqual(await queued(second.store), []);
    await second.done();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('concurrency limits: per route and in total', async () => {
  const r = await rig(all('relayed', '2.0.0'), { perRouteConcurrency: 1, concurrency: 3 });
  try {
    await r.runner.start();
    for (let i = 0; i < 5; i++) await r.submit([{ to: `u${i}@a.example`, route: 'a.example' }]);
    await r.runner.idle();
    assert.equal(r.transport.maxActive, 1);
    assert.equal(r.transport.calls.length, 5);
    r.transport.maxActive = 0;
    // the deliveries wait until all 8 are queued: a submit's fsync can outlast a delivery
    let open!: () => void;
    r.transport.gate = new Promise<void>((res) => (open = res));
    for (let i = 0; i < 8; i++) await r.submit([{ to: `u${i}@d${i}.example`, route: `d${i}.example` }]);
    open();
    await r.runner.idle();
    assert.equal(r.transport.maxActive, 3, 'eight routes at once, three in total');
    assert.deepEqual(await queued(r.store), []);
  } finally {
    await r.done();
  }
});

void test('operator actions: hold/release, bounce (offline, via StoreQueueControl) and delete', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-runner-'));
  try {
    // server stopped: the CLI works on the store directly
    const offline = await rig(all('delayed', '4.4.1'), { dir });
    const [held] = await offline.submit([{ to: 'a@x.example', route: 'x.example' }]);
    const [bounced] = await offline.submit([{ to: 'b@x.example', route: 'x.example' }]);
    const control = new StoreQueueControl(offline.store, offline.clock);
    assert.equal(await control.hold(held.messageId), 1);
    assert.equal(await control.bounce(bounced.messageId), 1);
    assert.equal((await listQueue(offline.store)).length, 2);
    await offline.done();

    const r = await rig(all('delayed', '4.4.1'), { dir });
    await r.runner.start();
    await r.runner.idle();
    assert.equal(r.transport.calls.length, 0, 'held is not tried, bounced is not tried');
    assert.deepEqual(r.notifier.calls.map((c) => [c.kind, c.reports[0].result.status, c.reports[0].result.error]), [
      ['failure', '5.0.0', 'message bounced by the administrator'],
    ]);
    assert.equal(await r.runner.release(held.messageId), 1);
    await r.runner.idle();
    assert.equal(r.transport.calls.length, 1);
    assert.equal(await r.runner.hold(held.id), 1);
    assert.equal(await r.runner.flush(), 0, 'held envelopes are not flushed');
    assert.equal(await r.runner.delete(held.messageId), 1);
    assert.deepEqual(await queued(r.store), []);
    assert.equal(r.runner.size, 0);
    await r.done();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('online control while a delivery runs: a hold is kept through a temporary failure, flush and bounce wait, delete drops it after', async () => {
  let open = (): void => undefined;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const r = await rig(async (req) => {
    await gate;
    return req.envelopes.map((e) => ({ envelopeId: e.id, action: 'delayed' as const, status: '4.4.1' as const }));
  });
  try {
    await r.runner.start();
    const [e] = await r.submit([{ to: 'a@x.example', route: 'x.example' }]);
    while (r.transport.active === 0) await new Promise((res) => setTimeout(res, 5));
    assert.equal(await r.runner.hold(e.id), 1);
    assert.equal(await r.runner.flush(e.id), 0, 'in delivery: not flushed');
    assert.equal(await r.runner.bounce(e.id), 0, 'in delivery: not bounced');
    open();
    await r.runner.idle();
    const [kept] = await queued(r.store);
    assert.deepEqual([kept.state, kept.held, kept.attempts.length], ['held', true, 1]);
    assert.equal(r.transport.calls.length, 1);
    await advance(r, h);
    assert.equal(r.transport.calls.length, 1, 'held: not tried');
    gate = new Promise<void>((resolve) => (open = resolve));
    assert.equal(await r.runner.release(e.id), 1);
    while (r.transport.active === 0) await new Promise((res) => setTimeout(res, 5));
    assert.equal(await r.runner.delete(e.messageId), 1);
    open();
    await r.runner.idle();
    assert.deepEqual(await queued(r.store), [], 'deleted once its attempt ended');
    assert.equal(r.runner.size, 0);
  } finally {
    open();
    await r.done();
  }
});

void test('flush makes deferred mail due now', async () => {
  const r = await rig((req, call) => req.envelopes.map((e) => ({ envelopeId: e.id, action: call === 1 ? 'delayed' : 'relayed', status: call === 1 ? '4.4.1' : '2.0.0' })));
  try {
    await r.runner.start();
    const [e] = await r.submit([{ to: 'a@x.example', route: 'x.example' }]);
    await r.runner.idle();
    assert.equal((await queued(r.store)).length, 1);
    assert.equal(await r.runner.flush(e.messageId), 1);
    await r.runner.idle();
    assert.equal(r.transport.calls.length, 2);
    assert.deepEqual(await queued(r.store), []);
  } finally {
    await r.done();
  }
});

void test('scheduling work follows due work: a new message does not make the runner look at every deferred envelope', async () => {
  const decisions = { n: 0 };
  // the route is down: everything is deferred for 5 minutes
  const r = await rig(all('delayed', '4.4.1', { error: 'connection refused' }), { decisions, concurrency: 20, perRouteConcurrency: 20 });
  try {
    await r.runner.start();
    for (let i = 0; i < 60; i++) await r.submit([{ to: `u${i}@down.example`, route: 'down.example' }]);
    await r.runner.idle();
    assert.equal(r.transport.calls.length, 60);
    assert.equal((await queued(r.store)).length, 60);
    // one more message: the 60 waiting envelopes are not consulted again
    decisions.n = 0;
    await r.submit([{ to: 'new@down.example', route: 'down.example' }]);
    await r.runner.idle();
    assert.equal(r.transport.calls.length, 61);
    assert.ok(decisions.n >= 1 && decisions.n <= 5, `scheduler consulted ${decisions.n} times for one new envelope`);
    // when they come due, all are tried again
    await advance(r, 5 * min);
    assert.equal(r.transport.calls.length, 122);
  } finally {
    await r.done();
  }
});

/** A runner whose one transport is SMTP to `silent` (a peer that never greets), with its store in `dir`. */
async function silentRig(dir: string, opts: { concurrency?: number; perRouteConcurrency?: number } = {}) {
  const silent = await startScriptedPeer({ script: { GREETING: 'silent' } });
  const store = await FsQueueStore.open(join(dir, 'spool'));
  const smtp = new SmtpTransport({ hostname: 'me.test', dns: new DnsResolver({ servers: ['127.0.0.1:9'], timeoutMs: 300, tries: 1 }), reuse: { idleMs: 0 } });
  const clock = new FakeClock();
  const runner = new QueueRunner({
    store,
    scheduler: new RetryScheduler({ retryMin: 5 * min, retryMax: h, maxQueueLifetime: 3 * 24 * h, delayWarning: 4 * h }),
    transports: new Map<string, Transport>([['smtp', smtp]]),
    notifier: new RecordingNotifier(store),
    clock,
    ...opts,
    pollIntervalMs: 0,
    stopGraceMs: 100,
  });
  /** commits one message to `local`@dc.uece.br routed to the silent peer and hands it to the runner */
  const submit = async (local: string): Promise<Envelope> => {
    const draft = await store.createMessage();
    await pipeline(Readable.from([body]), draft.body);
    const [env] = await draft.commit([{
      sender: { local: 'helvecio', domain: 'dsc.ufpb.br' },
      recipient: { local, domain: 'dc.uece.br' },
      route: { transport: 'smtp', nextHop: `[${silent.host}]:${silent.port}` },
      arrivedAt: clock.now(),
      size: body.length,
      nextAttemptAt: 0,
      dsn: {},
    }]);
    runner.enqueue([env]);
    return env;
  };
  const close = async (): Promise<void> => {
    await runner.stop();
    await smtp.close();
    await silent.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
  return { silent, store, runner, submit, close };
}

void test('stop() aborts a delivery stuck on a silent next hop after the grace: deferred, kept, due at once', async () => {
  // accepts the connection and never greets (the client's greeting timeout is minutes)
  const { silent, store, runner, submit, close } = await silentRig(await mkdtemp(join(tmpdir(), 'correio-runner-')));
  try {
    await runner.start();
    const env = await submit('suzana');
    while (silent.connections === 0) await new Promise((r) => setTimeout(r, 10));
    await runner.stop();
    const left = await queued(store);
    assert.equal(left.length, 1, 'the envelope is still in the spool');
    assert.equal(left[0].id, env.id);
    assert.equal(left[0].attempts.length, 1);
    assert.equal(left[0].attempts[0].error, shutdownError);
    assert.equal(left[0].attempts[0].status, '4.3.0');
    assert.equal(left[0].nextAttemptAt, 0, 'tried again at once after a restart');
    assert.equal((await (await store.openMessage(env.messageId)).toArray()).length > 0, true);
  } finally {
    await close();
  }
});

void test('twelve deliveries waiting on a next hop at once: no MaxListenersExceededWarning on the runner\'s stop signal', async () => {
  // each delivery's session listens to the runner's stop; Node warns past 10 unless told otherwise
  const { silent, store, runner, submit, close } = await silentRig(await mkdtemp(join(tmpdir(), 'correio-runner-')), { concurrency: 20, perRouteConcurrency: 20 });
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  try {
    await runner.start();
    for (let i = 0; i < 12; i++) await submit(`u${i}`);
    while (silent.connections < 12) await new Promise((r) => setTimeout(r, 10));
    // a warning is emitted on the next tick after the listener that passed the limit
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')), []);
    await runner.stop();
    assert.equal((await queued(store)).length, 12, 'every envelope is kept, deferred by the stop');
  } finally {
    process.off('warning', onWarning);
    await close();
  }
});
