/**
 * Segments of acceptor processes (`[smtp] processes`; segment-writers.ts): an acceptor store
 * appends to its own segment; the delivering instance (a caching owner) takes its records in
 * by refresh() or at its next listing, never cuts or removes a segment whose writer lives and
 * has not sealed it, and removes it once it is finished and all of it is done (after a delivery
 * that leaves it with nothing live, by itself a moment later when a look a moment before found
 * it open: OpenSegments). A real child process (`sleep`) stands in for the acceptor's pid, so
 * liveness is the OS's answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAll, storeMessage } from '../../test/contract/queue-store.contract.js';
import { writeAt } from '../../test/helpers/spool.js';
import type { Envelope } from '../core/index.js';
import { FsQueueStore, type SegRef } from './index.js';
import { scanSegment } from './segment-log.js';

const tmp = () => mkdtemp(join(tmpdir(), 'correio-acceptor-'));

/** A live process whose pid an acceptor store names, and how to end it. */
async function standIn(): Promise<{ pid: number; end(): Promise<void> }> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const exited = new Promise((r) => child.once('exit', r));
  return {
    pid: child.pid!,
    end: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs `fn` in a new spool directory with `writers` stand-ins, then ends them and removes it. */
async function inSpool(writers: number, fn: (dir: string, standIns: Awaited<ReturnType<typeof standIn>>[]) => Promise<void>): Promise<void> {
  const dir = await tmp();
  const ins: Awaited<ReturnType<typeof standIn>>[] = [];
  try {
    for (let i = 0; i < writers; i++) ins.push(await standIn());
    await fn(dir, ins);
  } finally {
    for (const w of ins) await w.end();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with node:fs/promises' stat wrapped for every module that imports it (the
 * builtin's ESM exports synced): `at` runs once, at the first stat of `path`, before or after
 * the real stat, so that a race's order is fixed. Resolves with whether `at` ran.
 */
async function atFirstStat(path: string, when: 'before' | 'after', at: () => Promise<unknown>, fn: () => Promise<unknown>): Promise<boolean> {
  const fsp = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises');
  const realStat = fsp.stat as (...args: unknown[]) => Promise<unknown>;
  let ran = false;
  fsp.stat = (async (p: string, ...rest: unknown[]) => {
    const hit = p === path && !ran;
    if (hit) ran = true;
    if (hit && when === 'before') await at();
    const st = await realStat(p, ...rest);
    if (hit && when === 'after') await at();
    return st;
  }) as unknown as typeof fsp.stat;
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    fsp.stat = realStat as unknown as typeof fsp.stat;
    syncBuiltinESMExports();
  }
  return ran;
}

void test('acceptor segments: the owner takes records in by refresh or listing, keeps an open segment, removes a finished one', () =>
  inSpool(1, async (dir, [writer]) => {
  const owner = await FsQueueStore.open(dir, { cache: true });
  const acceptor = await FsQueueStore.open(dir, { acceptor: true, segmentPid: writer.pid });
  assert.equal(acceptor.owner, false);
  const [a] = await storeMessage(acceptor, 'Subject: a\r\n\r\nA\r\n', ['a@x.example']);
  const segs = await readdir(join(dir, 'seg'));
  assert.deepEqual(segs, segs.filter((n) => n.endsWith(`u${writer.pid}`)), 'one segment named after its writer');
  // the owner's kept index does not know it until it looks again
  await owner.refresh();
  assert.deepEqual((await owner.findMessageEnvelopes(a.messageId)).map((e) => e.id), [a.id]);
  assert.equal((await readAll(await owner.openMessage(a.messageId))).toString(), 'Subject: a\r\n\r\nA\r\n');
  // the fallback: a listing takes in what was appended since (a notice that never came)
  const [b] = await storeMessage(acceptor, 'Subject: b\r\n\r\nB\r\n', ['b@x.example']);
  assert.deepEqual(await owner.listMessageIds(), [a.messageId, b.messageId].sort());
  // every record delivered, but the writer lives and has not sealed: the segment stays
  await owner.deleteEnvelope(a.id);
  await owner.deleteEnvelope(b.id);
  await owner.refresh();
  assert.ok((await readdir(join(dir, 'seg'))).includes(segs[0]), 'an open segment is kept');
  // appended after all that: still found, nothing delivered twice
  const [c] = await storeMessage(acceptor, 'Subject: c\r\n\r\nC\r\n', ['c@x.example']);
  assert.deepEqual(await owner.listMessageIds(), [c.messageId]);
  await owner.deleteEnvelope(c.id);
  // the acceptor stops (seals its segment): the owner removes it at its next look
  await acceptor.close();
  await owner.refresh();
  assert.deepEqual(await readdir(join(dir, 'seg')), []);
  await owner.close();
  }));

void test('acceptor segments: a notice with the record\'s place is taken in without a scan, and never after a scan has been past it', () =>
  inSpool(1, async (dir, [writer]) => {
  const owner = await FsQueueStore.open(dir, { cache: true });
  const acceptor = await FsQueueStore.open(dir, { acceptor: true, segmentPid: writer.pid });
  const [a] = await storeMessage(acceptor, 'Subject: a\r\n\r\nA\r\n', ['a@x.example']);
  const placed = acceptor.placeOf(a.messageId);
  assert.ok(placed, 'the acceptor knows where the record went');
  assert.equal(Buffer.concat(placed.body).toString(), 'Subject: a\r\n\r\nA\r\n', 'and its body');
  const place = placed.ref;
  assert.equal(acceptor.placeOf(a.messageId), undefined, 'once');
  assert.equal(await owner.adopt(a.messageId, place, [a]), true);
  assert.equal((await readAll(await owner.openMessage(a.messageId))).toString(), 'Subject: a\r\n\r\nA\r\n');
  await owner.deleteEnvelope(a.id);
  // a late second notice of a delivered record, and a notice a scan has overtaken: refused
  assert.equal(await owner.adopt(a.messageId, place, [a]), false);
  const [b] = await storeMessage(acceptor, 'Subject: b\r\n\r\nB\r\n', ['b@x.example']);
  const late = acceptor.placeOf(b.messageId)!.ref;
  assert.deepEqual(await owner.listMessageIds(), [b.messageId]);
  await owner.deleteEnvelope(b.id);
  assert.equal(await owner.adopt(b.messageId, late, [b]), false, 'delivered after a scan found it: not again');
  assert.deepEqual(await owner.listMessageIds(), []);
  // a notice's body (of the record's length) is what the owner delivers: the segment is not read
  const [c] = await storeMessage(acceptor, 'Subject: c\r\n\r\nC\r\n', ['c@x.example']);
  const cPlace = acceptor.placeOf(c.messageId)!.ref;
  assert.equal(await owner.adopt(c.messageId, cPlace, [c], Buffer.from('Subject: c\r\n\r\nZ\r\n')), true);
  assert.equal((await readAll(await owner.openMessage(c.messageId))).toString(), 'Subject: c\r\n\r\nZ\r\n');
  await owner.deleteEnvelope(c.id);
  // one of another length is not taken: the record is read
  const [d] = await storeMessage(acceptor, 'Subject: d\r\n\r\nD\r\n', ['d@x.example']);
  assert.equal(await owner.adopt(d.messageId, acceptor.placeOf(d.messageId)!.ref, [d], Buffer.from('short')), true);
  assert.equal((await readAll(await owner.openMessage(d.messageId))).toString(), 'Subject: d\r\n\r\nD\r\n');
  await owner.deleteEnvelope(d.id);
  // kill -9 after e's 250: the rescan at the exit takes e, it is delivered and the finished
  // segment removed before e's notice is read: that notice is refused (no second delivery)
  const [e] = await storeMessage(acceptor, 'Subject: e\r\n\r\nE\r\n', ['e@x.example']);
  const ePlace = acceptor.placeOf(e.messageId)!;
  await writer.end();
  assert.deepEqual(await owner.listMessageIds(), [e.messageId]);
  await owner.deleteEnvelope(e.id);
  // (found open a moment ago: looked at again a moment later)
  for (let i = 0; i < 200 && (await readdir(join(dir, 'seg'))).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await readdir(join(dir, 'seg')), [], 'finished and all done: removed');
  assert.equal(await owner.adopt(e.messageId, ePlace.ref, [e], Buffer.concat(ePlace.body)), false, 'a notice read after its segment went');
  assert.deepEqual(await owner.listMessageIds(), []);
  await acceptor.close();
  await owner.close();
  }));

void test('acceptor segments: a segment sealed while deliveries follow each other goes without a refresh', () =>
  inSpool(1, async (dir, [writer]) => {
  const owner = await FsQueueStore.open(dir, { cache: true });
  const acceptor = await FsQueueStore.open(dir, { acceptor: true, segmentPid: writer.pid });
  const seg = async (): Promise<string[]> => (await readdir(join(dir, 'seg'))).filter((n) => n.endsWith(`u${writer.pid}`));
  const [a] = await storeMessage(acceptor, 'Subject: a\r\n\r\nA\r\n', ['a@x.example']);
  await owner.refresh();
  // delivered: nothing live, the writer lives and has not sealed: kept (and found open now)
  await owner.deleteEnvelope(a.id);
  assert.equal((await seg()).length, 1, 'an open segment is kept');
  const [b] = await storeMessage(acceptor, 'Subject: b\r\n\r\nB\r\n', ['b@x.example']);
  await owner.refresh();
  // the acceptor stops (seals); its last record is delivered just after the look above
  await acceptor.close();
  await owner.deleteEnvelope(b.id);
  // no refresh, no more deliveries: the segment still goes (a look of its own a moment later)
  for (let i = 0; i < 200 && (await seg()).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(await seg(), [], 'a finished segment with nothing live is removed');
  await owner.close();
  }));

void test('acceptor segments: recovery keeps the torn tail of a live writer and cuts a dead one\'s; a killed writer\'s records are delivered', () =>
  inSpool(1, async (dir, [writer]) => {
  const acceptor = await FsQueueStore.open(dir, { acceptor: true, segmentPid: writer.pid });
  const [a] = await storeMessage(acceptor, 'Subject: a\r\n\r\nA\r\n', ['a@x.example']);
  const seg = (await readdir(join(dir, 'seg')))[0];
  // a record in progress: half a header after the live writer's last record
  await writeAt(join(dir, 'seg', seg), Buffer.from('CRQREC03'), (await scanSegment(join(dir, 'seg', seg))).validEnd);
  const owner = await FsQueueStore.open(dir, { cache: true });
  assert.deepEqual(owner.lastRecovery?.corrupted, [], 'a live writer\'s tail is not cut');
  assert.deepEqual(await owner.listMessageIds(), [a.messageId]);
  await owner.deleteEnvelope(a.id);
  await owner.close();
  // kill -9 of the acceptor: its segment is finished; the next owner cuts the torn tail
  await writer.end();
  const next = await FsQueueStore.open(dir, { cache: true });
  assert.equal(next.lastRecovery?.corrupted.length, 1, 'the dead writer\'s torn tail set aside');
  assert.deepEqual(await next.listMessageIds(), []);
  assert.deepEqual(await readdir(join(dir, 'seg')), [], 'all done and finished: removed');
  await next.close();
  }));

void test('acceptor segments: a killed writer leaves the zeros it wrote ahead; a record it wrote into them after the owner\'s last look is still delivered, then the segment goes', () =>
  inSpool(1, async (dir, [writer]) => {
  const owner = await FsQueueStore.open(dir, { cache: true });
  const acceptor = await FsQueueStore.open(dir, { acceptor: true, segmentPid: writer.pid });
  const [a] = await storeMessage(acceptor, 'Subject: a\r\n\r\nA\r\n', ['a@x.example']);
  const seg = (await readdir(join(dir, 'seg')))[0];
  const path = join(dir, 'seg', seg);
  await owner.refresh();
  const size = (await stat(path)).size;
  // written into the zeros ahead: the file's size does not change; then kill -9 (no close, no seal)
  const [b] = await storeMessage(acceptor, 'Subject: b\r\n\r\nB\r\n', ['b@x.example']);
  assert.equal((await stat(path)).size, size);
  await writer.end();
  // a's delivery leaves nothing live that the owner knows of in a finished segment: b keeps it
  await owner.deleteEnvelope(a.id);
  assert.ok((await readdir(join(dir, 'seg'))).includes(seg), 'a record not yet seen keeps its segment');
  assert.deepEqual(await owner.listMessageIds(), [b.messageId]);
  assert.equal((await readAll(await owner.openMessage(b.messageId))).toString(), 'Subject: b\r\n\r\nB\r\n');
  await owner.deleteEnvelope(b.id);
  assert.deepEqual((await readdir(join(dir, 'seg'))).filter((n) => n.startsWith(seg) && !n.endsWith('.done')), [], 'all seen and done: removed, zeros and all');
  await owner.close();
  await acceptor.close();
  }));

void test('acceptor segments: a notice taken in while a delivery looks whether the segment is finished keeps the segment (issue 19)', () =>
  inSpool(1, async (dir, [writer]) => {
  // t-02 lost a killed acceptor's last acknowledged messages once: the delivery of its previous
  // record left the segment with nothing live and went to see whether it was finished (the
  // writer's pid, then the segment's size); meanwhile the notice of its last records (or the
  // rescan at its exit) took them in, and the size then equalled all that was seen, so the
  // segment was removed with live records in it. Here the notice is taken in exactly there:
  // when the segment's size is asked for (node:fs/promises' stat, wrapped for that one call).
  const owner = await FsQueueStore.open(dir, { cache: true });
  const acceptor = await FsQueueStore.open(dir, { acceptor: true, segmentPid: writer.pid });
  const [a] = await storeMessage(acceptor, 'Subject: a\r\n\r\nA\r\n', ['a@x.example']);
  const aPlace = acceptor.placeOf(a.messageId)!.ref;
  const [b] = await storeMessage(acceptor, 'Subject: b\r\n\r\nB\r\n', ['b@x.example']);
  const bPlace = acceptor.placeOf(b.messageId)!.ref;
  const segment = join(dir, 'seg', aPlace.seg);
  // kill -9 of the acceptor after both 250s: its segment is finished, b's notice still to come
  await writer.end();
  assert.equal(await owner.adopt(a.messageId, aPlace, [a]), true);
  let adopted: boolean | undefined;
  // a delivered: nothing live for a moment, the writer dead
  await atFirstStat(segment, 'before', async () => (adopted = await owner.adopt(b.messageId, bPlace, [b])), () => owner.deleteEnvelope(a.id));
  assert.equal(adopted, true, 'b\'s notice came while the delivery looked at the segment');
  assert.ok((await readdir(join(dir, 'seg'))).includes(aPlace.seg), 'a segment with a live record is kept');
  assert.deepEqual((await owner.findMessageEnvelopes(b.messageId)).map((e) => e.id), [b.id]);
  await owner.close();
  // and the next owner finds b (nothing lost on disk)
  const next = await FsQueueStore.open(dir, { cache: true });
  assert.deepEqual(await next.listMessageIds(), [b.messageId]);
  assert.equal((await readAll(await next.openMessage(b.messageId))).toString(), 'Subject: b\r\n\r\nB\r\n');
  await next.close();
  await acceptor.close();
  }));

void test('acceptor segments: a segment removed while a refresh reads the segments does not keep the others from being read (issue 19)', () =>
  inSpool(2, async (dir, [first, second]) => {
  // the rescan at an acceptor's exit starts with a refresh; one segment gone between its stat
  // and its read (its last records delivered meanwhile) failed the whole refresh, and the
  // killed acceptor's last records waited for the next listing (5 minutes)
  const owner = await FsQueueStore.open(dir, { cache: true });
  const one = await FsQueueStore.open(dir, { acceptor: true, segmentPid: first.pid });
  const two = await FsQueueStore.open(dir, { acceptor: true, segmentPid: second.pid });
  const [a] = await storeMessage(one, 'Subject: a\r\n\r\nA\r\n', ['a@x.example']);
  const [b] = await storeMessage(two, 'Subject: b\r\n\r\nB\r\n', ['b@x.example']);
  const segA = one.placeOf(a.messageId)!.ref.seg;
  assert.ok(segA < two.placeOf(b.messageId)!.ref.seg, 'a\'s segment is read first');
  const segment = join(dir, 'seg', segA);
  const removed = await atFirstStat(segment, 'after', () => rm(segment), () => owner.refresh());
  assert.ok(removed, 'a\'s segment went between its stat and its read');
  assert.deepEqual((await owner.findMessageEnvelopes(b.messageId)).map((e) => e.id), [b.id], 'the next segment was read');
  await one.close();
  await two.close();
  await owner.close();
  }));

/**
 * Message `n` as the only record of a segment of `pid` that is sealed (the acceptor store that
 * wrote it stops), taken in by `owner` from its notice; with its place and body, for a late notice.
 */
async function sealedAlone(dir: string, pid: number, owner: FsQueueStore, n: number): Promise<{ e: Envelope; ref: SegRef; body: Buffer }> {
  const acceptor = await FsQueueStore.open(dir, { acceptor: true, segmentPid: pid });
  const [e] = await storeMessage(acceptor, `Subject: ${n}\r\n\r\n${n}\r\n`, ['a@x.example']);
  const placed = acceptor.placeOf(e.messageId)!;
  await acceptor.close();
  assert.equal(await owner.adopt(e.messageId, placed.ref, [e], Buffer.concat(placed.body)), true);
  return { e, ref: placed.ref, body: Buffer.concat(placed.body) };
}

void test('acceptor segments: a notice read after more than 256 other segments went since its own is still refused (issue 19)', () =>
  inSpool(1, async (dir, [writer]) => {
  // the owner remembered the last 256 removed segments: a notice read later than that (a slow
  // pipe, a busy server) took a delivered record in again. Removed segments are now refused by
  // their generation, however many went since.
  const owner = await FsQueueStore.open(dir, { cache: true });
  let first: Awaited<ReturnType<typeof sealedAlone>> | undefined;
  for (let i = 0; i < 300; i++) {
    const record = await sealedAlone(dir, writer.pid, owner, i);
    await owner.deleteEnvelope(record.e.id);
    first ??= record;
  }
  assert.deepEqual(await readdir(join(dir, 'seg')), [], 'every finished segment removed');
  assert.equal(await owner.adopt(first!.e.messageId, first!.ref, [first!.e], first!.body), false, 'the first one\'s late notice');
  assert.deepEqual(await owner.listMessageIds(), [], 'nothing to deliver again');
  await owner.close();
  }));

void test('acceptor segments: a notice taken in at any step of its segment\'s removal is refused (issue 19)', () =>
  inSpool(1, async (dir, [writer]) => {
  // adopt() looked at the removed segments before it waited for the index, and took the record
  // in after that wait: a removal between the two forgot the segment's boundary and let the
  // delivered record in again. Here the notice comes 0, 1, 2 … microtasks after the removal's
  // look at the segment's size, so one of them lands between any two of its steps.
  const owner = await FsQueueStore.open(dir, { cache: true });
  const ticks = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await Promise.resolve();
  };
  for (let k = 0; k < 16; k++) {
    const { e, ...placed } = await sealedAlone(dir, writer.pid, owner, k);
    let late: Promise<boolean> | undefined;
    const hit = await atFirstStat(join(dir, 'seg', placed.ref.seg), 'after', () => {
      late = ticks(k).then(() => owner.adopt(e.messageId, placed.ref, [e], placed.body));
      return Promise.resolve();
    }, () => owner.deleteEnvelope(e.id));
    assert.ok(hit, 'the delivery looked at the segment\'s size');
    assert.equal(await late, false, `a notice ${k} microtasks into the removal is refused`);
    assert.deepEqual(await owner.listMessageIds(), [], `nothing to deliver again (${k})`);
  }
  assert.deepEqual(await readdir(join(dir, 'seg')), [], 'every finished segment removed');
  await owner.close();
  }));
