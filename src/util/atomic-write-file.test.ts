import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirSyncer, atomicWriteFile, renameDurable, writeFileDurable } from './index.js';

void test('atomicWriteFile with tempDir writes its temporary there and leaves nothing behind', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-awf-'));
  try {
    await mkdir(join(dir, 'tmp'));
    await mkdir(join(dir, 'final'));
    const target = join(dir, 'final', 'f');
    await atomicWriteFile(target, 'one', { tempDir: join(dir, 'tmp'), syncer: new DirSyncer() });
    assert.equal(await readFile(target, 'utf8'), 'one');
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    assert.deepEqual(await readdir(join(dir, 'final')), ['f']);
    assert.equal((await stat(target)).mode & 0o777, 0o600);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('writeFileDurable never replaces a file unless asked; renameDurable moves it into place', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-awf-'));
  try {
    const a = join(dir, 'a');
    await writeFileDurable(a, Buffer.from('first'));
    await assert.rejects(writeFileDurable(a, 'second'), { code: 'EEXIST' });
    assert.equal(await readFile(a, 'utf8'), 'first');
    await writeFileDurable(a, 'third', { flag: 'w' });
    await renameDurable(a, join(dir, 'b'));
    assert.deepEqual(await readdir(dir), ['b']);
    assert.equal(await readFile(join(dir, 'b'), 'utf8'), 'third');
    await writeFile(a, 'x');
    await assert.rejects(renameDurable(join(dir, 'missing'), join(dir, 'c')), { code: 'ENOENT' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
