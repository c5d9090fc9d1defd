import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { BatchedOutput } from './batched-output.js';

async function withFile(fn: (fd: number, read: () => string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-out-'));
  const path = join(dir, 'log');
  const fd = openSync(path, 'a');
  try {
    await fn(fd, () => readFileSync(path, 'utf8'));
  } finally {
    closeSync(fd);
    await rm(dir, { recursive: true, force: true });
  }
}

void test('BatchedOutput: lines wait for the delay, then go out together and in order', () =>
  withFile(async (fd, read) => {
    const out = new BatchedOutput(fd, { maxDelayMs: 150 });
    for (let i = 0; i < 50; i++) out.write(`line ${i}\n`);
    assert.equal(read(), '', 'nothing written before the delay');
    await sleep(400);
    assert.deepEqual(read().split('\n').slice(0, -1), Array.from({ length: 50 }, (_, i) => `line ${i}`));
    out.write('later\n');
    await out.stop();
    assert.ok(read().endsWith('line 49\nlater\n'));
  }));

void test('BatchedOutput: a full batch is written without waiting for the delay', () =>
  withFile(async (fd, read) => {
    const out = new BatchedOutput(fd, { maxDelayMs: 60_000, maxBytes: 100 });
    const line = 'x'.repeat(60) + '\n';
    out.write(line);
    await sleep(50);
    assert.equal(read(), '', 'under maxBytes: waits');
    out.write(line);
    await sleep(100);
    assert.equal(read(), line + line);
    // lines that arrive while a write is in flight follow it
    for (let i = 0; i < 5; i++) out.write(`${i}${line}`);
    await out.stop();
    assert.equal(read(), line + line + [0, 1, 2, 3, 4].map((i) => `${i}${line}`).join(''));
  }));

void test('BatchedOutput: flushSync writes what waits at once (an exit handler)', () =>
  withFile(async (fd, read) => {
    const out = new BatchedOutput(fd, { maxDelayMs: 60_000 });
    out.write('a\n');
    out.write('ü\n');
    out.flushSync();
    assert.equal(read(), 'a\nü\n');
    await out.stop();
    assert.equal(read(), 'a\nü\n', 'nothing written twice');
  }));

void test('BatchedOutput: a descriptor that fails stops the output without throwing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-out-'));
  try {
    closeSync(openSync(join(dir, 'log'), 'w'));
    const fd = openSync(join(dir, 'log'), 'r'); // read-only: every write fails with EBADF
    const out = new BatchedOutput(fd, { maxDelayMs: 1 });
    out.write('lost\n');
    await out.stop();
    assert.equal(out.broken, true);
    out.write('also lost\n');
    out.flushSync();
    await out.stop();
    closeSync(fd);
    assert.equal(readFileSync(join(dir, 'log'), 'utf8'), '');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('BatchedOutput: as a pino destination, logger.flush() writes every line', () =>
  withFile(async (fd, read) => {
    const out = new BatchedOutput(fd, { maxDelayMs: 60_000 });
    const logger = pino({ base: undefined }, out);
    logger.info({ n: 1 }, 'one');
    logger.warn({ n: 2 }, 'two');
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    const lines = read().trim().split('\n').map((l) => JSON.parse(l) as { n: number; msg: string; level: number });
    assert.deepEqual(lines.map((l) => [l.n, l.msg, l.level]), [[1, 'one', 30], [2, 'two', 40]]);
  }));
