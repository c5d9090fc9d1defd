/**
 * The server's intake of an acceptor's notice (acceptor-intake.ts) with a real files spool and
 * an acceptor store whose pid is a real child process's (`sleep`): a notice's records taken in
 * by their places, and a notice that comes after a scan has taken its records (the rescan at
 * the acceptor's exit may run before the pipe's last bytes are read) schedules what the spool
 * holds: nothing for a message delivered meanwhile, nor once its segment was removed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Envelope, MessageId } from '../core/index.js';
import { FsQueueStore, type SegRef } from '../queue/index.js';
import { storeMessage } from '../../test/contract/queue-store.contract.js';
import { takeIn } from './acceptor-intake.js';

void test('acceptor intake: adopted by place, or scheduled as the spool holds it once a scan was past it (nothing when delivered)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-intake-'));
  const writer = spawn('sleep', ['60'], { stdio: 'ignore' });
  await new Promise((r) => writer.once('spawn', r));
  try {
    const owner = await FsQueueStore.open(dir, { cache: true });
    const acceptor = await FsQueueStore.open(dir, { acceptor: true, segmentPid: writer.pid! });
    let enqueued: Envelope[] = [];
    let neverTried: string[] = [];
    const enqueue = (envs: readonly Envelope[], opts: { neverTried?: boolean } = {}): void => {
      enqueued.push(...envs);
      if (opts.neverTried) neverTried.push(...envs.map((e) => e.id));
    };
    const parts = { store: owner, runner: { enqueue } };
    const notice = (envs: Envelope[], ref: SegRef) => ({ envelopes: envs, places: new Map<MessageId, SegRef>([[envs[0].messageId, ref]]), bodies: new Map() });
    // the usual case: taken in by its place
    const [a] = await storeMessage(acceptor, 'Subject: a\r\n\r\nA\r\n', ['a@x.example']);
    await takeIn(parts, notice([a], acceptor.placeOf(a.messageId)!.ref));
    assert.deepEqual(enqueued.map((e) => e.id), [a.id]);
    assert.deepEqual(neverTried, [a.id], 'no scan had seen it: never tried (its delivery skips the look in cur/)');
    await owner.deleteEnvelope(a.id);
    enqueued = [];
    neverTried = [];
    // a scan (the rescan at the acceptor's exit) took b in before its notice was read: b as stored
    const [b] = await storeMessage(acceptor, 'Subject: b\r\n\r\nB\r\n', ['b@x.example']);
    const bPlace = acceptor.placeOf(b.messageId)!.ref;
    await owner.refresh();
    await takeIn(parts, notice([b], bPlace));
    assert.deepEqual(enqueued.map((e) => e.id), [b.id]);
    assert.deepEqual(neverTried, [], 'a scan saw it first: it may have been tried');
    // and delivered before its notice was read: nothing scheduled again
    await owner.deleteEnvelope(b.id);
    enqueued = [];
    await takeIn(parts, notice([b], bPlace));
    assert.deepEqual(enqueued, [], 'a delivered message is not scheduled again from a late notice');
    // the acceptor stops (seals): its finished segment goes, and a notice read later still schedules nothing
    await acceptor.close();
    await owner.refresh();
    assert.deepEqual(await readdir(join(dir, 'seg')), [], 'the finished segment removed');
    await takeIn(parts, notice([b], bPlace));
    assert.deepEqual(enqueued, [], 'nor from a notice read after its segment went');
    await owner.close();
  } finally {
    writer.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
