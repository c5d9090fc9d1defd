/**
 * @module deferred-scenario
 * The bench's big-queue scenarios (issue 19), `BENCH_SCENARIOS=deferred100k` and `deferred1m`:
 * correio started on a spool that already holds 100,000 (or 1,000,000) deferred messages
 * (fill-spool.ts: a next hop that refused each once, next attempts 15–75 minutes away, so none
 * comes due while measured) and no saved schedule (as after a crash), then the accept
 * scenario's load, then stopped and started again (a clean restart: the schedule saved at the
 * stop is restored). It reports, beside the accept rate and CPU per message (compared in
 * run-bench with the empty-queue `accept` run of the same invocation):
 *   start    spawn of `correio serve` until its SMTP port answers and a first message is accepted
 *   loaded   until its log says "queue loaded" (the runner's background walk of the queue done)
 *   RSS      resident and peak resident memory after the load (/proc/<pid>/status)
 *   list     wall and CPU time of `correio queue list --limit 100` while the server runs
 *   restart  the same start and loaded times after a clean stop (the saved schedule)
 * Standards: none. Security: loopback only; writes only under the run's temp dir.
 * Limitations: correio only (Postfix's deferred queue is not filled); a 1,000,000-message fill
 *   takes minutes and ~6 GB of disk.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { FsQueueStore } from '../src/queue/index.js';
import type { BenchContext, Sample } from './bench-context.js';
import { fillDeferred } from './fill-spool.js';
import { projectRoot } from './correio-instance.js';
import { sleep, startBlackHole } from './peers.js';

export type DeferredScenario = 'deferred100k' | 'deferred1m';
export const deferredCounts: Record<DeferredScenario, number> = { deferred100k: 100_000, deferred1m: 1_000_000 };

export function isDeferredScenario(s: string): s is DeferredScenario {
  return s in deferredCounts;
}

export interface DeferredFigures {
  readonly queued: number;
  readonly startMs: number;
  readonly loadedMs: number;
  readonly rssMb: number;
  readonly peakRssMb: number;
  readonly listMs: number;
  readonly listCpuMs: number;
  /** after a clean stop: serving, and the queue loaded (from the saved schedule) */
  readonly restartMs: number;
  readonly restartLoadedMs: number;
  readonly restartRssMb: number;
}

/** Fills `<work>/data/spool` with the scenario's deferred messages (before correio starts). */
export async function fillForScenario(work: string, s: DeferredScenario): Promise<number> {
  const count = deferredCounts[s];
  await fillDeferred(path.join(work, 'data', 'spool'), {
    count,
    route: { transport: 'smtp', nextHop: '[127.0.0.1]:9' },
    from: Date.now() + 15 * 60_000,
  });
  return count;
}

/**
 * Resolves once correio's log says "queue loaded" `times` times: logged when the queue runner's
 * background load of the queue (the saved schedule's rescan, or the walk) has ended (start-app.ts).
 */
export async function waitLoaded(logFile: string, times = 1, timeoutMs = 1_200_000): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (fs.readFileSync(logFile, 'utf8').split('"queue loaded"').length > times) return;
    await sleep(100);
  }
  throw new Error(`no "queue loaded" in ${logFile} after ${timeoutMs} ms`);
}

/** Resident and peak resident memory of pid, in MB. */
export function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

/** Wall and CPU ms of `correio queue list --limit 100` on the config (throws unless it lists 100 messages). */
export function timeQueuePage(configFile: string): { ms: number; cpuMs: number } {
  const t0 = performance.now();
  // GNU time's user and system seconds of the command, on stderr's last line
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, path.join(projectRoot, 'bin', 'correio.js'), 'queue', 'list', '--limit', '100', '--config', configFile], {
    encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  if (r.status !== 0 || !/ in 100 Requests\.$/m.test(r.stdout)) throw new Error(`queue list --limit 100 failed (${r.status}): ${r.stderr.trim()}`);
  const [user, sys] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  return { ms, cpuMs: (user + sys) * 1000 };
}

