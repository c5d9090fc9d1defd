import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { formatReply, type DeliveryRequest, type Envelope, type MailboxStore, type User } from '../core/index.js';
import { MailboxQuota, MaildirStore } from '../mailbox/index.js';
import { MemoryDirectory } from '../../test/helpers/memory-directory.js';
import { MaildirTransport } from './maildir-transport.js';

const body = 'From: helvecio@dsc.ufpb.br\r\nTo: suzana@dc.uece.br\r\nSubject: hi\r\n\r\nOi!\r\n';

function env(id: string, user: string, extra: Partial<Envelope> = {}): Envelope {
  const [local, domain] = user.split('@');
  return {
    id, messageId: 'm1', sender: { local: 'helvecio', domain: 'dsc.ufpb.br' }, recipient: { local, domain },
    route: { transport: 'local', nextHop: user }, arrivedAt: 0, size: body.length, attempts: [], nextAttemptAt: 0, dsn: {}, ...extra,
  };
}

function request(envelopes: Envelope[]): DeliveryRequest & { opened: number } {
  const req = {
    route: envelopes[0].route, messageId: 'm1', sender: envelopes[0].sender, envelopes, size: body.length, opened: 0,
    async openMessage() {
      req.opened++;
      return Readable.from([Buffer.from(body.slice(0, 10)), Buffer.from(body.slice(10))]);
    },
  };
  return req;
}

