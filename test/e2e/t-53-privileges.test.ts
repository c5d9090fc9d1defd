/**
 * Issue 13: `correio serve` started by root binds its ports (one below 1024 here), then runs as
 * `run_as` (default: the owner of data_dir); everything it and root's CLI commands create in the
 * data directory belongs to that user. Real processes, a real unprivileged account (nobody,
 * 65534), real sockets; the kernel's view of the server (/proc/PID/status) is what is checked.
 * Root only (CI is root): an unprivileged run cannot switch users, and says so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand, runCli } from '../helpers/cli.js';
import { freePort, LineClient } from '../helpers/net.js';
import { sendMail, waitFor } from '../helpers/site.js';

const isRoot = process.getuid?.() === 0;
const nobody = 65534;
const skip = isRoot ? false : 'needs root (to start serve as root and switch to an unprivileged user); CI runs as root';

/** A port below 1024 that is free on 127.0.0.1 now (root may bind it). */
async function freeLowPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 600 + Math.floor(Math.random() * 400);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port below 1024');
}

/** Every path under dir (dir included) whose owner is not uid, with its owner. */
async function notOwnedBy(dir: string, uid: number): Promise<string[]> {
  const out: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p);
    if (st.uid !== uid) out.push(`${p} (uid ${st.uid})`);
    if (st.isDirectory()) for (const name of await readdir(p)) await walk(join(p, name));
  };
  await walk(dir);
  return out;
}

/** Real, effective, saved and file-system uids (and gids) of a process, from the kernel. */
async function idsOf(pid: number): Promise<{ uids: number[]; gids: number[]; groups: number[] }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number[] =>
    (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').split(/\s+/).filter((x) => x !== '').map(Number);
  return { uids: field('Uid'), gids: field('Gid'), groups: field('Groups') };
}

function serve(configFile: string, opts: { uid?: number } = {}): { child: ChildProcess; stderr: () => string; started: () => boolean; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [...cliCommand(), 'serve', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CORREIO_CONFIG: undefined },
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
  });
  let err = '';
  let out = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // the log's "correio started" comes after root is given up (listeners answer a little before)
  return { child, stderr: () => err, started: () => out.includes('"msg":"correio started"'), exited };
}

async function greeting(port: number): Promise<string | undefined> {
  try {
    const c = await LineClient.connect(port, '127.0.0.1');
    const g = await c.readReply();
    c.close();
    return g?.startsWith('220') ? g : undefined;
  } catch {
    return undefined;
  }
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'correio-priv-'));
  await chmod(dir, 0o755); // nobody must reach its data directory
});
after(() => rm(dir, { recursive: true, force: true }));

async function writeConfig(name: string, body: string): Promise<string> {
  const file = join(dir, `${name}.toml`);
  await writeFile(file, `hostname = "mx.example.org"\nlocal_domains = ["example.org"]\n${body}\n[imap]\nlisten = []\n[metrics]\nlisten = []\n[log]\nlevel = "info"\n`);
  return file;
}

