/**
 * `correio serve` says where each service is: with standard error on a terminal, one plain line
 * per service once started (README: "it prints one line per service"); with standard error a
 * pipe (a file, journald), none, and the log's "correio started" line carries the addresses.
 * A real serve process; the terminal is a pseudo-terminal made by script(1) (util-linux), and
 * the first test skips where it is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/site.js';

interface Ports { smtp: number; imap: number; pop3: number; http: number; metrics: number }

/** A site of its own: every service on a port of its own, on 127.0.0.1. */
async function site(): Promise<{ dir: string; configFile: string; ports: Ports }> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-lines-'));
  const ports: Ports = { smtp: await freePort(), imap: await freePort(), pop3: await freePort(), http: await freePort(), metrics: await freePort() };
  const configFile = join(dir, 'correio.toml');
  await writeFile(configFile, [
    'hostname = "mx.localhost"', 'data_dir = "var"', 'local_domains = ["localhost"]',
    '[smtp]', `listen = ["127.0.0.1:${ports.smtp}"]`,
    '[imap]', `listen = ["127.0.0.1:${ports.imap}"]`,
    '[pop3]', `listen = ["127.0.0.1:${ports.pop3}"]`,
    '[http]', `listen = ["127.0.0.1:${ports.http}"]`,
    '[metrics]', `listen = ["127.0.0.1:${ports.metrics}"]`,
    '[log]', 'level = "info"', '',
  ].join('\n'));
  return { dir, configFile, ports };
}

/** SIGTERM to the serve process named by its pid file, if it runs. */
async function stopServe(dir: string): Promise<void> {
  const pid = Number((await readFile(join(dir, 'var', 'serve.pid'), 'utf8').catch(() => '')).trim().split(/\s/)[0]);
  if (pid > 0) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

/** Starts a child in `cwd` (without $CORREIO_CONFIG), keeping what it writes. */
function run(file: string, args: string[], cwd: string, stdin: 'pipe' | 'ignore'): { child: ChildProcess; exited: Promise<void>; stdout: () => string; stderr: () => string } {
  const child = spawn(file, args, { cwd, env: { ...process.env, CORREIO_CONFIG: undefined }, stdio: [stdin, 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited, stdout: () => out, stderr: () => err };
}

const noScript = spawnSync('script', ['--version']).error ? 'script(1) is not installed: no pseudo-terminal to run serve on' : undefined;

interface Started { dir: string; ports: Ports; child: ChildProcess; exited: Promise<void>; stdout: () => string; stderr: () => string }

/**
 * serve on a site of its own, on a terminal (under script(1)) or with pipes, until `ready` holds
 * of its output or it exits. The ports come from freePort (bound, then released): a test beside
 * this one may take one first, and serve exits 69 "… already in use by another program"; the
 * site is then made again with fresh ports, a few times.
 */
async function startServe(terminal: boolean, ready: (out: string) => boolean): Promise<Started> {
  for (let attempt = 1; ; attempt++) {
    const { dir, configFile, ports } = await site();
    const argv = [process.execPath, ...cliCommand(), '--config', configFile, 'serve'];
    const quote = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;
    // on a terminal, stdin stays open (a pipe): script(1) would end the session at its end
    const r = terminal ? run('script', ['-qfec', argv.map(quote).join(' '), '/dev/null'], dir, 'pipe') : run(argv[0], argv.slice(1), dir, 'ignore');
    await waitFor('serve to start', () => ready(r.stdout() + r.stderr()) || r.child.exitCode !== null, 60_000);
    const taken = r.child.exitCode !== null && /already in use by another program/.test(r.stdout() + r.stderr());
    if (!taken || attempt >= 5) return { dir, ports, ...r };
    await r.exited;
    await rm(dir, { recursive: true, force: true });
  }
}

void test('on a terminal, serve prints one line per service with its address', { skip: noScript }, async () => {
  const { dir, ports, child, exited, stdout, stderr } = await startServe(true, (out) => out.includes('correio: metrics at'));
  try {
    // the terminal's output (serve's stdout and stderr alike) comes on script's stdout
    const out = stdout() + stderr();
    const lines = out.split(/\r?\n/).filter((l) => l.startsWith('correio: '));
    assert.deepEqual(lines, [
      `correio: smtp (mx) on 127.0.0.1:${ports.smtp}`,
      `correio: imap on 127.0.0.1:${ports.imap}`,
      `correio: pop3 on 127.0.0.1:${ports.pop3}`,
      `correio: webmail at http://127.0.0.1:${ports.http}/ (log in with a mailbox's address and password)`,
      `correio: admin console at http://127.0.0.1:${ports.http}/admin (for the accounts in [http] admins)`,
      `correio: metrics at http://127.0.0.1:${ports.metrics}/metrics`,
    ], out);
  } finally {
    await stopServe(dir);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

void test('with standard error not a terminal, no such lines: the JSON "correio started" line has the addresses', async () => {
  const { dir, ports, child, exited, stdout, stderr } = await startServe(false, (out) => out.includes('"msg":"correio started"'));
  try {
    const started = JSON.parse(stdout().split('\n').find((l) => l.includes('"msg":"correio started"')) ?? '{}') as Record<string, unknown>;
    assert.deepEqual(started.http, [`http://127.0.0.1:${ports.http}/`], stdout() + stderr());
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  }
  assert.equal(stderr(), '', 'nothing but the log, on stdout');
});
