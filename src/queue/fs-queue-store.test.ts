import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MailError } from '../core/index.js';
import { projectRoot } from '../../test/helpers/paths.js';
import { queueStoreContract, readAll, storeMessage } from '../../test/contract/queue-store.contract.js';
import { readSpoolEnvelopes } from '../../test/helpers/spool.js';
import { crashBody } from '../../test/fixtures/queue-crash-child.js';
import { FsQueueStore, spoolFormat, storageError } from './index.js';
import { recoverListed } from './spool-recovery.js';
import { SpoolPaths } from './spool-layout.js';
import { uniqueId } from '../util/index.js';

const tmp = () => mkdtemp(join(tmpdir(), 'correio-spool-'));

queueStoreContract('FsQueueStore', async () => {
  const dir = await tmp();
  let store = await FsQueueStore.open(dir);
  return {
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = await FsQueueStore.open(dir);
      return store;
    },
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

// the same contract for the caching instance a server's delivery side opens
queueStoreContract('FsQueueStore (cache)', async () => {
  const dir = await tmp();
  let store = await FsQueueStore.open(dir, { cache: true });
  return {
    get store() {
      return store;
    },
    async reopen() {
      await store.close();
      store = await FsQueueStore.open(dir, { cache: true });
      return store;
    },
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

void test('a caching store writes every change to disk as a reader sees it, and reads what other processes commit', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir, { cache: true });
    const [a, b] = await storeMessage(store, 'Subject: cached\r\n\r\nbody\r\n', ['a@x.example', 'b@x.example']);
    assert.equal((await readAll(await store.openMessage(a.messageId))).toString(), 'Subject: cached\r\n\r\nbody\r\n');
    // a caching owner commits small messages into a segment; a change moves the message to msg/
    assert.deepEqual(await readdir(join(dir, 'msg')), []);
    await store.putEnvelope({ ...a, nextAttemptAt: 42 });
    assert.deepEqual(await readdir(join(dir, 'msg')), [a.messageId]);
    assert.deepEqual(await readdir(join(dir, 'env')), []);
    await store.deleteEnvelope(b.id);
    assert.deepEqual(await walk(dir), [a.id]);
    const reader = await FsQueueStore.open(dir, { recover: 'never', lock: false });
    assert.equal((await reader.findEnvelope(a.id))?.nextAttemptAt, 42);
    // a message committed by another instance is read from its file
    const [c] = await storeMessage(reader, 'other\r\n', ['c@x.example']);
    assert.equal((await store.findEnvelope(c.id))?.recipient.local, 'c');
    assert.equal((await readAll(await store.openMessage(c.messageId))).toString(), 'other\r\n');
    assert.equal(await store.messageSize(c.messageId), 7);
    await reader.close();
    // the last envelopes go: message and env files with them
    await store.deleteEnvelope(a.id);
    await store.deleteEnvelope(c.id);
    assert.deepEqual(await readdir(join(dir, 'msg')), []);
    assert.deepEqual(await readdir(join(dir, 'env')), []);
    assert.equal(await store.findEnvelope(a.id), undefined);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** The ids of the current envelopes, sorted. */
async function walk(dir: string): Promise<string[]> {
  return (await readSpoolEnvelopes(dir)).map((e) => e.id).sort();
}

void test('one file per message: body, trailer and footer in msg/<id>; no env file until the envelopes change', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir);
    const body = 'Subject: one file\r\n\r\nHello\r\n';
    const [a, b] = await storeMessage(store, body, ['a@x.example', 'b@x.example']);
    assert.deepEqual(await readdir(join(dir, 'msg')), [a.messageId]);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    assert.deepEqual(await readdir(join(dir, 'env')), []);
    const raw = await readFile(join(dir, 'msg', a.messageId));
    assert.equal(raw.subarray(0, Buffer.byteLength(body)).toString(), body);
    const footer = raw.subarray(raw.length - 32);
    assert.equal(footer.subarray(0, 8).toString('latin1'), 'CRQSPOOL');
    assert.equal(footer.readUInt32BE(8), spoolFormat);
    assert.equal(Number(footer.readBigUInt64BE(12)), Buffer.byteLength(body));
    const trailer = JSON.parse(raw.subarray(Buffer.byteLength(body), raw.length - 32).toString()) as { envelopes: { id: string }[] };
    assert.deepEqual(trailer.envelopes.map((e) => e.id), [a.id, b.id]);
    assert.equal(await store.messageSize(a.messageId), Buffer.byteLength(body));
    assert.equal((await readFile(join(dir, 'format'), 'utf8')), 'correio-spool 3\n');

    // a change writes the override; deleting one envelope keeps the other; the last takes all
    await store.putEnvelope({ ...b, nextAttemptAt: 42 });
    assert.deepEqual(await readdir(join(dir, 'env')), [`${a.messageId}.json`]);
    await store.deleteEnvelope(a.id);
    assert.deepEqual(await walk(dir), [b.id]);
    assert.equal((await store.findEnvelope(b.id))?.nextAttemptAt, 42);
    assert.equal((await readAll(await store.openMessage(a.messageId))).toString(), body, 'the trailer is not part of the body');
    await store.deleteEnvelope(b.id);
    assert.deepEqual(await readdir(join(dir, 'msg')), []);
    assert.deepEqual(await readdir(join(dir, 'env')), []);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('an empty body and a trailer longer than the tail read (many recipients) round-trip', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir);
    const rcpts = Array.from({ length: 300 }, (_, i) => `recipient-number-${i}@x.example`);
    const envs = await storeMessage(store, '', rcpts);
    assert.equal(await store.messageSize(envs[0].messageId), 0);
    assert.equal((await readAll(await store.openMessage(envs[0].messageId))).length, 0);
    assert.ok((await readFile(join(dir, 'msg', envs[0].messageId))).length > 16 * 1024);
    const again = await FsQueueStore.open(dir, { recover: 'never', lock: false });
    assert.equal(again.lastRecovery, undefined);
    assert.deepEqual((await again.findMessageEnvelopes(envs[0].messageId)).map((e) => e.recipient.local), rcpts.map((r) => r.split('@')[0]));
    await again.close();
    await store.close();
    const reopened = await FsQueueStore.open(dir);
    assert.deepEqual(reopened.lastRecovery, { messages: 1, removed: [], corrupted: [] });
    await reopened.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const later of [false, true]) void test(`open() removes leftovers${later ? ' (msg/ and env/ after open: recoverLater)' : ''}, the first walk moves corrupt items aside, never deleting them`, async () => {
  const dir = await tmp();
  try {
    let store = await FsQueueStore.open(dir);
    const [good] = await storeMessage(store, 'good\r\n', ['a@x.example']);
    const [changed, other] = await storeMessage(store, 'changed\r\n', ['a@x.example', 'b@x.example']);
    await store.putEnvelope({ ...changed, nextAttemptAt: 7 });
    const [torn] = await storeMessage(store, 'torn\r\n', ['c@x.example']);
    const [badEnv] = await storeMessage(store, 'bad env\r\n', ['d@x.example', 'e@x.example']);
    await store.deleteEnvelope(badEnv.id); // writes its override
    const [gone] = await storeMessage(store, 'gone\r\n', ['f@x.example', 'g@x.example']);
    await store.deleteEnvelope(gone.id);
    const draft = await store.createMessage(); // never committed: a leftover
    draft.body.write('draft');
    await new Promise((r) => setImmediate(r));
    await store.close();
    // crash windows and damage, made by hand
    await rm(join(dir, 'msg', gone.messageId)); // the last envelope's deletion stopped between its two unlinks
    const tornPath = join(dir, 'msg', torn.messageId);
    const tornBytes = await readFile(tornPath);
    await writeFile(tornPath, tornBytes.subarray(0, tornBytes.length - 5)); // footer cut
    await writeFile(join(dir, 'env', `${badEnv.messageId}.json`), '{"v":1,"messageId":'); // torn override
    await writeFile(join(dir, 'env', `.${good.messageId}.json.tmp-1234`), 'half');
    await writeFile(join(dir, 'msg', 'NOT-AN-ID'), 'stray');

    store = await FsQueueStore.open(dir, { recoverLater: later });
    if (later) {
      // before anything is accepted: tmp/ emptied and the segments recovered, msg/ and env/ not listed yet
      assert.deepEqual(store.lastRecovery?.removed, [`tmp/${draft.id}`]);
      assert.ok(existsSync(join(dir, 'env', `${gone.messageId}.json`)), 'the orphan waits for the listing');
      // a change beside the recovery: its override is written under the message's lock, never taken for a leftover
      assert.equal(store.recovered, undefined, 'not before recoverRest()');
      const rest = store.recoverRest();
      await store.putEnvelope({ ...changed, nextAttemptAt: 7 });
      assert.equal(await rest, store.lastRecovery);
      assert.equal(store.recoverRest(), rest, 'once');
    } else assert.equal(store.recovered, undefined);
    const rep = store.lastRecovery;
    assert.ok(rep);
    // message files are counted, not read (issue 19: a restart must not read a big queue twice);
    // damage inside one shows at its first read, which the delivering instance's walk at start does
    assert.equal(rep.messages, 4);
    assert.deepEqual(rep.removed.sort(), [`env/${gone.messageId}.json`, `env/.${good.messageId}.json.tmp-1234`, `tmp/${draft.id}`].sort());
    assert.deepEqual(rep.corrupted, ['NOT-AN-ID']);
    const envs: string[] = [];
    for await (const e of store.walkEnvelopes()) envs.push(e.id);
    assert.deepEqual(envs.sort(), [good.id, changed.id, other.id].sort());
    const corrupt = await readdir(join(dir, 'corrupt'));
    assert.equal(corrupt.length, 4);
    assert.ok(corrupt.some((n) => n.startsWith(`${badEnv.messageId}.json.`)));
    assert.ok(corrupt.some((n) => n.startsWith(`${torn.messageId}.`)));
    assert.equal((await store.findEnvelope(changed.id))?.nextAttemptAt, 7, 'the override wins over the trailer');
    assert.deepEqual((await readdir(join(dir, 'msg'))).sort(), [good.messageId, changed.messageId].sort());
    assert.deepEqual(await readdir(join(dir, 'env')), [`${changed.messageId}.json`]);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a walk moves a message with a damaged footer to corrupt/ and goes on; openMessage refuses it', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir);
    const [a] = await storeMessage(store, 'first\r\n', ['a@x.example']);
    const [b] = await storeMessage(store, 'second\r\n', ['b@x.example']);
    const path = join(dir, 'msg', a.messageId);
    const bytes = await readFile(path);
    bytes[bytes.length - 20] ^= 0xff; // a bit flip in the footer's lengths
    await writeFile(path, bytes);
    await assert.rejects(store.openMessage(a.messageId));
    const ids: string[] = [];
    for await (const e of store.walkEnvelopes()) ids.push(e.id);
    assert.deepEqual(ids, [b.id]);
    assert.equal((await readdir(join(dir, 'corrupt'))).length, 1);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a spool of the older two-file format is refused with a clear error, and left as it was', async () => {
  const dir = await tmp();
  try {
    await mkdir(join(dir, 'msg'), { recursive: true });
    await mkdir(join(dir, 'env'));
    await writeFile(join(dir, 'msg', '01aaaaaaaaaaaaaaaa'), 'old body\r\n');
    await writeFile(join(dir, 'env', '01aaaaaaaaaaaaaaaa.json'), '{"v":1}');
    await assert.rejects(FsQueueStore.open(dir), /older correio.*spool formats 2 and 3/);
    assert.equal(existsSync(join(dir, 'format')), false);
    assert.equal(existsSync(join(dir, 'lock')), false);
    assert.deepEqual(await readdir(join(dir, 'msg')), ['01aaaaaaaaaaaaaaaa']);
    await writeFile(join(dir, 'format'), 'correio-spool 9\n');
    await assert.rejects(FsQueueStore.open(dir), /unsupported format "correio-spool 9"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a second instance while the owner lives does not recover (it would eat live drafts)', async () => {
  const dir = await tmp();
  try {
    const owner = await FsQueueStore.open(dir);
    assert.equal(owner.owner, true);
    const draft = await owner.createMessage();
    draft.body.write('in flight');
    const other = await FsQueueStore.open(dir);
    assert.equal(other.owner, false);
    assert.equal(other.lastRecovery, undefined);
    draft.body.end();
    const [env] = await draft.commit([{ sender: null, recipient: { local: 'a', domain: 'x' }, route: { transport: 'local', nextHop: 'a@x' }, arrivedAt: 1, size: 0, nextAttemptAt: 0, dsn: {} }]);
    assert.equal((await readAll(await other.openMessage(env.messageId))).toString(), 'in flight');
    await other.close();
    await owner.close();
    assert.equal(existsSync(join(dir, 'lock')), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('storage errors map to 452 4.3.1 (full) and 451 4.3.0 (other)', () => {
  const full = storageError(Object.assign(new Error('no space'), { code: 'ENOSPC' }));
  assert.ok(full instanceof MailError);
  assert.deepEqual([full.reply.code, full.reply.status], [452, '4.3.1']);
  assert.doesNotMatch(full.message, /no space/); // the OS text stays in cause, not in the reply
  const quota = storageError(Object.assign(new Error('quota'), { code: 'EDQUOT' }));
  assert.equal(quota.reply.status, '4.3.1');
  const io = storageError(Object.assign(new Error('io'), { code: 'EIO' }));
  assert.deepEqual([io.reply.code, io.reply.status], [451, '4.3.0']);
});

void test('ids that are not queue ids never become paths', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir);
    await assert.rejects(store.openMessage('../lock'), MailError);
    assert.equal(await store.findEnvelope('../../etc/passwd-1'), undefined);
    assert.deepEqual(await store.findMessageEnvelopes('..'), []);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

for (const segments of [false, true]) {
void test(`crash${segments ? ' (segments)' : ''}: kill -9 during concurrent commits and deletions: every acknowledged state kept, nothing half-present, nothing resurrected`, async () => {
  const dir = await tmp();
  try {
    const args = [join(projectRoot, 'test', 'fixtures', 'queue-crash-child.ts'), dir, ...(segments ? ['segments'] : [])];
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    /** the last acknowledged step of each message: c committed, d first envelope deleted, x gone */
    const acked = new Map<string, { seed: number; step: string }>();
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const target = 40 + Math.floor(Math.random() * 40);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const l of lines) {
        const [id, seed, step] = l.split(' ');
        acked.set(id, { seed: Number(seed), step });
      }
      if (acked.size >= target) child.kill('SIGKILL');
    });
    const sig = await exited;
    assert.equal(sig, 'SIGKILL', `child ended by itself: ${err}`);
    assert.ok(acked.size >= target);

    const store = await FsQueueStore.open(dir);
    const seen = new Map<string, string[]>();
    for await (const e of store.walkEnvelopes()) seen.set(e.messageId, [...(seen.get(e.messageId) ?? []), e.id.slice(-2)].sort());
    for (const [id, { seed, step }] of acked) {
      const envs = seen.get(id);
      // what a deletion in flight at the kill may or may not have done
      const allowed =
        step === 'x' ? [undefined]
        : step === 'd' ? (seed % 4 === 0 ? [['-2'], undefined] : [['-2']])
        : seed % 4 === 0 ? [['-1', '-2'], ['-2'], undefined]
        : seed % 2 === 0 ? [['-1', '-2'], ['-2']]
        : [['-1', '-2']];
      assert.ok(allowed.some((a) => JSON.stringify(a) === JSON.stringify(envs)), `${id} (seed ${seed}, step ${step}): ${JSON.stringify(envs)}`);
      if (envs) assert.deepEqual(await readAll(await store.openMessage(id)), crashBody(seed));
    }
    // whatever else is visible (committed but not yet printed) is complete too
    for (const id of seen.keys()) {
      const body = (await readAll(await store.openMessage(id))).toString();
      const seed = Number(/^X-Seed: (\d+)/.exec(body)?.[1]);
      assert.equal(body, crashBody(seed).toString());
    }
    const files = (await readdir(join(dir, 'msg'))).sort();
    if (segments) {
      // a message whose envelopes changed moved to its own file; the rest are segment records
      assert.ok(files.every((f) => seen.has(f)), 'every message file is a whole message');
      assert.ok((await readdir(join(dir, 'seg'))).length > 0);
    } else {
      assert.deepEqual(files, [...seen.keys()].sort(), 'every message file is a whole message');
    }
    assert.deepEqual(await readdir(join(dir, 'tmp')), [], 'drafts removed at recovery');
    assert.ok((await readdir(join(dir, 'env'))).every((n) => seen.has(n.slice(0, -5))), 'no orphaned env file');
    assert.deepEqual(await readdir(join(dir, 'corrupt')), []);
    assert.ok((await readFile(join(dir, 'lock'), 'utf8')).startsWith(String(process.pid)));
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
}

void test('a missing spool directory is created', async () => {
  const dir = await tmp();
  try {
    const nested = join(dir, 'a', 'spool');
    await mkdir(join(dir, 'a'));
    const store = await FsQueueStore.open(nested);
    assert.ok(existsSync(join(nested, 'env')));
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('directory fsyncs go through handles kept open (one per directory), closed by close()', { skip: existsSync('/proc/self/fd') ? false : 'needs /proc/self/fd (Linux)' }, async () => {
  const dir = await tmp();
  const { readlink } = await import('node:fs/promises');
  const openUnder = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const fd of await readdir('/proc/self/fd')) {
      const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
      if (target.startsWith(dir)) out.push(target);
    }
    return out.sort();
  };
  try {
    const store = await FsQueueStore.open(dir);
    for (let i = 0; i < 5; i++) await storeMessage(store, `m${i}\r\n`, ['a@x.example', 'b@x.example']);
    await Promise.all([0, 1, 2].map((i) => storeMessage(store, `c${i}\r\n`, ['c@x.example'])));
    // the message directory, open once; no file left open (no envelope changed: no env/ sync)
    assert.deepEqual(await openUnder(), [join(dir, 'msg')]);
    let n = 0;
    for await (const _ of store.walkEnvelopes()) n++;
    assert.equal(n, 13);
    assert.deepEqual(await readdir(join(dir, 'tmp')), [], 'no draft left');
    assert.deepEqual(await readdir(join(dir, 'env')), [], 'no env file before any change');
    await store.close();
    assert.deepEqual(await openUnder(), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('the recovery\'s listings with many env files: msg/ listed once, orphans and temporaries removed, the rest kept', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir);
    const [kept] = await storeMessage(store, 'kept\r\n', ['a@x.example', 'b@x.example']);
    await store.deleteEnvelope(kept.id); // writes its env file
    await store.close();
    const orphan = `${uniqueId()}.json`;
    await writeFile(join(dir, 'env', orphan), '{}');
    await writeFile(join(dir, 'env', `.${kept.messageId}.json.tmp-ab12`), 'half');
    await writeFile(join(dir, 'msg', 'NOT-AN-ID'), 'stray');
    const report = { messages: 0, removed: [], corrupted: [] };
    // threshold 0: the path a spool with more than 10,000 env files takes
    await recoverListed({ paths: new SpoolPaths(dir), segments: undefined as never, locked: (_id, fn) => fn(), closing: () => false }, report, 0);
    assert.deepEqual(report.removed.sort(), [`env/.${kept.messageId}.json.tmp-ab12`, `env/${orphan}`].sort());
    assert.deepEqual(report.corrupted, ['NOT-AN-ID']);
    assert.equal(report.messages, 1);
    assert.deepEqual(await readdir(join(dir, 'env')), [`${kept.messageId}.json`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