async function text(r: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

async function withRoot(fn: (store: MaildirStore) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'correio-local-'));
  try {
    await fn(new MaildirStore(root, { hostname: 'mx' }));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const signal = new AbortController().signal;

void test('delivers with Return-Path and Delivered-To on top; a repeated delivery is stored once', () =>
  withRoot(async (store) => {
    const t = new MaildirTransport({ mailboxes: store });
    assert.equal(t.name, 'local');
    const res = await t.deliver(request([env('m1-1', 'suzana@dc.uece.br')]), signal);
    assert.deepEqual(res, [{ envelopeId: 'm1-1', action: 'delivered', status: '2.0.0' }]);
    const [m] = await store.list('suzana@dc.uece.br');
    const got = await text(await store.open('suzana@dc.uece.br', m.key));
    assert.equal(got, `Return-Path: <helvecio@dsc.ufpb.br>\r\nDelivered-To: suzana@dc.uece.br\r\n${body}`);
    assert.equal(m.size, Buffer.byteLength(got));
    await t.deliver(request([env('m1-1', 'suzana@dc.uece.br')]), signal);
    assert.equal((await store.list('suzana@dc.uece.br')).length, 1);
  }));

void test('a copy read into cur/ is found again on a retry; an envelope the queue says was never tried is not looked for there', () =>
  withRoot(async (store) => {
    const t = new MaildirTransport({ mailboxes: store });
    const user = 'suzana@dc.uece.br';
    await t.deliver(request([env('m1-1', user)]), signal);
    const [m] = await store.list(user);
    await store.setFlags(user, m.key, 'S'); // a reader saw it: new/ → cur/ with :2,S
    await t.deliver(request([env('m1-1', user)]), signal);
    assert.equal((await store.list(user)).length, 1, 'a retry finds the copy in cur/');
    // neverTried is the queue's word that no copy can exist (acceptor-intake.ts): cur/ is not
    // looked at, so a copy that did exist is stored again (the look it saves is two stat calls)
    const res = await t.deliver({ ...request([env('m1-1', user)]), neverTried: new Set(['m1-1']) }, signal);
    assert.deepEqual(res, [{ envelopeId: 'm1-1', action: 'delivered', status: '2.0.0' }]);
    assert.equal((await store.list(user)).length, 2);
  }));

void test('a bounce (null sender) gets Return-Path: <>; each recipient of a request gets its own copy', () =>
  withRoot(async (store) => {
    const t = new MaildirTransport({ mailboxes: store });
    const envs = [env('m1-1', 'a@x.example', { sender: null }), env('m1-2', 'b@x.example', { sender: null })];
    const res = await t.deliver(request(envs), signal);
    assert.deepEqual(res.map((r) => r.action), ['delivered', 'delivered']);
    const [m] = await store.list('b@x.example');
    assert.match(await text(await store.open('b@x.example', m.key)), /^Return-Path: <>\r\nDelivered-To: b@x.example\r\n/);
  }));

void test('invalid or vanished mailbox → failed 5.1.1; directory trouble → delayed 4.4.3', () =>
  withRoot(async (store) => {
    const plain = new MaildirTransport({ mailboxes: store });
    const [bad] = await plain.deliver(request([env('m1-1', '../etc@x.example')]), signal);
    assert.deepEqual([bad.action, bad.status, bad.reply?.code], ['failed', '5.1.1', 550]);

    const users = new Map<string, User>([['suzana@dc.uece.br', { address: 'suzana@dc.uece.br', createdAt: 0 }]]);
    let down = false;
    const withDir = new MaildirTransport({
      mailboxes: store,
      directory: {
        async findUser(a) {
          if (down) throw new Error('database is locked');
          return users.get(typeof a === "string" ? a : `${a.local}@${a.domain}`);
        },
      },
    });
    const res = await withDir.deliver(request([env('m1-1', 'suzana@dc.uece.br'), env('m1-2', 'jacques@dc.uece.br')]), signal);
    assert.deepEqual(res.map((r) => [r.action, r.status]), [['delivered', '2.0.0'], ['failed', '5.1.1']]);
    down = true;
    const [d] = await withDir.deliver(request([env('m1-3', 'suzana@dc.uece.br')]), signal);
    assert.deepEqual([d.action, d.status], ['delayed', '4.4.3']);
  }));

void test("deliveries to one mailbox that start in the same turn share the owner's lookup; a later turn looks again", () =>
  withRoot(async (store) => {
    const users = new Map<string, User>([['suzana@dc.uece.br', { address: 'suzana@dc.uece.br', createdAt: 0 }]]);
    const asked: string[] = [];
    const t = new MaildirTransport({
      mailboxes: store,
      directory: {
        async findUser(a) {
          const key = typeof a === 'string' ? a : `${a.local}@${a.domain}`;
          asked.push(key);
          return users.get(key);
        },
      },
    });
    // a burst, as the queue starts it: three requests in one turn, two mailboxes
    const burst = await Promise.all([
      t.deliver(request([env('m1-1', 'suzana@dc.uece.br')]), signal),
      t.deliver(request([env('m2-1', 'suzana@dc.uece.br')]), signal),
      t.deliver(request([env('m3-1', 'jacques@dc.uece.br')]), signal),
    ]);
    assert.deepEqual(burst.map(([r]) => [r.action, r.status]), [['delivered', '2.0.0'], ['delivered', '2.0.0'], ['failed', '5.1.1']]);
    assert.deepEqual(asked.sort(), ['jacques@dc.uece.br', 'suzana@dc.uece.br'], 'one lookup per mailbox for the burst');
    assert.equal((await store.list('suzana@dc.uece.br')).length, 2);
    // the user goes: a delivery that starts in a later turn looks again and fails
    users.delete('suzana@dc.uece.br');
    await new Promise((resolve) => setImmediate(resolve));
    const [gone] = await t.deliver(request([env('m4-1', 'suzana@dc.uece.br')]), signal);
    assert.deepEqual([gone.action, gone.status], ['failed', '5.1.1']);
    assert.equal(asked.length, 3);
  }));

void test('disk full → delayed 4.3.1, quota → delayed 4.2.2, other I/O → delayed 4.3.0, never dropped', async () => {
  const errors: Record<string, string> = { 'full@x': 'ENOSPC', 'quota@x': 'EDQUOT', 'io@x': 'EIO' };
  const failing: MailboxStore = {
    async deliver(user, message) {
      if (!Buffer.isBuffer(message)) message.resume();
      throw Object.assign(new Error(`write failed`), { code: errors[user] });
    },
    list: async () => [], open: async () => Readable.from([]), setFlags: async () => undefined, remove: async () => undefined,
  };
  const t = new MaildirTransport({ mailboxes: failing });
  const res = await t.deliver(request([env('a', 'full@x'), env('b', 'quota@x'), env('c', 'io@x')]), signal);
  assert.deepEqual(res.map((r) => [r.action, r.status]), [['delayed', '4.3.1'], ['delayed', '4.2.2'], ['delayed', '4.3.0']]);
  assert.match(res[2].error ?? '', /write failed/);
});

void test('spool body unreadable → delayed; aborted signal → delayed without touching the mailbox', () =>
  withRoot(async (store) => {
    const t = new MaildirTransport({ mailboxes: store });
    const req = { ...request([env('m1-1', 'a@x')]), openMessage: async () => { throw Object.assign(new Error('gone'), { code: 'ENOENT' }); } };
    const [r] = await t.deliver(req, signal);
    assert.deepEqual([r.action, r.status], ['delayed', '4.3.0']);
    const ac = new AbortController();
    ac.abort();
    const plain = request([env('m1-2', 'a@x')]);
    const [s] = await t.deliver(plain, ac.signal);
    assert.equal(s.action, 'delayed');
    assert.equal(plain.opened, 0);
    assert.deepEqual(await store.list('a@x'), []);
  }));

void test('a message with the quarantine mark goes to the Junk folder, whole; without quarantineFolder it stays in INBOX', () =>
  withRoot(async (store) => {
    const marked = 'Received: from x\r\nX-Correio-Quarantine: DMARC policy of quar.example\r\nFrom: a@quar.example\r\n\r\n' + 'body line\r\n'.repeat(20000);
    const req = (id: string): DeliveryRequest => ({
      route: { transport: 'local', nextHop: 'suzana@dc.uece.br' }, messageId: 'm2', sender: null, size: marked.length,
      envelopes: [env(id, 'suzana@dc.uece.br')],
      // small pieces: the mark is found across chunk boundaries and every octet is kept
      openMessage: () => Promise.resolve(Readable.from(Buffer.from(marked).toString().match(/[\s\S]{1,7}/g)!.map((s) => Buffer.from(s)))),
    });
    const junk = new MaildirTransport({ mailboxes: store, quarantineFolder: 'Junk' });
    assert.equal((await junk.deliver(req('m2-1'), signal))[0].action, 'delivered');
    assert.equal((await store.list('suzana@dc.uece.br')).length, 0);
    const [m] = await store.list('suzana@dc.uece.br', 'Junk');
    assert.ok((await text(await store.open('suzana@dc.uece.br', m.key, 'Junk'))).endsWith(marked));
    // an unmarked message stays in INBOX with quarantineFolder set
    assert.equal((await junk.deliver(request([env('m1-9', 'suzana@dc.uece.br')]), signal))[0].action, 'delivered');
    assert.equal((await store.list('suzana@dc.uece.br')).length, 1);
    // mail_auth.quarantine = "mark": no folder given, the marked message stays in INBOX
    await new MaildirTransport({ mailboxes: store }).deliver(req('m2-2'), signal);
    assert.equal((await store.list('suzana@dc.uece.br')).length, 2);
    // a small marked message (handed to the store whole, not streamed) goes to Junk the same way
    const short = 'Received: from x\r\nX-Correio-Quarantine: DMARC policy of quar.example\r\n\r\nshort\r\n';
    const small = { ...req('m3-1'), messageId: 'm3', size: short.length, openMessage: () => Promise.resolve(Readable.from([Buffer.from(short)])) };
    assert.equal((await junk.deliver(small, signal))[0].action, 'delivered');
    const inJunk = await store.list('suzana@dc.uece.br', 'Junk');
    assert.equal(inJunk.length, 2);
    const texts = await Promise.all(inJunk.map(async (x) => text(await store.open('suzana@dc.uece.br', x.key, 'Junk'))));
    assert.ok(texts.some((t) => t.startsWith('Return-Path: <helvecio@dsc.ufpb.br>\r\nDelivered-To: suzana@dc.uece.br\r\n') && t.endsWith(short)));
    assert.equal((await store.list('suzana@dc.uece.br')).length, 2);
  }));

void test('quota: a full mailbox defers 4.2.2 (452), a message larger than the quota fails 5.2.2 (552), room again delivers', () =>
  withRoot(async (store) => {
    const dir = new MemoryDirectory({ domains: ['dc.uece.br'], users: ['suzana@dc.uece.br'] });
    await dir.setUserQuota('suzana@dc.uece.br', { messages: 1 });
    const quota = new MailboxQuota({ directory: dir, mailboxes: store, defaults: () => ({ storage: 0, messages: 0 }) });
    const t = new MaildirTransport({ mailboxes: store, directory: dir, quota });
    assert.deepEqual(await t.deliver(request([env('q-1', 'suzana@dc.uece.br')]), signal), [{ envelopeId: 'q-1', action: 'delivered', status: '2.0.0' }]);
    const [full] = await t.deliver(request([env('q-2', 'suzana@dc.uece.br')]), signal);
    assert.deepEqual({ ...full, reply: full.reply && formatReply(full.reply) }, { envelopeId: 'q-2', action: 'delayed', status: '4.2.2', reply: '452 4.2.2 Mailbox full' });
    await dir.setUserQuota('suzana@dc.uece.br', { messages: 0, storage: body.length - 1 });
    const [big] = await t.deliver(request([env('q-3', 'suzana@dc.uece.br')]), signal);
    assert.equal(big.action, 'failed');
    assert.equal(big.status, '5.2.2');
    assert.equal(big.reply && formatReply(big.reply), '552 5.2.2 Mailbox full: message larger than the mailbox quota');
    assert.equal((await store.list('suzana@dc.uece.br')).length, 1, 'nothing stored over the quota');
    // the user deletes mail: the deferred message fits now
    await dir.setUserQuota('suzana@dc.uece.br', { messages: 1, storage: null });
    await store.remove('suzana@dc.uece.br', (await store.list('suzana@dc.uece.br'))[0].key);
    assert.equal((await t.deliver(request([env('q-2', 'suzana@dc.uece.br')]), signal))[0].action, 'delivered');
  }));
