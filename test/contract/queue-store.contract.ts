/**
 * @module queue-store-contract
 * The behaviour every QueueStore backend must have (files, PostgreSQL, ...). A backend's test
 * calls queueStoreContract(name, makeStore) and gets one node:test suite.
 * Standards: RFC 5321 §6.1 (accept only what is stored), DESIGN.md §1 (store once, one envelope
 *   per recipient).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MailError, type Envelope, type EnvelopeInit, type QueueStore } from '../../src/core/index.js';
import { listQueuePage, pageOfIds } from '../../src/queue/queue-control.js';

export interface ContractStore {
  store: QueueStore;
  /** closes the store and removes everything it made */
  cleanup(): Promise<void>;
  /** closes `store` and opens the same storage again (to check persistence); optional */
  reopen?(): Promise<QueueStore>;
}

export function envelopeInit(recipient: string, extra: Partial<EnvelopeInit> = {}): EnvelopeInit {
  const [local, domain] = recipient.split('@');
  return {
    sender: { local: 'helvecio', domain: 'dsc.ufpb.br' },
    recipient: { local, domain },
    route: { transport: 'local', nextHop: recipient },
    arrivedAt: 1_700_000_000_000,
    size: 0,
    nextAttemptAt: 0,
    dsn: { notify: ['FAILURE', 'DELAY'] },
    ...extra,
  };
}

export async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

async function collect(store: QueueStore): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for await (const e of store.walkEnvelopes()) out.push(e);
  return out;
}

/** Stores one message with the given body and recipients. */
export async function storeMessage(store: QueueStore, body: string | Buffer, rcpts: string[]): Promise<Envelope[]> {
  const draft = await store.createMessage();
  await pipeline(Readable.from([Buffer.from(body)]), draft.body);
  return draft.commit(rcpts.map((r) => envelopeInit(r)));
}

