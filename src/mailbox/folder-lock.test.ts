import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FolderLock } from './folder-lock.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';

const inDir = (f: (dir: string) => Promise<void>): Promise<void> => withTempDir('correio-folder-lock-', f);

/** A step that reads a counter, yields, and writes it back plus one: steps that overlap lose counts. */
async function bump(file: string): Promise<void> {
  const n = Number(await readFile(file, 'utf8').catch(() => '0'));
  await sleep(1);
  await writeFile(file, String(n + 1));
}

/** Resolves once `f` holds (polled; a deadline far beyond any wait the lock makes). */
async function eventually(f: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (const until = Date.now() + 20_000; !(await f()); ) {
    assert.ok(Date.now() < until, what);
    await sleep(5);
  }
}

void test('the lock file stays between one holder\'s steps (a lease: the same file), and goes once the folder is idle', () =>
  inDir(async (dir) => {
    const lock = new FolderLock();
    const path = join(dir, 'correio-uidlist.lock');
    await lock.run(path, () => Promise.resolve());
    const first = await stat(path);
    assert.match(await readFile(path, 'utf8'), new RegExp(`^${process.pid} `));
    await lock.run(path, () => Promise.resolve());
    assert.equal((await stat(path)).ino, first.ino, 'the second step made no new lock file');
    await eventually(() => !existsSync(path), 'the idle lease is removed');
  }));

void test('two holders (another process and this one) never run steps at once: the lease is asked for and handed over', () =>
  inDir(async (dir) => {
    const path = join(dir, 'correio-uidlist.lock');
    const counter = join(dir, 'counter');
    const steps = 40;
    const lockModule = fileURLToPath(new URL('./folder-lock.js', import.meta.url));
    // the other process: the same steps on the same lock file
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import { readFile, writeFile } from 'node:fs/promises';
      import { setTimeout as sleep } from 'node:timers/promises';
      const { FolderLock } = await import(${JSON.stringify(lockModule)});
      const lock = new FolderLock();
      for (let i = 0; i < ${steps}; i++) {
        await lock.run(${JSON.stringify(path)}, async () => {
          const n = Number(await readFile(${JSON.stringify(counter)}, 'utf8').catch(() => '0'));
          await sleep(1);
          await writeFile(${JSON.stringify(counter)}, String(n + 1));
        });
      }
    `], { stdio: 'inherit' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const lock = new FolderLock();
    for (let i = 0; i < steps; i++) await lock.run(path, () => bump(counter));
    assert.equal(await exited, 0);
    assert.equal(Number(await readFile(counter, 'utf8')), 2 * steps, 'no step overlapped another');
  }));

void test('a lock file of a dead owner, or marked free, is taken at once', () =>
  inDir(async (dir) => {
    const dead = spawn(process.execPath, ['-e', '']);
    const pid = await new Promise<number>((resolve) => dead.once('exit', () => resolve(dead.pid!)));
    const path = join(dir, 'a.lock');
    // waits of 60 s: only a takeover ends them within the test
    const lock = new FolderLock(60_000, 60_000);
    await writeFile(path, `${pid} ${hostname()}\nwant 1\n`);
    let ran = false;
    await lock.run(path, () => Promise.resolve(void (ran = true)));
    assert.ok(ran);
    const other = join(dir, 'b.lock');
    await writeFile(other, `${process.pid + 1} some-other-host\nfree\n`);
    await lock.run(other, () => Promise.resolve());
  }));

void test('a lease whose folder was renamed is marked free where it went, not left blocking the new name', () =>
  inDir(async (dir) => {
    await mkdir(join(dir, 'old'));
    const lock = new FolderLock();
    await lock.run(join(dir, 'old', 'x.lock'), () => Promise.resolve());
    await rename(join(dir, 'old'), join(dir, 'new'));
    const moved = join(dir, 'new', 'x.lock');
    await eventually(async () => /\nfree\n$/.test(await readFile(moved, 'utf8')), 'the moved lease is marked free');
    // another holder (waits of 60 s: only the mark lets it in within the test)
    await new FolderLock(60_000, 60_000).run(moved, () => Promise.resolve());
  }));

void test('a lease is not taken for the lock of a folder made again under the old name of one renamed', () =>
  inDir(async (dir) => {
    await mkdir(join(dir, 'f'));
    const lock = new FolderLock();
    const path = join(dir, 'f', 'x.lock');
    await lock.run(path, () => Promise.resolve());
    await rename(join(dir, 'f'), join(dir, 'g'));
    await mkdir(join(dir, 'f'));
    // the step on the new folder holds a lock file of its own there, not the moved one's lease
    let held = false;
    await lock.run(path, () => Promise.resolve(void (held = existsSync(path))));
    assert.ok(held, 'a lock file was made in the new folder');
  }));
