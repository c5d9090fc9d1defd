/**
 * @module correio-instance
 * Starts `node bin/correio.js serve` as a child process on 127.0.0.1:<free port> with its
 * data_dir in a temp dir, for one bench run, and stops it (SIGTERM, then SIGKILL).
 * Standards: none (process management).
 * Security: loopback only; the config is generated here, never read from the user's tree.
 * Limitations: measures the compiled dist/ (npm run build first).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSmtpProcesses } from '../src/config/index.js';
import { freePort, sleep, stopChild, track, waitForSmtp } from './peers.js';

/** The project root: the nearest parent with bin/correio.js (dist/bench/ compiled, bench/ via tsx). */
export const projectRoot = ((): string => {
  let d = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(d, 'bin', 'correio.js')) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
})();
const cli = path.join(projectRoot, 'bin', 'correio.js');

export interface CorreioOptions {
  /** routes for [delivery.routes], e.g. { 'example.net': 'smtp:[127.0.0.1]:2526' } */
  routes?: Record<string, string>;
  /** more [smtp] keys, e.g. { max_connections: 10_100 } */
  smtp?: Record<string, number>;
  /** ms to wait for the SMTP port to answer (default 30 s; a big spool's recovery takes longer) */
  startTimeoutMs?: number;
  /** [delivery] concurrency */
  deliveryConcurrency?: number;
  /** mailboxes to create with `correio user add` before start */
  users?: string[];
  logLevel?: string;
  /** extra node flags, e.g. --cpu-prof */
  nodeFlags?: string[];
  /** a command the server runs under, before node (e.g. valgrind and its options); its pid is the server's */
  wrapper?: string[];
  /** extra environment for the child */
  env?: Record<string, string>;
  /** serve HTTP (JMAP) on a free loopback port (`httpPort`) */
  http?: boolean;
  /** serve IMAP on a free loopback port (`imapPort`); without it no IMAP listener */
  imap?: boolean;
  /** the password of every user in `users` (default: none set) */
  password?: string;
  /** [storage] url, e.g. postgres://…/db (default: the files backend) */
  storageUrl?: string;
  /** more [smtp] lines, written as given (e.g. 'trusted_networks = []') */
  smtpLines?: string[];
  /** more [delivery] lines, written as given */
  deliveryLines?: string[];
  /** more tables at the end, written as given (e.g. ['[mail_auth]', 'verify_inbound = true']) */
  tables?: string[];
  /** more [imap] lines, written as given (e.g. 'max_connections = 10100') */
  imapLines?: string[];
  /** runs on the data_dir after the users are added, before the server starts */
  prepare?: (dataDir: string) => Promise<void>;
}

/** How the stop went: graceful (exited after one SIGTERM) or not, and how long it took. */
export interface StopResult {
  graceful: boolean;
  ms: number;
}

export interface CorreioInstance {
  port: number;
  /** the HTTP port when `http` was asked for, else 0 */
  httpPort: number;
  /** the IMAP port when `imap` was asked for, else 0 */
  imapPort: number;
  dataDir: string;
  child: ChildProcess;
  logFile: string;
  /** SIGTERM; after graceMs a second SIGTERM (correio then exits at once, still writing a
   *  --cpu-prof profile); SIGKILL 5 s later */
  stop(graceMs?: number): Promise<StopResult>;
}

export async function startCorreio(work: string, o: CorreioOptions = {}): Promise<CorreioInstance> {
  const dataDir = path.join(work, 'data');
  await fsp.mkdir(dataDir, { recursive: true });
  const port = await freePort();
  const httpPort = o.http ? await freePort() : 0;
  const imapPort = o.imap ? await freePort() : 0;
  const conf = path.join(work, 'correio.toml');
  const routes = Object.entries(o.routes ?? {}).map(([d, r]) => `${JSON.stringify(d)} = ${JSON.stringify(r)}`);
  await fsp.writeFile(
    conf,
    [
      'hostname = "bench.localhost"',
      `data_dir = ${JSON.stringify(dataDir)}`,
      'local_domains = ["localhost"]',
      '[smtp]',
      `listen = ["127.0.0.1:${port}"]`,
      ...Object.entries(o.smtp ?? {}).map(([k, v]) => `${k} = ${v}`),
      ...(o.smtpLines ?? []),
      '[delivery]',
      `concurrency = ${o.deliveryConcurrency ?? 20}`,
      ...(o.deliveryLines ?? []),
      '[delivery.routes]',
      ...routes,
      '[log]',
      `level = ${JSON.stringify(o.logLevel ?? 'info')}`,
      ...(o.storageUrl ? ['[storage]', `url = ${JSON.stringify(o.storageUrl)}`] : []),
      '[http]',
      `listen = [${o.http ? `"127.0.0.1:${httpPort}"` : ''}]`,
      '[imap]',
      `listen = [${o.imap ? `"127.0.0.1:${imapPort}"` : ''}]`,
      ...(o.imapLines ?? []),
      ...(o.tables ?? []),
      '',
    ].join('\n'),
  );
  for (const u of o.users ?? []) {
    const pw = o.password === undefined ? [] : ['--password-stdin'];
    const r = spawnSync(process.execPath, [cli, 'user', 'add', u, ...pw, '--config', conf], { encoding: 'utf8', timeout: 60_000, input: o.password === undefined ? '' : `${o.password}\n` });
    if (r.status !== 0) throw new Error(`correio user add ${u} failed: ${(r.stderr || r.stdout).trim()}`);
  }
  await o.prepare?.(dataDir);
  const logFile = path.join(work, 'correio.log');
  const fd = fs.openSync(logFile, 'a');
  const child = track(
    spawn(o.wrapper?.[0] ?? process.execPath, [...(o.wrapper ? [...o.wrapper.slice(1), process.execPath] : []), ...(o.nodeFlags ?? []), cli, 'serve', '--config', conf], {
      cwd: work,
      env: { ...process.env, ...o.env },
      stdio: ['ignore', fd, fd],
    }),
  );
  fs.closeSync(fd);
  try {
    await waitForSmtp(port, o.startTimeoutMs ?? 30_000, child);
  } catch (e) {
    await stopChild(child, 'SIGKILL', 1000);
    const tail = (await fsp.readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' / ');
    throw new Error(`correio did not start: ${(e as Error).message}${tail ? `; log: ${tail}` : ''}`);
  }
  // with acceptor processes the first acceptor may answer before the others accept: wait for
  // "correio started", logged once they all do, so their start is not measured
  if ((o.smtp?.processes ?? defaultSmtpProcesses()) > 1 && ['info', 'debug', 'trace'].includes(o.logLevel ?? 'info')) {
    const deadline = Date.now() + (o.startTimeoutMs ?? 30_000);
    while (!(await fsp.readFile(logFile, 'utf8').catch(() => '')).includes('"msg":"correio started"')) {
      if (Date.now() > deadline) throw new Error('correio did not log "correio started"');
      await sleep(100);
    }
  }
  const stop = async (graceMs = 10_000): Promise<StopResult> => {
    const t0 = performance.now();
    if (child.exitCode !== null || child.signalCode !== null) return { graceful: false, ms: 0 };
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const first = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!first) await stopChild(child, 'SIGTERM', 5000);
    return { graceful: first, ms: performance.now() - t0 };
  };
  return { port, httpPort, imapPort, dataDir, child, logFile, stop };
}
