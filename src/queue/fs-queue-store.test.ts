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
import { crashBody } from '../../test/fixtures/queue-crash-child.js';
import { FsQueueStore, storageError } from './index.js';

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

void test('open() removes leftovers and moves corrupt items aside, never deleting them', async () => {
  const dir = await tmp();
  try {
    let store = await FsQueueStore.open(dir);
    const [good] = await storeMessage(store, 'good\r\n', ['a@x.example']);
    const [noBody] = await storeMessage(store, 'lost\r\n', ['b@x.example']);
    const draft = await store.createMessage(); // never committed: a leftover
    draft.body.write('draft');
    await new Promise((r) => setImmediate(r));
    await store.close();
    await rm(join(dir, 'msg', noBody.messageId)); // an envelope file whose body is missing
    await writeFile(join(dir, 'env', '01aaaaaaaaaaaaaaaa.json'), '{"v":1,"messageId":'); // torn JSON
    await writeFile(join(dir, 'msg', '01aaaaaaaaaaaaaaaa'), 'orphan body of the torn file');
    await writeFile(join(dir, 'env', `.${good.messageId}.json.tmp-1234`), 'half');

    store = await FsQueueStore.open(dir);
    const rep = store.lastRecovery;
    assert.ok(rep);
    assert.equal(rep.messages, 1);
    assert.deepEqual(rep.removed.sort(), [`env/.${good.messageId}.json.tmp-1234`, `msg/${draft.id}`].sort());
    assert.deepEqual(rep.corrupted.sort(), [`${noBody.messageId}.json`, '01aaaaaaaaaaaaaaaa.json', '01aaaaaaaaaaaaaaaa'].sort());
    const corrupt = await readdir(join(dir, 'corrupt'));
    assert.equal(corrupt.length, 3);
    assert.ok(corrupt.some((n) => n.startsWith('01aaaaaaaaaaaaaaaa.json.')));
    const envs: string[] = [];
    for await (const e of store.walkEnvelopes()) envs.push(e.id);
    assert.deepEqual(envs, [good.id]);
    assert.deepEqual(await readdir(join(dir, 'msg')), [good.messageId]);
    await store.close();
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

void test('crash: kill -9 during concurrent commits leaves every acknowledged message complete and nothing half-present', async () => {
  const dir = await tmp();
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'test', 'fixtures', 'queue-crash-child.ts'), dir], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked = new Map<string, number>();
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
        const [id, seed] = l.split(' ');
        acked.set(id, Number(seed));
      }
      if (acked.size >= target) child.kill('SIGKILL');
    });
    const sig = await exited;
    assert.equal(sig, 'SIGKILL', `child ended by itself: ${err}`);
    assert.ok(acked.size >= target);

    const store = await FsQueueStore.open(dir);
    const seen = new Map<string, number>();
    for await (const e of store.walkEnvelopes()) seen.set(e.messageId, (seen.get(e.messageId) ?? 0) + 1);
    for (const [id, seed] of acked) {
      assert.equal(seen.get(id), 2, `acknowledged ${id} has both envelopes`);
      assert.deepEqual(await readAll(await store.openMessage(id)), crashBody(seed));
    }
    // whatever else is visible (committed but not yet printed) is complete too
    for (const [id, n] of seen) {
      assert.equal(n, 2);
      const body = (await readAll(await store.openMessage(id))).toString();
      const seed = Number(/^X-Seed: (\d+)/.exec(body)?.[1]);
      assert.equal(body, crashBody(seed).toString());
    }
    assert.deepEqual((await readdir(join(dir, 'msg'))).sort(), [...seen.keys()].sort(), 'no leftover bodies');
    assert.deepEqual(await readdir(join(dir, 'corrupt')), []);
    assert.ok((await readFile(join(dir, 'lock'), 'utf8')).startsWith(String(process.pid)));
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

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
    // the message and envelope directories, each open once; no file left open
    assert.deepEqual(await openUnder(), [join(dir, 'env'), join(dir, 'msg')]);
    let n = 0;
    for await (const _ of store.walkEnvelopes()) n++;
    assert.equal(n, 13);
    assert.deepEqual((await readdir(join(dir, 'env'))).filter((n) => n.startsWith('.')), [], 'no temporary envelope file left');
    await store.close();
    assert.deepEqual(await openUnder(), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