export function queueStoreContract(name: string, makeStore: () => Promise<ContractStore>): void {
  void describe(`QueueStore contract: ${name}`, () => {
    async function withStore(fn: (s: ContractStore) => Promise<void>): Promise<void> {
      const s = await makeStore();
      try {
        await fn(s);
      } finally {
        await s.cleanup();
      }
    }

    void test('prepend puts a header before a body already streamed, small or past 64 KB, and the size counts it; written() reads the body back first', () =>
      withStore(async ({ store }) => {
        for (const size of [100, 300 * 1024]) {
          const draft = await store.createMessage();
          const body = Buffer.alloc(size, 'b');
          body.write('first', 0);
          body.write('last', size - 4);
          await pipeline(Readable.from([body.subarray(0, size >> 1), body.subarray(size >> 1)]), draft.body);
          // what an end-of-data check (rspamd) reads before the header is put in front
          assert.ok((await readAll(draft.written())).equals(body), `the ${size}-octet body read back`);
          const header = Buffer.from('DKIM-Signature: v=1; a=rsa-sha256\r\nSubject: late\r\n\r\n');
          await draft.prepend(header);
          const [e] = await draft.commit([envelopeInit('suzana@dc.uece.br')]);
          assert.equal(e.size, header.length + size);
          const stored = await readAll(await store.openMessage(e.messageId));
          assert.ok(stored.equals(Buffer.concat([header, body])), `the ${size}-octet body with its header`);
        }
      }));

    void test('store once, one envelope per recipient', () =>
      withStore(async ({ store }) => {
        const body = 'Subject: hi\r\n\r\nHello\r\n';
        const envs = await storeMessage(store, body, ['suzana@dc.uece.br', 'pascal@dc.uece.br']);
        assert.equal(envs.length, 2);
        assert.equal(envs[0].messageId, envs[1].messageId);
        assert.notEqual(envs[0].id, envs[1].id);
        for (const e of envs) {
          assert.equal(e.size, Buffer.byteLength(body));
          assert.deepEqual(e.attempts, []);
          assert.equal(e.nextAttemptAt, 0);
        }
        assert.deepEqual(envs.map((e) => e.recipient.local), ['suzana', 'pascal']);
        const walked = await collect(store);
        assert.deepEqual(walked.map((e) => e.id).sort(), envs.map((e) => e.id).sort());
        assert.deepEqual(walked.find((e) => e.id === envs[1].id), envs[1]);
        assert.equal((await readAll(await store.openMessage(envs[0].messageId))).toString(), body);
        assert.equal(await store.messageSize(envs[0].messageId), Buffer.byteLength(body));
        assert.deepEqual(await store.findEnvelope(envs[0].id), envs[0]);
        assert.equal(await store.findEnvelope(`${envs[0].messageId}-999`), undefined);
        assert.equal(await store.findEnvelope('nonsense'), undefined);
      }));

    void test('a draft is invisible until commit, and abort discards it', () =>
      withStore(async ({ store }) => {
        const draft = await store.createMessage();
        draft.body.write('partial');
        assert.deepEqual(await collect(store), []);
        await draft.abort();
        await draft.abort(); // twice is fine
        assert.deepEqual(await collect(store), []);
        await assert.rejects(store.openMessage(draft.id));
      }));

    void test('commit waits for the body to finish', () =>
      withStore(async ({ store }) => {
        const draft = await store.createMessage();
        draft.body.write('line one\r\n');
        const committing = draft.commit([envelopeInit('a@b.example')]);
        setTimeout(() => draft.body.end('line two\r\n'), 20);
        const [env] = await committing;
        assert.equal((await readAll(await store.openMessage(env.messageId))).toString(), 'line one\r\nline two\r\n');
        assert.equal(env.size, 20);
        await draft.abort(); // after a successful commit: no effect
        assert.equal((await collect(store)).length, 1);
      }));

    void test('commit without recipients is refused and leaves nothing', () =>
      withStore(async ({ store }) => {
        const draft = await store.createMessage();
        draft.body.end('x');
        await assert.rejects(draft.commit([]), MailError);
        await draft.abort();
        assert.deepEqual(await collect(store), []);
      }));

    void test('a body stream that fails makes commit fail with a MailError and leaves nothing', () =>
      withStore(async ({ store }) => {
        const draft = await store.createMessage();
        draft.body.write('some');
        draft.body.destroy(new Error('client went away'));
        await assert.rejects(draft.commit([envelopeInit('a@b.example')]));
        await draft.abort();
        assert.deepEqual(await collect(store), []);
      }));

    void test('bodies are streamed: 8 MB in 64 KB chunks round-trips byte for byte', () =>
      withStore(async ({ store }) => {
        const chunk = Buffer.alloc(64 * 1024);
        for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7 + 13) & 0xff;
        const hash = createHash('sha256');
        async function* gen() {
          for (let i = 0; i < 128; i++) {
            chunk[0] = i;
            hash.update(chunk);
            yield Buffer.from(chunk);
          }
        }
        const draft = await store.createMessage();
        await pipeline(Readable.from(gen()), draft.body);
        const [env] = await draft.commit([envelopeInit('big@b.example')]);
        assert.equal(env.size, 128 * 64 * 1024);
        const back = createHash('sha256');
        for await (const c of await store.openMessage(env.messageId)) back.update(c as Buffer);
        assert.equal(back.digest('hex'), hash.digest('hex'));
      }));

    void test('a message given whole to commit (small and over 64 KB) is stored as a streamed one (and survives a reopen)', () =>
      withStore(async (s) => {
        const small = [Buffer.from('Received: x\r\n'), Buffer.from('Subject: whole\r\n'), Buffer.from('\r\nbody\r\n')];
        const line = Buffer.from('y'.repeat(98) + '\r\n');
        const large = [Buffer.from('Subject: large\r\n\r\n'), ...Array.from({ length: 700 }, () => line)];
        const ids: string[] = [];
        for (const pieces of [small, large]) {
          const draft = await s.store.createMessage();
          const [env] = await draft.commit([envelopeInit('whole@b.example')], pieces);
          const expected = Buffer.concat(pieces);
          assert.equal(env.size, expected.length);
          assert.equal(await s.store.messageSize(env.messageId), expected.length);
          assert.ok((await readAll(await s.store.openMessage(env.messageId))).equals(expected));
          ids.push(env.messageId);
        }
        const store = s.reopen ? await s.reopen() : s.store;
        assert.ok((await readAll(await store.openMessage(ids[0]))).equals(Buffer.concat(small)));
        assert.ok((await readAll(await store.openMessage(ids[1]))).equals(Buffer.concat(large)));
        // a draft whose stream was used cannot also be given a body
        const draft = await store.createMessage();
        draft.body.end('x');
        await assert.rejects(draft.commit([envelopeInit('a@b.example')], [Buffer.from('y')]), MailError);
        await draft.abort();
      }));

    void test('putEnvelope replaces one envelope and keeps the others', () =>
      withStore(async ({ store }) => {
        const [a, b] = await storeMessage(store, 'x\r\n', ['a@x.example', 'b@x.example']);
        const updated: Envelope = {
          ...a,
          attempts: [{ at: 5, host: 'mx.x.example', ip: '127.0.0.9', status: '4.4.1', error: 'connection refused' }],
          nextAttemptAt: 12345,
          delayWarnedAt: 7,
          held: true,
        };
        await store.putEnvelope(updated);
        assert.deepEqual(await store.findEnvelope(a.id), updated);
        assert.deepEqual(await store.findEnvelope(b.id), b);
        await assert.rejects(store.putEnvelope({ ...a, id: `${a.messageId}-77` }));
      }));

    void test('the message goes with its last envelope', () =>
      withStore(async ({ store }) => {
        const [a, b] = await storeMessage(store, 'x\r\n', ['a@x.example', 'b@x.example']);
        await store.deleteEnvelope(a.id);
        assert.equal(await store.findEnvelope(a.id), undefined);
        assert.deepEqual((await collect(store)).map((e) => e.id), [b.id]);
        assert.equal((await readAll(await store.openMessage(b.messageId))).toString(), 'x\r\n');
        await store.deleteEnvelope(a.id); // unknown: no effect
        await store.deleteEnvelope(b.id);
        assert.deepEqual(await collect(store), []);
        await assert.rejects(store.openMessage(b.messageId));
      }));

    void test('listing: ids in id order, a walk in that order with each message\'s envelopes together, and from after an id (issue 19)', () =>
      withStore(async ({ store }) => {
        const messages: Envelope[][] = [];
        for (let i = 0; i < 6; i++) messages.push(await storeMessage(store, `m${i}\r\n`, [`a${i}@x.example`, `b${i}@x.example`]));
        const ids = messages.map((m) => m[0].messageId).sort();
        assert.deepEqual(await store.listMessageIds(), ids);
        const walked = await collect(store);
        assert.deepEqual([...new Set(walked.map((e) => e.messageId))], ids, 'messages in id order, each once');
        assert.equal(walked.length, 12);
        const after: Envelope[] = [];
        for await (const e of store.walkEnvelopes(ids[3])) after.push(e);
        assert.deepEqual(after.map((e) => e.id), walked.slice(8).map((e) => e.id), 'the messages after ids[3], nothing of ids[3] itself');
        const none: Envelope[] = [];
        for await (const e of store.walkEnvelopes(ids[5])) none.push(e);
        assert.deepEqual(none, []);
        const one = await store.findMessageEnvelopes(ids[2]);
        assert.deepEqual(one.map((e) => e.id), walked.filter((e) => e.messageId === ids[2]).map((e) => e.id));
        assert.deepEqual(await store.findMessageEnvelopes('nosuchmessage'), []);
      }));

    void test('a page of N messages gives the next page\'s cursor only when one more follows (listQueuePage, pageOfIds)', () =>
      withStore(async ({ store }) => {
        for (let i = 0; i < 4; i++) await storeMessage(store, `p${i}\r\n`, [`a${i}@x.example`, `b${i}@x.example`]);
        const ids = await store.listMessageIds();
        for (const limit of [3, 4, 5]) {
          const page = await listQueuePage(store, { limit });
          assert.deepEqual(page.messages.map((m) => m.messageId), ids.slice(0, limit), `limit ${limit}`);
          assert.equal(page.next, limit < 4 ? ids[limit - 1] : undefined, `limit ${limit}: a cursor only when more follow`);
          const fromIds = await pageOfIds(store, ids, limit);
          assert.deepEqual(fromIds.messages.map((m) => m.messageId), ids.slice(0, limit), `pageOfIds, limit ${limit}`);
          assert.equal(fromIds.next, page.next, `pageOfIds, limit ${limit}`);
        }
        const after = await listQueuePage(store, { limit: 2, after: ids[1] });
        assert.deepEqual(after.messages.map((m) => m.messageId), ids.slice(2));
        assert.equal(after.next, undefined, 'the last two, exactly: no cursor');
        // the one beyond the page is gone: no cursor either
        for (const e of await store.findMessageEnvelopes(ids[3])) await store.deleteEnvelope(e.id);
        assert.equal((await pageOfIds(store, ids, 3)).next, undefined);
        assert.equal((await listQueuePage(store, { limit: 3 })).next, undefined);
      }));

    void test('concurrent commits and concurrent updates of one message lose nothing', () =>
      withStore(async ({ store }) => {
        const all = await Promise.all(Array.from({ length: 40 }, (_, i) => storeMessage(store, `m${i}\r\n`, [`r${i}@x.example`])));
        assert.equal(new Set(all.map((e) => e[0].messageId)).size, 40);
        const envs = await storeMessage(store, 'many\r\n', Array.from({ length: 10 }, (_, i) => `u${i}@x.example`));
        await Promise.all([
          ...envs.slice(0, 5).map((e, i) => store.putEnvelope({ ...e, nextAttemptAt: 1000 + i })),
          ...envs.slice(5).map((e) => store.deleteEnvelope(e.id)),
        ]);
        const left = (await collect(store)).filter((e) => e.messageId === envs[0].messageId);
        assert.deepEqual(left.map((e) => e.nextAttemptAt).sort(), [1000, 1001, 1002, 1003, 1004]);
        assert.equal((await collect(store)).length, 45);
      }));

    void test('every envelope field round-trips, also fields storage does not know (put, find, walk, reopen)', () =>
      withStore(async (s) => {
        // Storage keeps an envelope whole: a field added to Envelope later (or by a newer
        // version) must come back unchanged, never be dropped by a list of known fields.
        const known: Partial<EnvelopeInit> = {
          originalRecipient: { local: 'Orig', domain: 'dc.uece.br' },
          body: '8BITMIME',
          smtpUtf8: true,
          delayWarnedAt: 3,
          state: 'notice-pending',
          notice: 'delay',
          resolvedVia: ['staff@dc.uece.br', 'jacques@dc.uece.br'],
          dsn: { notify: ['SUCCESS'], orcpt: 'rfc822;orig@dc.uece.br', ret: 'HDRS', envid: 'E1' },
        };
        const extra = { futureState: 'queued', futureData: { list: [1, 'two', { three: true }], n: null } };
        const init = { ...envelopeInit('x@dc.uece.br', known), ...extra } as EnvelopeInit;
        const line = Buffer.from('z'.repeat(98) + '\r\n');
        const ids: string[] = [];
        // a small message and one over 64 KB (the files backend stores them differently)
        for (const body of [[Buffer.from('small\r\n')], Array.from({ length: 700 }, () => line)]) {
          const draft = await s.store.createMessage();
          const [env] = await draft.commit([init, envelopeInit('y@dc.uece.br')], body);
          assert.deepEqual(env, { ...init, id: env.id, messageId: draft.id, size: env.size, attempts: [] });
          assert.deepEqual(await s.store.findEnvelope(env.id), env);
          assert.deepEqual((await collect(s.store)).find((e) => e.id === env.id), env);
          const changed = {
            ...env,
            futureState: 'held',
            addedLater: ['a', 'b'],
            state: 'held',
            held: true,
            attempts: [{ at: 9, host: 'mx.dc.uece.br', reply: { code: 451, status: '4.7.1', lines: ['try later'] }, status: '4.7.1' }],
          } as Envelope;
          await s.store.putEnvelope(changed);
          assert.deepEqual(await s.store.findEnvelope(env.id), changed);
          assert.deepEqual((await collect(s.store)).find((e) => e.id === env.id), changed);
          ids.push(env.id);
        }
        const store = s.reopen ? await s.reopen() : s.store;
        for (const id of ids) {
          const back = await store.findEnvelope(id);
          const field = (name: string): unknown => (back as unknown as Record<string, unknown> | undefined)?.[name];
          assert.equal(field('futureState'), 'held');
          assert.deepEqual(field('addedLater'), ['a', 'b']);
          assert.deepEqual(field('futureData'), extra.futureData);
          assert.deepEqual(back?.resolvedVia, known.resolvedVia);
          assert.deepEqual([back?.state, back?.notice, back?.held], ['held', 'delay', true]);
          assert.deepEqual(back?.attempts[0].reply?.lines, ['try later']);
          assert.deepEqual((await collect(store)).find((e) => e.id === id), back);
        }
      }));

    void test('committed messages survive a reopen', async (t) => {
      const s = await makeStore();
      try {
        if (!s.reopen) {
          t.skip('backend gives no reopen()');
          return;
        }
        const envs = await storeMessage(s.store, 'persist\r\n', ['p@x.example', 'q@x.example']);
        await s.store.putEnvelope({ ...envs[1], nextAttemptAt: 99 });
        const three = await storeMessage(s.store, 'three\r\n', ['r@x.example', 's@x.example', 't@x.example']);
        await s.store.deleteEnvelope(three[1].id);
        await s.store.putEnvelope({ ...three[2], held: true });
        const gone = await storeMessage(s.store, 'gone\r\n', ['u@x.example']);
        await s.store.deleteEnvelope(gone[0].id);
        const again = await s.reopen();
        const walked = await collect(again);
        assert.deepEqual(walked.map((e) => e.id).sort(), [...envs, three[0], three[2]].map((e) => e.id).sort());
        assert.equal((await again.findEnvelope(envs[1].id))?.nextAttemptAt, 99);
        assert.equal((await again.findEnvelope(three[2].id))?.held, true);
        assert.equal(await again.findEnvelope(three[1].id), undefined);
        assert.equal((await readAll(await again.openMessage(envs[0].messageId))).toString(), 'persist\r\n');
        assert.equal(await again.messageSize(three[0].messageId), 7);
        await assert.rejects(again.openMessage(gone[0].messageId));
      } finally {
        await s.cleanup();
      }
    });
  });
}
