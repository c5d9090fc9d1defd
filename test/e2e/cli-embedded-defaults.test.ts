/**
 * A command for an existing installation, run on the embedded defaults (no --config, no
 * $CORREIO_CONFIG, no ./correio.toml) in a directory without correio's ./var (none, or one without
 * a correio spool: the system's /var when run from /), says where it looked and what
 * to do, exits 78 (EX_CONFIG), and makes no ./var: it used to make a new empty one and answer
 * from it ("550 5.1.1 No such user here" for sendmail). A configuration file that names a data
 * directory still gets it made on first use. Real processes in temp directories.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/temp-dir.js';

const inTempDir = (fn: (dir: string) => Promise<void>): Promise<void> => withTempDir('correio-away-', fn);

void test('away from the checkout, on the embedded defaults: one line naming ./var and the way out, exit 78, no ./var made', () =>
  inTempDir(async (dir) => {
    const line = `correio: no correio data directory at ${join(dir, 'var')} (no correio spool in it): with no --config and no ./correio.toml here, correio runs on its embedded defaults, ` +
      'which keep the data in ./var of the directory it runs in (where `npm start` runs it); run this there (once it has started), or pass --config FILE\n';
    for (const args of [
      ['sendmail', 'postmaster@localhost'],
      ['sendmail', '-bp'],
      ['queue', 'list'],
      ['queue', 'flush'],
      ['trace', 'nosuchid'],
      ['user', 'list'],
      ['alias', 'list'],
      ['newaliases'],
      ['reload'],
    ]) {
      const r = await runCli(args, { cwd: dir, stdin: 'Subject: hello\n\nfirst message\n' });
      assert.equal(r.code, 78, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, line, args.join(' '));
      assert.equal(r.stdout, '', args.join(' '));
      assert.equal(existsSync(join(dir, 'var')), false, `${args.join(' ')} made no ./var`);
    }
    // a ./var that is not correio's (run from /, the system's /var, with a spool/ of its own) is refused alike, and left as it was
    await mkdir(join(dir, 'var', 'spool', 'cron'), { recursive: true });
    for (const args of [['user', 'list'], ['queue', 'list']]) {
      const r = await runCli(args, { cwd: dir });
      assert.equal(r.code, 78, r.stderr);
      assert.equal(r.stderr, line);
      assert.deepEqual(await readdir(join(dir, 'var')), ['spool']);
      assert.deepEqual(await readdir(join(dir, 'var', 'spool')), ['cron']);
    }
    await rm(join(dir, 'var'), { recursive: true });
    // usage errors still come first
    assert.equal((await runCli(['queue', 'show'], { cwd: dir })).code, 64);
    // help is no command for an installation: it is given anywhere (and says the cursor comes only when more follow)
    const help = await runCli(['queue', 'list', '--help'], { cwd: dir });
    assert.equal(help.code, 0, help.stderr);
    assert.ok(help.stdout.replace(/\s+/g, ' ').includes("--limit <n> at most N messages (one page; when more follow, the next page's --since is printed on stderr)"), help.stdout);
    assert.equal(existsSync(join(dir, 'var')), false, 'queue list --help made no ./var');
  }));

void test('with ./var there, or a configuration file, the commands run as before', () =>
  inTempDir(async (dir) => {
    await writeFile(join(dir, 'correio.toml'), 'hostname = "mx.localhost"\nlocal_domains = ["localhost"]\n');
    const named = await runCli(['user', 'list'], { cwd: dir });
    assert.equal(named.code, 0, named.stderr);
    // the queue's first use makes the spool, as serve's does
    const queued = await runCli(['queue', 'list'], { cwd: dir });
    assert.equal(queued.code, 0, queued.stderr);
    assert.equal(existsSync(join(dir, 'var')), true, 'a ./correio.toml site gets its data directory made on first use, as before');
    await rm(join(dir, 'correio.toml'));
    const defaults = await runCli(['queue', 'list'], { cwd: dir });
    assert.equal(defaults.code, 0, defaults.stderr);
    assert.equal(defaults.stdout, 'Mail queue is empty\n');
  }));
