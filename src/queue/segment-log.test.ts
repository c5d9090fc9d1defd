/**
 * SegmentWriter's group commit (segment-log.ts): commits arriving together share one fdatasync,
 * and none is told durable by a sync that started before it asked; records are written into
 * zeros written ahead of them, which the scan reads as the end and close() cuts off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { writeAt } from '../../test/helpers/spool.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';
import { SegmentWriter, recordBeginsAt, recordHeader, scanSegment } from './segment-log.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs fn with the path of a segment file in a new directory, removed afterwards. */
const inSegment = (fn: (path: string) => Promise<void>): Promise<void> => withTempDir('correio-seglog-', (dir) => fn(join(dir, 'seg1')));

function record(i: number): Buffer[] {
  const body = Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`);
  const trailer = Buffer.from(JSON.stringify({ i }));
  return [recordHeader([body], body.length, trailer), body, trailer];
}

void test('twenty commits asked in one turn share one fdatasync; every record reads back whole', async () => {
  await inSegment(async (path) => {
    const w = SegmentWriter.create(path);
    const synced = Array.from({ length: 20 }, (_, i) => {
      w.append(record(i));
      return w.sync();
    });
    await Promise.all(synced);
    assert.equal(w.syncs, 1);
    await w.close();
    const scan = await scanSegment(path);
    assert.equal(scan.records.length, 20);
    assert.equal(scan.problem, undefined);
  });
});

void test('a commit asked after an fdatasync started waits for the next one', async () => {
  await inSegment(async (path) => {
    const w = SegmentWriter.create(path);
    w.append(record(1));
    const first = w.sync();
    await turn(); // the first fdatasync has started (at the end of the turn sync() was asked in)
    assert.equal(w.syncs, 1);
    w.append(record(2));
    const second = w.sync();
    await first;
    await second;
    assert.equal(w.syncs, 2);
    await w.close();
    assert.equal((await scanSegment(path)).records.length, 2);
  });
});

void test('records go into zeros written ahead; a scan of the open segment ends at the last record without a problem; close cuts the zeros off', async () => {
  await inSegment(async (path) => {
    const w = SegmentWriter.create(path);
    for (let i = 0; i < 3; i++) w.append(record(i));
    await w.sync();
    const ahead = (await stat(path)).size;
    assert.ok(ahead >= 1 << 20 && ahead > w.size, `the file is written past its records (${ahead} octets for ${w.size})`);
    let scan = await scanSegment(path);
    assert.deepEqual([scan.records.length, scan.validEnd, scan.problem], [3, w.size, undefined]);
    // a fourth record goes into the zeros: the file does not grow, a scan from the last end finds it
    const end = scan.validEnd;
    assert.equal(await recordBeginsAt(path, end), false, 'zeros where the next record would begin: none yet');
    w.append(record(3));
    assert.equal(await recordBeginsAt(path, end), true);
    assert.equal((await stat(path)).size, ahead);
    scan = await scanSegment(path, end);
    assert.deepEqual([scan.records.length, scan.records[0]?.offset, scan.problem], [1, end, undefined]);
    // a record bigger than what is left ahead: more zeros first
    const big = Buffer.alloc(ahead, 0x61);
    w.append([recordHeader([big], big.length, Buffer.from('{}')), big, Buffer.from('{}')]);
    await w.sync();
    assert.ok((await stat(path)).size > w.size);
    assert.equal((await scanSegment(path)).records.length, 5);
    const size = w.size;
    await w.close();
    assert.equal((await stat(path)).size, size, 'closed: cut back to the records');
    assert.deepEqual([(await scanSegment(path)).records.length, (await scanSegment(path)).problem], [5, undefined]);
  });
});

void test('zeros followed by anything but zeros are a damaged record, not the end', async () => {
  await inSegment(async (path) => {
    const w = SegmentWriter.create(path);
    w.append(record(1));
    await w.sync();
    const end = w.size;
    // a record whose first block never reached the disk, its later ones did
    await writeAt(path, Buffer.from('body of a torn record'), end + 4096);
    const scan = await scanSegment(path);
    assert.deepEqual([scan.records.length, scan.validEnd, scan.problem], [1, end, 'a damaged record header']);
    await writeAt(path, Buffer.from('CRQ'), end); // the first octets of a header: a record begins there
    assert.equal(await recordBeginsAt(path, end), true);
    await w.close();
  });
});

void test('no room for the zeros ahead (ENOSPC): the record is appended as it is, and reads back', () => inSegment(async (path) => {
  // node:fs's writevSync, as segment-log.ts imports it, refuses a write of zeros only (a disk
  // with room for a record and not for 1 MiB more)
  const fs = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
  const real = fs.writevSync;
  let refused = 0;
  fs.writevSync = ((fd: number, buffers: readonly NodeJS.ArrayBufferView[], position?: number) => {
    if (buffers.length > 1 && buffers.every((b) => b.byteLength === buffers[0].byteLength && Buffer.from(b.buffer, b.byteOffset, b.byteLength).every((x) => x === 0))) {
      refused++;
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    return real(fd, buffers, position);
  });
  syncBuiltinESMExports();
  try {
    const w = SegmentWriter.create(path);
    w.append(record(1));
    w.append(record(2));
    await w.sync();
    assert.equal(refused, 2, 'each append tried to write zeros ahead');
    assert.equal((await stat(path)).size, w.size, 'no zeros: the file ends with the second record');
    const scan = await scanSegment(path);
    assert.deepEqual([scan.records.length, scan.problem], [2, undefined]);
    await w.close();
  } finally {
    fs.writevSync = real;
    syncBuiltinESMExports();
  }
}));
