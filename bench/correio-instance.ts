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
import { freePort, stopChild, track, waitForSmtp } from './peers.js';

/** The project root (bench/ compiles to dist/bench/). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(projectRoot, 'bin', 'correio.js');

export interface CorreioOptions {
  /** routes for [delivery.routes], e.g. { 'example.net': 'smtp:[127.0.0.1]:2526' } */
  routes?: Record<string, string>;
  /** [delivery] concurrency */
  deliveryConcurrency?: number;
  /** mailboxes to create with `correio user add` before start */
  users?: string[];
  logLevel?: string;
  /** extra node flags, e.g. --cpu-prof */
  nodeFlags?: string[];
}

export interface CorreioInstance {
  port: number;
  dataDir: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

export async function startCorreio(work: string, o: CorreioOptions = {}): Promise<CorreioInstance> {
  const dataDir = path.join(work, 'data');
  await fsp.mkdir(dataDir, { recursive: true });
  const port = await freePort();
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
      '[delivery]',
      `concurrency = ${o.deliveryConcurrency ?? 20}`,
      '[delivery.routes]',
      ...routes,
      '[log]',
      `level = ${JSON.stringify(o.logLevel ?? 'info')}`,
      '',
    ].join('\n'),
  );
  for (const u of o.users ?? []) {
    const r = spawnSync(process.execPath, [cli, 'user', 'add', u, '--config', conf], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`correio user add ${u} failed: ${(r.stderr || r.stdout).trim()}`);
  }
  const logFile = path.join(work, 'correio.log');
  const fd = fs.openSync(logFile, 'a');
  const child = track(
    spawn(process.execPath, [...(o.nodeFlags ?? []), cli, 'serve', '--config', conf], {
      cwd: work,
      stdio: ['ignore', fd, fd],
    }),
  );
  fs.closeSync(fd);
  try {
    await waitForSmtp(port, 30_000, child);
  } catch (e) {
    await stopChild(child, 'SIGKILL', 1000);
    const tail = (await fsp.readFile(logFile, 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' / ');
    throw new Error(`correio did not start: ${(e as Error).message}${tail ? `; log: ${tail}` : ''}`);
  }
  return { port, dataDir, child, logFile, stop: () => stopChild(child, 'SIGTERM', 15_000) };
}
