/**
 * Issue 13: one `correio serve` per data directory, and start failures that tell the operator
 * what to do. Real processes: a second server on the same data_dir, a stale lock, a port the
 * test holds, a privileged port as a non-root user, a crash's leftovers in the spool, a listen address not on this machine, a
 * data_dir that is a file, a data directory the server may not write.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand } from '../helpers/cli.js';
import { freePort, LineClient } from '../helpers/net.js';
import { startSiteProcess, waitFor } from '../helpers/site.js';
import { FsQueueStore } from '../../src/queue/index.js';
import { uniqueId } from '../../src/util/index.js';

interface Exit {
  code: number | null;
  stderr: string;
}

const isRoot = process.getuid?.() === 0;
const nobody = 65534;

/** Runs `correio serve --config FILE` and waits for it to exit (it must: each case fails to start). */
function serveExpectingExit(configFile: string, opts: { uid?: number } = {}): Promise<Exit> {
  const child = spawn(process.execPath, [...cliCommand(), 'serve', '--config', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CORREIO_CONFIG: undefined },
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** The one stderr line of a failed start, after checking there is exactly one. */
function oneLine(r: Exit): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(r.stderr)}`);
  return lines[0];
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'correio-start-'));
  // readable by the unprivileged user of the privileged-port case
  await chmod(dir, 0o755);
});
after(() => rm(dir, { recursive: true, force: true }));

async function config(name: string, body: string): Promise<string> {
  const file = join(dir, `${name}.toml`);
  await writeFile(file, `${body}\n[log]\nlevel = "silent"\n`);
  return file;
}

void describe('one serve per data directory', () => {
  void test('a second serve on the same data_dir exits 75 naming the PID; the first keeps its socket and service', async () => {
    const site = await startSiteProcess({ domains: ['example.org'] });
    try {
      const pid = site.child!.pid!;
      const lockFile = join(site.dataDir, 'serve.pid');
      assert.equal(readFileSync(lockFile, 'utf8'), `${pid}\n`);
      const r = await serveExpectingExit(site.configFile);
      assert.equal(r.code, 75, r.stderr);
      assert.equal(
        oneLine(r),
        `correio: data directory ${site.dataDir} is in use by another correio serve (PID ${pid}, lock ${lockFile}): ` +
          `stop that one first, or give this one another data_dir (if PID ${pid} is not correio, remove ${lockFile})`,
      );
      // today's bug: the second one deleted the live server's control socket on its way out
      assert.ok(existsSync(join(site.dataDir, 'control.sock')), 'control socket still there');
      assert.equal(readFileSync(lockFile, 'utf8'), `${pid}\n`, 'the lock is still the first server\'s');
      const c = await LineClient.connect(site.port, site.host);
      assert.match((await c.readReply()) ?? '', /^220 /);
      c.close();
      await site.stop();
      assert.equal(existsSync(lockFile), false, 'a clean stop removes the lock');
    } finally {
      await site.destroy();
    }
  });

  void test('a stale lock left by a dead process is taken over; the spool\'s leftovers go once it serves', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    assert.ok(deadPid > 0);
    const dataDir = join(dir, 'stale-data');
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'serve.pid'), `${deadPid}\n`);
    // what a crash leaves in the spool: an env file whose message is gone, a draft (issue 19:
    // the draft goes before the server listens, the env file once its queue is loaded)
    await (await FsQueueStore.open(join(dataDir, 'spool'))).close();
    const orphan = join(dataDir, 'spool', 'env', `${uniqueId()}.json`);
    const draft = join(dataDir, 'spool', 'tmp', uniqueId());
    await writeFile(orphan, '{}');
    await writeFile(draft, 'half');
    const site = await startSiteProcess({ domains: ['example.org'], dataDir });
    try {
      assert.equal(await readFile(join(dataDir, 'serve.pid'), 'utf8'), `${site.child!.pid}\n`);
      assert.equal(existsSync(draft), false, 'the draft is gone before the server serves');
      await waitFor('the orphaned env file removed', () => !existsSync(orphan));
    } finally {
      await site.destroy();
    }
  });
});

void describe('start errors say what to do', { concurrency: 2 }, () => {
  void test('a port already bound: 69 and the key, address and fix', async () => {
    const holder = net.createServer();
    await new Promise<void>((res) => holder.listen(0, '127.0.0.1', () => res()));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const file = await config('inuse', `data_dir = "inuse-data"\n[smtp]\nlisten = []\nsubmission = ["127.0.0.1:${port}"]`);
      const r = await serveExpectingExit(file);
      assert.equal(r.code, 69, r.stderr);
      assert.equal(
        oneLine(r),
        `correio: smtp.submission: 127.0.0.1:${port} is already in use by another program: stop it (ss -ltnp shows which) or set smtp.submission to another port`,
      );
      assert.equal(existsSync(join(dir, 'inuse-data', 'serve.pid')), false, 'the lock is released on a failed start');
    } finally {
      holder.close();
    }
  });

  void test('a port below 1024 as a non-root user: 77 and the setcap hint', async (t) => {
    const unprivilegedStart = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim() || '1024');
    if (unprivilegedStart <= 25) return t.skip('this machine lets any user bind port 25 (ip_unprivileged_port_start)');
    const dataDir = join(dir, 'lowport-data');
    await mkdir(dataDir, { recursive: true });
    if (isRoot) await chown(dataDir, nobody, nobody);
    const file = await config('lowport', `data_dir = "lowport-data"\n[smtp]\nlisten = ["127.0.0.1:25"]`);
    // root runs the server as nobody; anyone else is unprivileged already
    const r = await serveExpectingExit(file, isRoot ? { uid: nobody } : {});
    assert.equal(r.code, 77, r.stderr);
    assert.match(
      oneLine(r),
      /^correio: smtp\.listen: 127\.0\.0\.1:25: ports below 1024 need privileges that this process \(user [^)]+\) does not have: allow node to bind them with "setcap cap_net_bind_service=\+ep \$\(command -v node\)" \(or AmbientCapabilities=CAP_NET_BIND_SERVICE under systemd\), or set smtp\.listen to a port above 1023$/,
    );
  });

  void test('a listen address that is not on this machine: 78', async () => {
    const file = await config('notmine', `data_dir = "notmine-data"\n[smtp]\nlisten = ["192.0.2.1:${await freePort()}"]`);
    const r = await serveExpectingExit(file);
    assert.equal(r.code, 78, r.stderr);
    assert.match(oneLine(r), /^correio: smtp\.listen: 192\.0\.2\.1:\d+: 192\.0\.2\.1 is not an address of this machine: use one it has \(ip -brief address\) or 0\.0\.0\.0 \/ \[::\] for all$/);
  });

  void test('a data_dir that is a file: 78, names the path and the fix', async () => {
    await writeFile(join(dir, 'a-file'), 'not a directory\n');
    const file = await config('isfile', `data_dir = "a-file"\n[smtp]\nlisten = ["127.0.0.1:${await freePort()}"]`);
    const r = await serveExpectingExit(file);
    assert.equal(r.code, 78, r.stderr);
    assert.equal(
      oneLine(r),
      `correio: data_dir: ${join(dir, 'a-file')} (the data directory) is a file, not a directory: set data_dir to a directory (it is made when absent), or move the file away`,
    );
  });

  void test('a data directory the server may not write: 77, names the path and the user', async (t) => {
    if (!isRoot && process.getuid?.() === undefined) return t.skip('no uids on this platform');
    const dataDir = join(dir, 'ro-data');
    await mkdir(dataDir, { recursive: true });
    await chmod(dataDir, 0o555);
    const file = await config('rodata', `data_dir = "ro-data"\n[smtp]\nlisten = ["127.0.0.1:${await freePort()}"]`);
    // root may write anywhere: run the server as nobody then
    const r = await serveExpectingExit(file, isRoot ? { uid: nobody } : {});
    assert.equal(r.code, 77, r.stderr);
    assert.match(
      oneLine(r),
      new RegExp(`^correio: data_dir: permission denied on ${dataDir}/serve\\.pid\\S* \\(in the data directory ${dataDir}\\) for user \\S+: make it writable by that user \\(chown -R \\S+ ${dataDir}\\) or run as its owner$`),
    );
  });

  void test('a configured certificate that does not exist: 78, names smtp.tls_cert', async () => {
    const file = await config('nocert', `data_dir = "nocert-data"\n[smtp]\nlisten = ["127.0.0.1:${await freePort()}"]\ntls_cert = "missing.pem"\ntls_key = "missing.key"`);
    const r = await serveExpectingExit(file);
    assert.equal(r.code, 78, r.stderr);
    assert.equal(
      oneLine(r),
      `correio: smtp.tls_key: ${join(dir, 'missing.key')} does not exist: correct the path, or remove smtp.tls_key to use a generated certificate`,
    );
  });

  void test('bad TOML names line and column in words, exit 78', async () => {
    const file = await config('badtoml', `hostname = "mx.example.org\ndata_dir = "x"`);
    const r = await serveExpectingExit(file);
    assert.equal(r.code, 78, r.stderr);
    assert.equal(
      oneLine(r),
      `correio: ${file}:1: TOML syntax error at line 1, column 27: a string is not closed: the closing quote is missing at the end of the line`,
    );
  });
});