/** Sends one message and resolves once it is accepted (250 after the data): serving means accepting. */
async function acceptOne(port: number): Promise<void> {
  const sock = net.connect(port, '127.0.0.1');
  let buf = '';
  const replies: string[] = [];
  const waiters: (() => void)[] = [];
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (/^\d{3} /.test(line)) {
        replies.push(line);
        waiters.shift()?.();
      }
    }
  });
  const reply = async (): Promise<string> => {
    if (replies.length === 0) await new Promise<void>((r) => waiters.push(r));
    return replies.shift()!;
  };
  try {
    for (const cmd of [undefined, 'EHLO bench.localhost', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.net>', 'DATA', 'Subject: first\r\n\r\nx\r\n.', 'QUIT']) {
      if (cmd !== undefined) sock.write(`${cmd}\r\n`);
      const r = await reply();
      if (!/^[23]/.test(r)) throw new Error(`first message refused: ${cmd ?? 'greeting'} -> ${r}`);
    }
  } finally {
    sock.destroy();
  }
}

export function formatDeferred(f: DeferredFigures): string {
  const s = (ms: number, digits = 1): string => `${(ms / 1000).toFixed(digits)} s`;
  return `${f.queued} deferred, no saved schedule: serving (first message accepted) after ${s(f.startMs)}, queue loaded after ${s(f.loadedMs)}, ` +
    `RSS ${f.rssMb.toFixed(0)} MB (peak ${f.peakRssMb.toFixed(0)} MB), queue list --limit 100 ${s(f.listMs, 2)} (CPU ${s(f.listCpuMs, 2)}); ` +
    `clean restart: serving after ${s(f.restartMs)}, queue loaded after ${s(f.restartLoadedMs)}, RSS ${f.restartRssMb.toFixed(0)} MB`;
}

/** Counts what correio's spool holds, as any reader of it does (segment records and message files). */
export async function spoolCount(dataDir: string): Promise<number> {
  const spool = await FsQueueStore.open(path.join(dataDir, 'spool'), { recover: 'never', lock: false });
  const stored = (await spool.listMessageIds()).length;
  await spool.close();
  return stored;
}

/** The accept load against correio restarted on a spool of deferred messages. */
export async function runDeferred(ctx: BenchContext, work: string, scenario: DeferredScenario, profile: boolean): Promise<Sample> {
  const queued = await fillForScenario(work, scenario);
  execFileSync('sync');
  const hole = await startBlackHole();
  try {
    const opts = { routes: { 'example.net': `smtp:[127.0.0.1]:${hole.port}` }, deliveryConcurrency: 1, startTimeoutMs: 600_000 };
    let t0 = performance.now();
    const first = await ctx.withCorreio(work, opts, profile, async (c) => {
      await acceptOne(c.port);
      const startMs = performance.now() - t0;
      await waitLoaded(c.logFile);
      const loadedMs = performance.now() - t0;
      const s = await ctx.measure(async () => ({ acceptMs: await ctx.load(c.port, 'b@example.net') }), () => c.child.pid);
      const mem = memoryOf(c.child.pid!);
      const list = timeQueuePage(path.join(work, 'correio.toml'));
      const stored = await spoolCount(c.dataDir);
      // the first message and the load
      if (stored < queued + 1 + ctx.messages) throw new Error(`only ${stored} of ${queued + 1 + ctx.messages} messages in the spool`);
      return { s, startMs, loadedMs, mem, list };
    });
    // the clean stop saved the schedule: the same data directory started again
    t0 = performance.now();
    const again = await ctx.withCorreio(work, opts, false, async (c) => {
      await acceptOne(c.port);
      const restartMs = performance.now() - t0;
      await waitLoaded(c.logFile, 2);
      return { restartMs, restartLoadedMs: performance.now() - t0, restartRssMb: memoryOf(c.child.pid!).rssMb };
    });
    const { s, startMs, loadedMs, mem, list } = first;
    return { ...s, deferred: { queued, startMs, loadedMs, ...mem, listMs: list.ms, listCpuMs: list.cpuMs, ...again } };
  } finally {
    await hole.stop();
  }
}