void describe('serve started by root', { skip }, () => {
  void test('binds a port below 1024, then runs as the owner of data_dir; it, and root\'s CLI commands, leave only that user\'s files', async () => {
    const dataDir = join(dir, 'owned');
    await mkdir(dataDir);
    await chown(dataDir, nobody, nobody);
    const port = await freeLowPort();
    // an LMTP socket too: bound with root's uid, it must be nobody's afterwards (issue 13)
    const file = await writeConfig('owned', `data_dir = "owned"\n[smtp]\nlisten = ["127.0.0.1:${port}"]\n[lmtp]\nlisten = ["unix:owned/lmtp.sock"]`);
    // root adds the user before the first start: the database is made as nobody's
    const add = await runCli(['user', 'add', 'bob@example.org', '--config', file], { stdin: 'pw\n' });
    assert.equal(add.code, 0, add.stderr);
    const s = serve(file);
    try {
      await waitFor('the greeting on the low port', async () => (s.child.exitCode === null ? greeting(port) : Promise.reject(new Error(s.stderr()))), 30_000);
      await waitFor('"correio started" in the log', () => s.started() || s.child.exitCode !== null, 30_000);
      const ids = await idsOf(s.child.pid!);
      assert.deepEqual(ids.uids, [nobody, nobody, nobody, nobody], 'real, effective, saved and fs uid are nobody\'s');
      assert.deepEqual(ids.gids, [nobody, nobody, nobody, nobody]);
      const sock = await lstat(join(dataDir, 'lmtp.sock'));
      assert.ok(sock.isSocket());
      assert.deepEqual([sock.uid, sock.gid], [nobody, nobody], 'the LMTP socket is run_as\'s');
      assert.ok(!ids.groups.includes(0), `no root group left: ${ids.groups.join(' ')}`);
      // mail over SMTP, and from root's sendmail while the server runs
      const r = await sendMail({ host: '127.0.0.1', port }, 'alice@example.net', ['bob@example.org'], 'Subject: one\n\nover SMTP\n');
      assert.match(r.final ?? '', /^250 /);
      const sm = await runCli(['sendmail', '--config', file, 'bob@example.org'], { stdin: 'Subject: two\n\nfrom root\n' });
      assert.equal(sm.code, 0, sm.stderr);
      const newDir = join(dataDir, 'mail', 'example.org', 'bob', 'new');
      await waitFor('two messages in bob\'s Maildir', async () => existsSync(newDir) && (await readdir(newDir)).length === 2);
      assert.deepEqual(await notOwnedBy(dataDir, nobody), [], 'every file in the data directory is nobody\'s');
      const log = s.stderr();
      assert.equal(log, '', 'nothing on stderr');
    } finally {
      s.child.kill('SIGTERM');
    }
    assert.equal(await s.exited, 0);
    assert.equal(existsSync(join(dataDir, 'serve.pid')), false, 'nobody removed its own pid file');
    // root's sendmail with the server down writes into the spool as nobody
    const sm = await runCli(['sendmail', '--config', file, 'bob@example.org'], { stdin: 'Subject: three\n\nserver down\n' });
    assert.equal(sm.code, 0, sm.stderr);
    assert.deepEqual(await notOwnedBy(dataDir, nobody), []);
  });

  void test('run_as names the user; an absent data_dir is made, that user\'s, searchable for the maildrop', async () => {
    const file = await writeConfig('named', `data_dir = "named/data"\nrun_as = "nobody"\n[smtp]\nlisten = ["127.0.0.1:${await freePort()}"]`);
    const s = serve(file);
    const dataDir = join(dir, 'named', 'data');
    try {
      await waitFor('"correio started" in the log', () => s.started() || s.child.exitCode !== null, 30_000);
      assert.equal(s.child.exitCode, null, s.stderr());
      const st = await lstat(dataDir);
      assert.equal(st.uid, nobody);
      // 0700 as made, then searchable by others for the maildrop (docs/install.md §3): 0711
      assert.equal(st.mode & 0o777, 0o711);
      assert.equal((await lstat(join(dir, 'named'))).mode & 0o777, 0o755, 'the parent is made traversable');
      assert.deepEqual((await idsOf(s.child.pid!)).uids, [nobody, nobody, nobody, nobody]);
    } finally {
      s.child.kill('SIGTERM');
    }
    assert.equal(await s.exited, 0);
  });

  void test('run_as that does not own data_dir: 78 and the chown that fixes it', async () => {
    const dataDir = join(dir, 'roots');
    await mkdir(dataDir);
    const file = await writeConfig('mismatch', `data_dir = "roots"\nrun_as = "nobody"\n[smtp]\nlisten = ["127.0.0.1:${await freePort()}"]`);
    const s = serve(file);
    assert.equal(await s.exited, 78, s.stderr());
    assert.equal(
      s.stderr(),
      `correio: data_dir: ${dataDir} (the data directory) belongs to root, not to run_as nobody: chown -R nobody: ${dataDir}, or set run_as = "root"\n`,
    );
  });

  void test('run_as naming no account: 78 and how to make it', async () => {
    const file = await writeConfig('nouser', `data_dir = "nouser-data"\nrun_as = "correio-no-such-user"\n[smtp]\nlisten = ["127.0.0.1:${await freePort()}"]`);
    const s = serve(file);
    assert.equal(await s.exited, 78, s.stderr());
    assert.match(s.stderr(), /^correio: run_as: there is no user "correio-no-such-user" on this machine: create it \(useradd --system [^)]*\) or correct run_as\n$/);
    assert.equal(existsSync(join(dir, 'nouser-data')), false, 'nothing made');
  });

  void test('a user that is not root cannot switch to another run_as: 77, says how to start it', async () => {
    const dataDir = join(dir, 'other');
    await mkdir(dataDir);
    await chown(dataDir, nobody, nobody);
    const file = await writeConfig('other', `data_dir = "other"\nrun_as = "daemon"\n[smtp]\nlisten = ["127.0.0.1:${await freePort()}"]`);
    const s = serve(file, { uid: nobody });
    assert.equal(await s.exited, 77, s.stderr());
    assert.equal(
      s.stderr(),
      'correio: run_as: correio is to run as daemon, but nobody started it and cannot switch users: start it as root (it drops to daemon after binding its ports) or as daemon, or remove run_as\n',
    );
  });
});
