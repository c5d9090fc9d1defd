import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireInstanceLock, findServerPid, InstanceLockedError } from './instance-lock.js';

const python = spawnSync('python3', ['--version']).status === 0;
const procfs = existsSync('/proc/self/stat');

test('a live holder keeps the lock; a dead one is taken over', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-lock-'));
  try {
    await writeFile(join(dir, 'serve.pid'), `${process.ppid}\n`);
    await assert.rejects(acquireInstanceLock(dir), InstanceLockedError);
    await writeFile(join(dir, 'serve.pid'), '999999999\n');
    const lock = await acquireInstanceLock(dir);
    assert.equal((await readFile(lock.path, 'utf8')).trim(), String(process.pid));
    await lock.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// A server killed under an init that reaps nothing stays a zombie: kill(pid, 0) still succeeds,
// and its lock used to keep every later server out (the lab's site-down scenario).
test('a zombie holder is dead: its lock is taken over', { skip: !(python && procfs) && 'needs python3 and /proc' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-lock-'));
  // the parent forks a child that exits at once and is never waited for, then sleeps
  const parent = spawn('python3', ['-c', 'import os,sys,time\npid=os.fork()\nif pid==0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(30)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const pid = Number.parseInt(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString()))), 10);
    for (let i = 0; i < 50 && !(await readFile(`/proc/${pid}/stat`, 'latin1')).includes(') Z'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(await readFile(`/proc/${pid}/stat`, 'latin1'), /\) Z /, 'the child is a zombie');
    await writeFile(join(dir, 'serve.pid'), `${pid}\n`);
    assert.equal(await findServerPid(dir), undefined);
    const lock = await acquireInstanceLock(dir);
    assert.equal((await readFile(lock.path, 'utf8')).trim(), String(process.pid));
    await lock.release();
  } finally {
    parent.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
