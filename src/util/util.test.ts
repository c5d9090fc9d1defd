import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DirSyncer, KeyedMutex, TurnValue, ageBackoff, atomicWriteFile, isUniqueId,
  osCause, parseDuration, parseSize, uniqueId, uniqueIdTimePrefix,
} from './index.js';

void test('osCause: a system error\'s code and where as plain data; none for other errors', async () => {
  const missing = join(tmpdir(), `correio-no-such-${process.pid}`, 'f');
  const err = await readFile(missing).catch((e: unknown) => e);
  assert.deepEqual(osCause(err), { code: 'ENOENT', syscall: 'open', path: missing });
  assert.equal(osCause(Object.assign(new Error('x'), { code: 'SQLITE_BUSY' })), undefined);
  assert.equal(osCause(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' })), undefined);
  assert.equal(osCause({ code: 'ENOENT' }), undefined, 'not an Error');
});

void test('TurnValue reads once per turn of the event loop, again in the next', async () => {
  let reads = 0;
  let source = 'a';
  const value = new TurnValue(() => (reads++, source));
  assert.equal(value.get(), 'a');
  source = 'b';
  assert.equal(value.get(), 'a', 'the same turn keeps its value');
  await Promise.resolve();
  assert.equal(value.get(), 'a', 'microtasks are the same turn');
  assert.equal(reads, 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(value.get(), 'b', 'the next turn reads again');
  assert.equal(reads, 2);
});

void test('parseDuration: units s m h d and combinations', () => {
  const table: [string, number][] = [
    ['30s', 30_000], ['5m', 300_000], ['4h', 14_400_000], ['3d', 259_200_000], ['1h30m', 5_400_000], [' 2D ', 172_800_000],
  ];
  for (const [text, ms] of table) assert.equal(parseDuration(text), ms, text);
  for (const bad of ['', '5', '5x', 'm', '-5m', '1.5h', '5 m']) assert.throws(() => parseDuration(bad), RangeError, bad);
});

void test('parseSize: 1024-based KB MB GB', () => {
  const table: [string | number, number][] = [
    ['25MB', 25 * 1024 * 1024], ['512KB', 512 * 1024], ['1GB', 1024 ** 3], ['1000', 1000], ['10mb', 10 * 1024 * 1024], [42, 42],
  ];
  for (const [text, n] of table) assert.equal(parseSize(text), n, String(text));
  for (const bad of ['', 'MB', '5TB', '-1MB', '1.5MB', -1]) assert.throws(() => parseSize(bad), RangeError, String(bad));
});

void test('backoff: the age in queue, clamped to [min, max]', () => {
  assert.equal(ageBackoff(10, 300, 3600), 300);
  assert.equal(ageBackoff(1000, 300, 3600), 1000);
  assert.equal(ageBackoff(99_999, 300, 3600), 3600);
});

void test('uniqueId: sortable by time, file-name safe, unique', () => {
  const a = uniqueId(1_000_000);
  const b = uniqueId(2_000_000);
  assert.ok(a < b);
  assert.ok(isUniqueId(a));
  assert.equal(a.slice(0, 10), uniqueIdTimePrefix(1_000_000));
  assert.equal(isUniqueId('not-an-id'), false);
  const many = new Set(Array.from({ length: 10_000 }, () => uniqueId()));
  assert.equal(many.size, 10_000);
  for (const id of many) assert.match(id, /^[0-9a-z]{18}$/);
});

void test('atomicWriteFile replaces content and leaves no temporary file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-util-'));
  try {
    const p = join(dir, 'f.json');
    await atomicWriteFile(p, 'one');
    await atomicWriteFile(p, 'two', { syncer: new DirSyncer() });
    assert.equal(await readFile(p, 'utf8'), 'two');
    assert.deepEqual(await readdir(dir), ['f.json']);
    await assert.rejects(atomicWriteFile(join(dir, 'missing', 'x'), 'y'), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('DirSyncer coalesces concurrent callers and starts a fresh fsync for late ones', async () => {
  const log: string[] = [];
  let release!: () => void;
  let calls = 0;
  const syncer = new DirSyncer(async (dir) => {
    calls++;
    log.push(`start ${dir} ${calls}`);
    if (calls === 1) await new Promise<void>((r) => (release = r));
    log.push(`end ${dir} ${calls}`);
  });
  const first = Promise.all([syncer.sync('/d'), syncer.sync('/d')]); // same tick: one fsync
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 1);
  // these arrive while the first fsync runs: they must wait for a second one
  const late = Array.from({ length: 50 }, () => syncer.sync('/d'));
  let lateDone = false;
  void Promise.all(late).then(() => (lateDone = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(calls, 1);
  assert.equal(lateDone, false);
  release();
  await first;
  await Promise.all(late);
  assert.equal(calls, 2, 'fifty late callers share one fsync');
  const other = await Promise.all([syncer.sync('/e'), syncer.sync('/e')]);
  assert.equal(other.length, 2);
  assert.equal(calls, 3, 'callers in the same tick share one fsync');
});

void test('DirSyncer: an fsync asked for while writers are busy waits until as many have left, then one serves them all', async () => {
  let calls = 0;
  const syncer = new DirSyncer(async () => {
    calls++;
  });
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
  // three writers busy in /n; the first to link asks for the fsync
  syncer.enter('/n');
  syncer.enter('/n');
  syncer.enter('/n');
  syncer.leave('/n');
  let firstDone = false;
  const first = syncer.sync('/n').then(() => (firstDone = true));
  // a writer that comes later is not waited for
  syncer.enter('/n');
  await tick();
  await tick();
  assert.equal(calls, 0, 'two writers that were busy have not left');
  syncer.leave('/n');
  const second = syncer.sync('/n');
  await tick();
  assert.equal(calls, 0);
  assert.equal(firstDone, false);
  syncer.leave('/n'); // the later writer: with it, two have left since the first ask
  const third = syncer.sync('/n');
  await Promise.all([first, second, third]);
  assert.equal(calls, 1, 'three callers, one fsync');
  // the last writer fails without linking: it leaves, and an fsync of another directory never waited
  syncer.leave('/n');
  await syncer.sync('/other');
  assert.equal(calls, 2);
  // no writer busy: as before, callers of one tick share one fsync
  await Promise.all([syncer.sync('/n'), syncer.sync('/n')]);
  assert.equal(calls, 3);
});

void test('DirSyncer passes fsync errors to every waiting caller', async () => {
  const syncer = new DirSyncer(async () => {
    throw Object.assign(new Error('EIO'), { code: 'EIO' });
  });
  await assert.rejects(Promise.all([syncer.sync('/x'), syncer.sync('/x')]), { code: 'EIO' });
  await assert.rejects(syncer.sync('/x'), { code: 'EIO' });
});

void test('KeyedMutex serializes per key, not across keys', async () => {
  const m = new KeyedMutex();
  const order: string[] = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await Promise.all([
    m.run('a', async () => { order.push('a1<'); await sleep(20); order.push('a1>'); }),
    m.run('a', async () => { order.push('a2<'); order.push('a2>'); }),
    m.run('b', async () => { order.push('b<'); order.push('b>'); }),
    m.run('a', async () => { throw new Error('boom'); }).catch(() => order.push('a3!')),
  ]);
  assert.deepEqual(order.filter((s) => s.startsWith('a')), ['a1<', 'a1>', 'a2<', 'a2>', 'a3!']);
  assert.ok(order.indexOf('b<') < order.indexOf('a1>'));
  assert.equal(m.busy('a'), false);
});

void test('KeyedMutex: fn starts in a later microtask even with the key free; the key is free when its caller resumes, after a failure too', async () => {
  const m = new KeyedMutex();
  let started = false;
  const p = m.run('k', async () => {
    started = true;
    return 1;
  });
  assert.equal(started, false, 'not run inside the call');
  assert.equal(m.busy('k'), true);
  assert.equal(await p, 1);
  assert.equal(m.busy('k'), false, 'let go before the caller resumes');
  await assert.rejects(m.run('k', () => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(m.busy('k'), false);
  // a sync throw in fn becomes the run's rejection, and the next run still runs
  await assert.rejects(m.run('k', () => { throw new Error('sync'); }), /sync/);
  assert.equal(await m.run('k', async () => 2), 2);
});
