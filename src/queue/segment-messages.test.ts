/**
 * The files spool's segments (segment-log.ts, segment-messages.ts, segment-commit.ts): what the
 * server's delivering instance (a caching owner) commits small mail into, seen through the store.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAll, storeMessage } from '../../test/contract/queue-store.contract.js';
import { readSpoolEnvelopes } from '../../test/helpers/spool.js';
import { FsQueueStore } from './index.js';
import { scanSegment } from './segment-log.js';

const tmp = () => mkdtemp(join(tmpdir(), 'correio-spool-'));

/** The ids of the current envelopes, sorted. */
async function walk(dir: string): Promise<string[]> {
  return (await readSpoolEnvelopes(dir)).map((e) => e.id).sort();
}

void test('segments: small messages are records in one segment; a change moves a message to msg/; a segment with nothing live is removed', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir, { cache: true });
    const [a] = await storeMessage(store, 'Subject: a\r\n\r\nA\r\n', ['a@x.example']);
    const [b1, b2] = await storeMessage(store, 'Subject: b\r\n\r\nB\r\n', ['b@x.example', 'c@x.example']);
    const big = 'x'.repeat(100) + '\r\n';
    const [c] = await storeMessage(store, big.repeat(1000), ['d@x.example']); // over 64 KB: its own file
    const segs = await readdir(join(dir, 'seg'));
    assert.equal(segs.length, 1);
    assert.deepEqual(await readdir(join(dir, 'msg')), [c.messageId]);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    // a reader (another process) sees the segment's messages and their bodies
    const reader = await FsQueueStore.open(dir, { recover: 'never', lock: false });
    assert.deepEqual(await reader.listMessageIds(), [a.messageId, b1.messageId, c.messageId].sort());
    assert.equal((await readAll(await reader.openMessage(b1.messageId))).toString(), 'Subject: b\r\n\r\nB\r\n');
    assert.equal(await reader.messageSize(a.messageId), 17);
    // one of b's recipients delivered: b moves to msg/ with the other envelope
    await store.deleteEnvelope(b1.id);
    assert.deepEqual((await readdir(join(dir, 'msg'))).sort(), [b1.messageId, c.messageId].sort());
    assert.deepEqual((await reader.findMessageEnvelopes(b1.messageId)).map((e) => e.id), [b2.id]);
    assert.equal((await readAll(await reader.openMessage(b1.messageId))).toString(), 'Subject: b\r\n\r\nB\r\n');
    await store.deleteEnvelope(a.id);
    assert.deepEqual(await reader.listMessageIds(), [b1.messageId, c.messageId].sort());
    // the active segment stays while the store runs; closed with nothing live, it goes
    assert.deepEqual((await readdir(join(dir, 'seg'))).sort(), [segs[0], `${segs[0]}.done`].sort());
    await store.close();
    assert.deepEqual(await readdir(join(dir, 'seg')), []);
    await reader.close();
    const again = await FsQueueStore.open(dir, { cache: true });
    assert.deepEqual((await walk(dir)).sort(), [b2.id, c.id].sort());
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('segments: a record torn by a crash is cut off at recovery and kept in corrupt/; the records before it stay', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir, { cache: true });
    const kept = [];
    for (let i = 0; i < 3; i++) kept.push((await storeMessage(store, `Subject: ${i}\r\n\r\nbody ${i}\r\n`, [`r${i}@x.example`]))[0]);
    const [seg] = (await readdir(join(dir, 'seg'))).filter((n) => !n.endsWith('.done'));
    const segPath = join(dir, 'seg', seg);
    const wholeEnd = (await scanSegment(segPath)).validEnd; // (zeros written ahead follow it)
    // a fourth record, written but never synced: only part of it reached the disk
    await storeMessage(store, 'Subject: 3\r\n\r\nbody 3 that was never acknowledged\r\n', ['r3@x.example']);
    const withFourth = await readFile(segPath);
    await store.close(); // (close keeps a segment with live records)
    await writeFile(segPath, Buffer.concat([withFourth.subarray(0, wholeEnd + 40), Buffer.alloc(20)]));
    const reopened = await FsQueueStore.open(dir, { cache: true });
    assert.deepEqual((await walk(dir)).sort(), kept.map((e) => e.id).sort());
    assert.equal((await readFile(segPath)).length, wholeEnd, 'cut back to the whole records');
    const aside = await readdir(join(dir, 'corrupt'));
    assert.equal(aside.length, 1);
    assert.match(aside[0], new RegExp(`^${seg}\\.tail\\.${wholeEnd}\\.`));
    assert.equal((await readFile(join(dir, 'corrupt', aside[0]))).length, 60);
    assert.ok(reopened.lastRecovery?.corrupted.some((c) => c.includes(seg)));
    for (const e of kept) assert.match((await readAll(await reopened.openMessage(e.messageId))).toString(), /^Subject: \d/);
    await reopened.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('segments: a damaged body is caught by its checksum, not delivered', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir, { cache: true });
    await storeMessage(store, 'Subject: ok\r\n\r\nfine\r\n', ['a@x.example']);
    await storeMessage(store, 'Subject: flipped\r\n\r\nXXXX\r\n', ['b@x.example']);
    await store.close();
    const [seg] = (await readdir(join(dir, 'seg'))).filter((n) => !n.endsWith('.done'));
    const raw = await readFile(join(dir, 'seg', seg));
    const at = raw.lastIndexOf('XXXX');
    raw[at] = 0x59; // one octet of the second body changed
    await writeFile(join(dir, 'seg', seg), raw);
    const reopened = await FsQueueStore.open(dir, { cache: true });
    const ids = [];
    for await (const e of reopened.walkEnvelopes()) ids.push(e.recipient.local);
    assert.deepEqual(ids, ['a']);
    assert.ok(reopened.lastRecovery?.corrupted.some((c) => c.includes('checksum')));
    await reopened.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('segments: a message moved to msg/ whose done line was lost comes back once, from its file', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir, { cache: true });
    const [a] = await storeMessage(store, 'Subject: moved\r\n\r\nm\r\n', ['a@x.example']);
    await store.putEnvelope({ ...a, nextAttemptAt: 99 });
    await store.close();
    const [seg] = (await readdir(join(dir, 'seg'))).filter((n) => !n.endsWith('.done'));
    await writeFile(join(dir, 'seg', `${seg}.done`), ''); // the crash lost the done line
    const reopened = await FsQueueStore.open(dir, { cache: true });
    const envs = [];
    for await (const e of reopened.walkEnvelopes()) envs.push(e);
    assert.equal(envs.length, 1);
    assert.equal(envs[0].nextAttemptAt, 99);
    assert.deepEqual(await readdir(join(dir, 'seg')), [], 'the segment had nothing else: removed');
    await reopened.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a format 2 spool is read as it is and its format file names layout 3', async () => {
  const dir = await tmp();
  try {
    const old = await FsQueueStore.open(dir);
    const [a] = await storeMessage(old, 'Subject: old\r\n\r\no\r\n', ['a@x.example']);
    await old.close();
    await writeFile(join(dir, 'format'), 'correio-spool 2\n');
    const store = await FsQueueStore.open(dir, { cache: true });
    assert.equal(await readFile(join(dir, 'format'), 'utf8'), 'correio-spool 3\n');
    assert.equal((await store.findEnvelope(a.id))?.recipient.local, 'a');
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('segments: past the size limit commits go to a new segment; a full segment goes once its records are done, never while one syncs', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir, { cache: true, segmentLimit: 300 });
    // rounds of concurrent commits (the limit is checked when a commit picks its segment)
    const all = [];
    for (let round = 0; round < 4; round++) {
      all.push(...(await Promise.all(
        [0, 1, 2].map((k) => 3 * round + k).map((i) => storeMessage(store, `Subject: ${i}\r\n\r\n${'b'.repeat(100)}\r\n`, [`r${i}@x.example`])),
      )));
    }
    const segs = (await readdir(join(dir, 'seg'))).filter((n) => !n.endsWith('.done'));
    assert.ok(segs.length >= 3, `several segments: ${segs.length}`);
    const reader = await FsQueueStore.open(dir, { recover: 'never', lock: false });
    for (const [i, [e]] of all.entries()) {
      assert.equal((await readAll(await reader.openMessage(e.messageId))).toString(), `Subject: ${i}\r\n\r\n${'b'.repeat(100)}\r\n`);
    }
    await reader.close();
    // deliver everything while new commits keep arriving
    const more = storeMessage(store, 'Subject: late\r\n\r\nlate\r\n', ['late@x.example']);
    for (const [e] of all) await store.deleteEnvelope(e.id);
    const [late] = await more;
    const left = (await readdir(join(dir, 'seg'))).filter((n) => !n.endsWith('.done'));
    assert.ok(left.length <= 2, `done segments removed: ${left.join(' ')}`);
    assert.deepEqual(await walk(dir), [late.id]);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
