/**
 * @module test-rspamd
 * A real rspamd (Debian's package) for the content-scan tests: the stock configuration from
 * /etc/rspamd with one normal worker on a loopback address and port, its run, database and log
 * directories in a temporary folder, DNS pointed at a closed loopback port (lookups fail at
 * once: no network is asked). Started as the current user; as root with -u/-g root and -i.
 * Security: test only; binds 127.0.0.x; files under mkdtemp.
 * Limitations: rspamd compiles its regular expressions at start: allow a minute or two on a
 *   loaded machine (`startRspamd` waits up to 180 s, then gives a skip reason).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export interface RspamdPeer {
  /** the normal worker, e.g. "http://127.0.0.41:11333" */
  readonly url: string;
  close(): Promise<void>;
}

function ping(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/ping`, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Starts rspamd, or returns why it cannot (the test then skips with that message). */
export async function startRspamd(host = '127.0.0.41'): Promise<RspamdPeer | string> {
  try {
    await access('/usr/bin/rspamd');
  } catch {
    return 'rspamd is not installed (Debian package rspamd)';
  }
  const dir = await mkdtemp(join(tmpdir(), 'correio-rspamd-'));
  const port = await freePort(host);
  await writeFile(
    join(dir, 'rspamd.conf'),
    [
      '.include "$CONFDIR/common.conf"',
      'options {',
      '  pidfile = "$RUNDIR/rspamd.pid";',
      '  .include "$CONFDIR/options.inc"',
      '  dns { nameserver = ["127.0.0.1:1"]; timeout = 0.2s; retransmits = 1; }',
      '}',
      'logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "warning"; }',
      'worker "normal" {',
      `  bind_socket = "${host}:${port}";`,
      '  .include "$CONFDIR/worker-normal.inc"',
      '  count = 1;',
      '}',
      '',
    ].join('\n'),
  );
  const vars = ['CONFDIR=/etc/rspamd', `LOCAL_CONFDIR=${dir}`, `RUNDIR=${dir}`, `DBDIR=${dir}`, `LOGDIR=${dir}`].flatMap((v) => ['--var', v]);
  const root = process.getuid?.() === 0 ? ['-i', '-u', 'root', '-g', 'root'] : [];
  const child: ChildProcess = spawn('/usr/bin/rspamd', ['-f', ...root, '-c', join(dir, 'rspamd.conf'), ...vars], { stdio: 'ignore' });
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://${host}:${port}`;
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await ping(url)) return { url, close };
    await new Promise((r) => setTimeout(r, 500));
  }
  const log = await readFile(join(dir, 'rspamd.log'), 'utf8').catch(() => '');
  await close();
  return `rspamd did not start on ${url} (${log.split('\n').filter(Boolean).slice(-2).join(' | ') || 'no log'})`;
}
