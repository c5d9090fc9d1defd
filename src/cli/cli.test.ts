import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../../test/helpers/cli.js';
import { SqliteDirectory } from '../directory/index.js';

const CONFIG = 'hostname = "mx.dc.uece.br"\nlocal_domains = ["dc.uece.br", "example.org"]\n';

async function withSite(fn: (dir: string) => Promise<void>, config = CONFIG): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-cli-'));
  try {
    await writeFile(join(dir, 'correio.toml'), config);
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An error result: the status, and exactly one line `correio: ...` on stderr (no stack). */
function assertError(r: CliResult, code: number, line: string | RegExp): void {
  assert.equal(r.code, code, `exit status (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  if (typeof line === 'string') assert.equal(lines[0], line);
  else assert.match(lines[0], line);
}

void describe('correio CLI (spawned)', { concurrency: 3 }, () => {
  void test('user add / list / passwd / delete, with passwords from stdin', () =>
    withSite(async (cwd) => {
      let r = await runCli(['user', 'add', 'Suzana@DC.uece.br', '--password-stdin', '--name', 'Suzana Matos'], {
        cwd,
        stdin: 'correct horse\n',
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'added Suzana@dc.uece.br\n');
      r = await runCli(['user', 'add', 'jacques@example.org'], { cwd });
      assert.equal(r.code, 0, r.stderr);

      r = await runCli(['user', 'list'], { cwd });
      assert.equal(r.stdout, 'jacques@example.org\npostmaster@dc.uece.br\nSuzana@dc.uece.br\tSuzana Matos\n');
      r = await runCli(['user', 'list', '--json'], { cwd });
      const users = JSON.parse(r.stdout) as { address: string; name: string | null; createdAt: string }[];
      assert.deepEqual(
        users.map((u) => [u.address, u.name]),
        [['jacques@example.org', null], ['postmaster@dc.uece.br', null], ['Suzana@dc.uece.br', 'Suzana Matos']],
      );
      assert.ok(!Number.isNaN(Date.parse(users[0].createdAt)));

      r = await runCli(['user', 'passwd', 'suzana@dc.uece.br'], { cwd, stdin: 'battery staple\r\nignored\n' });
      assert.equal(r.code, 0, r.stderr);
      const dir = await SqliteDirectory.open(join(cwd, 'var', 'directory.sqlite'));
      try {
        assert.equal(await dir.verifyPassword('suzana@dc.uece.br', 'battery staple'), true);
        assert.equal(await dir.verifyPassword('suzana@dc.uece.br', 'correct horse'), false);
      } finally {
        await dir.close();
      }

      r = await runCli(['user', 'delete', 'SUZANA@dc.uece.br'], { cwd });
      assert.equal(r.stdout, 'deleted SUZANA@dc.uece.br\n');
      r = await runCli(['user', 'delete', 'suzana@dc.uece.br'], { cwd });
      assertError(r, 67, 'correio: no such user: suzana@dc.uece.br');
    }));

  void test('user quota / disable / enable: shown, changed, reset, refused with one line; a disabled user cannot log in', () =>
    withSite(async (cwd) => {
      assert.equal((await runCli(['user', 'add', 'suzana@dc.uece.br', '--password-stdin'], { cwd, stdin: 'correct horse\n' })).code, 0);
      let r = await runCli(['user', 'quota', 'suzana@dc.uece.br'], { cwd });
      assert.equal(r.stdout, 'suzana@dc.uece.br\tstorage 1048576 (default)\tmessages 0 (default)\n', r.stderr);
      r = await runCli(['user', 'quota', 'Suzana@dc.uece.br', '--storage', '2MB', '--messages', '100'], { cwd });
      assert.equal(r.stdout, 'suzana@dc.uece.br\tstorage 2097152\tmessages 100\n', r.stderr);
      r = await runCli(['user', 'quota', 'suzana@dc.uece.br', '--storage', 'default'], { cwd });
      assert.equal(r.stdout, 'suzana@dc.uece.br\tstorage 1048576 (default)\tmessages 100\n', r.stderr);
      assertError(await runCli(['user', 'quota', 'suzana@dc.uece.br', '--storage', 'lots'], { cwd }), 65,
        'correio: invalid storage quota "lots": expected a size such as "500MB" or "2GB" (0 or "none": no limit; "default")');
      assertError(await runCli(['user', 'quota', 'suzana@dc.uece.br', '--messages', '-3'], { cwd }), 65,
        /^correio: invalid messages quota "-3": expected a whole number/);
      assertError(await runCli(['user', 'quota', 'ghost@dc.uece.br', '--messages', '3'], { cwd }), 67, 'correio: no such user: ghost@dc.uece.br');

      r = await runCli(['user', 'disable', 'suzana@dc.uece.br'], { cwd });
      assert.equal(r.stdout, 'disabled suzana@dc.uece.br\n', r.stderr);
      r = await runCli(['user', 'list'], { cwd });
      assert.equal(r.stdout, 'postmaster@dc.uece.br\nsuzana@dc.uece.br\t(disabled)\n');
      const users = JSON.parse((await runCli(['user', 'list', '--json'], { cwd })).stdout) as { address: string; disabled: boolean; quota: unknown }[];
      assert.deepEqual(users.find((u) => u.address === 'suzana@dc.uece.br'), { ...users.find((u) => u.address === 'suzana@dc.uece.br'), disabled: true, quota: { storage: null, messages: 100 } });
      const dir = await SqliteDirectory.open(join(cwd, 'var', 'directory.sqlite'));
      try {
        assert.equal(await dir.verifyPassword('suzana@dc.uece.br', 'correct horse'), false);
        assert.equal((await runCli(['user', 'enable', 'suzana@dc.uece.br'], { cwd })).stdout, 'enabled suzana@dc.uece.br\n');
        assert.equal(await dir.verifyPassword('suzana@dc.uece.br', 'correct horse'), true);
      } finally {
        await dir.close();
      }
      assertError(await runCli(['user', 'disable', 'ghost@dc.uece.br'], { cwd }), 67, 'correio: no such user: ghost@dc.uece.br');
    }, `${CONFIG}[quota]\nstorage = "1MB"\n`));

  void test('bad input: one line and a sysexits status', () =>
    withSite(async (cwd) => {
      assertError(await runCli(['user', 'add', 'no-at-sign'], { cwd }), 65, 'correio: invalid address "no-at-sign": expected local-part@domain');
      assertError(await runCli(['user', 'add', 'x@elsewhere.net'], { cwd }), 65, 'correio: elsewhere.net is not a local domain');
      assertError(await runCli(['user', 'add', 'postmaster@DC.UECE.BR'], { cwd }), 65, 'correio: user postmaster@dc.uece.br already exists');
      assertError(await runCli(['user', 'add', 'a@dc.uece.br', '--password-stdin'], { cwd, stdin: '\n' }), 65, /^correio: empty password/);
      assertError(await runCli(['user', 'passwd', 'ghost@dc.uece.br'], { cwd, stdin: 'pw\n' }), 67, 'correio: no such user: ghost@dc.uece.br');
      assertError(await runCli(['frobnicate'], { cwd }), 64, "correio: unknown command 'frobnicate'");
      assertError(await runCli(['user', 'add'], { cwd }), 64, "correio: missing required argument 'address'");
      assertError(await runCli(['user', 'list', '--colour'], { cwd }), 64, "correio: unknown option '--colour'");
      const none = await runCli([], { cwd });
      assert.equal(none.code, 64);
      assert.match(none.stderr, /Usage: correio/);
      const help = await runCli(['user', '--help'], { cwd });
      assert.equal(help.code, 0);
      assert.match(help.stdout, /passwd/);
    }));

  void test('config: --config (before or after the command), $CORREIO_CONFIG, ./correio.toml', () =>
    withSite(async (cwd) => {
      await mkdir(join(cwd, 'etc'));
      await writeFile(join(cwd, 'etc', 'a.toml'), 'local_domains = ["a.example"]\ndata_dir = "../var-a"\n');
      await writeFile(join(cwd, 'etc', 'b.toml'), 'local_domains = ["b.example"]\ndata_dir = "../var-b"\n');
      const list = async (args: string[], env: Record<string, string> = {}): Promise<string> => {
        const r = await runCli([...args, 'user', 'list'], { cwd, env });
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.trim();
      };
      assert.equal(await list([]), 'postmaster@dc.uece.br');
      assert.equal(await list([], { CORREIO_CONFIG: 'etc/b.toml' }), 'postmaster@b.example');
      assert.equal(await list(['--config', 'etc/a.toml'], { CORREIO_CONFIG: 'etc/b.toml' }), 'postmaster@a.example');
      const after = await runCli(['user', 'list', '--config', join(cwd, 'etc', 'a.toml')], { cwd: tmpdir() });
      assert.equal(after.stdout.trim(), 'postmaster@a.example');
    }));

  void test('config errors stop every command with file:line: key: problem (78), a missing file 66', () =>
    withSite(async (cwd) => {
      await writeFile(join(cwd, 'bad.toml'), 'local_domains = ["dc.uece.br"]\n[smtp]\nmax_recipients = "lots"\n');
      assertError(
        await runCli(['check', '--config', 'bad.toml'], { cwd }),
        78,
        'correio: bad.toml:3: smtp.max_recipients: expected a positive integer',
      );
      await writeFile(join(cwd, 'typo.toml'), 'smpt = {}\n');
      assertError(await runCli(['serve', '--config', 'typo.toml'], { cwd }), 78, 'correio: typo.toml:1: unknown key "smpt"');
      assertError(
        await runCli(['user', 'list'], { cwd, env: { CORREIO_CONFIG: 'absent.toml' } }),
        66,
        'correio: absent.toml: cannot read config file: no such file',
      );
    }));

  void test('check: OK on a sound site; reports unreadable files and foreign domains', () =>
    withSite(async (cwd) => {
      // port 0 listeners: the check binds what is configured, and another program may hold 2525
      const listens = '[smtp]\nlisten = ["127.0.0.1:0"]\n[imap]\nlisten = []\n[http]\nlisten = []\n[metrics]\nlisten = []\n';
      await writeFile(join(cwd, 'correio.toml'), `${CONFIG}${listens}`);
      let r = await runCli(['check'], { cwd });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${join(cwd, 'correio.toml')}: OK\n`);
      // check creates nothing: the directory (with example.org) is made by a command that writes
      assert.equal((await runCli(['user', 'list'], { cwd })).code, 0);
      await writeFile(join(cwd, 'correio.toml'), `${CONFIG.replace('"example.org"', '"other.example"')}aliases_file = "aliases"\n${listens}`);
      r = await runCli(['check'], { cwd });
      assert.equal(r.code, 78, 'EX_CONFIG: the configuration is what needs fixing');
      assert.match(r.stdout, new RegExp(`^error: aliases_file: cannot read ${join(cwd, 'aliases')}$`, 'm'));
      assert.match(r.stdout, /^warning: directory domain example.org is not in local_domains$/m);
      assert.equal(r.stderr, `correio: ${join(cwd, 'correio.toml')}: 1 problem found\n`);
    }));

  void test('directory find: text and JSON', () =>
    withSite(async (cwd) => {
      await runCli(['user', 'add', 'suzana@dc.uece.br', '--name', 'Suzana Matos'], { cwd });
      let r = await runCli(['directory', 'find', 'MATOS'], { cwd });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'user\tsuzana@dc.uece.br\tSuzana Matos\n');
      r = await runCli(['directory', 'find', 'uece', '--json'], { cwd });
      assert.deepEqual(JSON.parse(r.stdout), [
        { kind: 'domain', address: 'dc.uece.br' },
        { kind: 'user', address: 'postmaster@dc.uece.br' },
        { kind: 'user', address: 'suzana@dc.uece.br', detail: 'Suzana Matos' },
      ]);
      r = await runCli(['directory', 'find', 'nothing-here', '--json'], { cwd });
      assert.equal(r.stdout, '[]\n');
    }));
});
