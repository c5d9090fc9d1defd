/**
 * SegmentWriter's group commit (segment-log.ts): commits arriving together share one fdatasync,
 * and none is told durable by a sync that started before it asked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SegmentWriter, recordHeader, scanSegment } from './segment-log.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function record(i: number): Buffer[] {
  const body = Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`);
  const trailer = Buffer.from(JSON.stringify({ i }));
  return [recordHeader([body], body.length, trailer), body, trailer];
}

void test('twenty commits asked in one turn share one fdatasync; every record reads back whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-seglog-'));
  try {
    const w = SegmentWriter.create(join(dir, 'seg1'));
    const synced = Array.from({ length: 20 }, (_, i) => {
      w.append(record(i));
      return w.sync();
    });
    await Promise.all(synced);
    assert.equal(w.syncs, 1);
    await w.close();
    const scan = await scanSegment(join(dir, 'seg1'));
    assert.equal(scan.records.length, 20);
    assert.equal(scan.problem, undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a commit asked after an fdatasync started waits for the next one', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-seglog-'));
  try {
    const w = SegmentWriter.create(join(dir, 'seg1'));
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
    assert.equal((await scanSegment(join(dir, 'seg1'))).records.length, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
