/**
 * @module deferred-scenario
 * The bench's big-queue scenarios (issue 19), `BENCH_SCENARIOS=deferred100k` and `deferred1m`:
 * correio restarted on a spool that already holds 100,000 (or 1,000,000) deferred messages
 * (fill-spool.ts: a next hop that refused each once, next attempts 15–75 minutes away, so none
 * comes due while measured), then the accept scenario's load. It reports, beside the accept
 * rate (compared in run-bench with the empty-queue `accept` run of the same invocation):
 *   start    spawn of `correio serve` until its SMTP port answers (restart to serving)
 *   loaded   until its log says "correio started" (the runner's walk of the queue done)
 *   RSS      resident and peak resident memory after the load (/proc/<pid>/status)
 *   list     wall time of `correio queue list --limit 100` while the server runs
 * Standards: none. Security: loopback only; writes only under the run's temp dir.
 * Limitations: correio only (Postfix's deferred queue is not filled); a 1,000,000-message fill
 *   takes minutes and ~6 GB of disk.
 */
import fs from 'node:fs';
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
 * Resolves once correio's log says "correio started": logged after the queue runner's start
 * walk has loaded the whole queue (start-app.ts), i.e. when deliveries are scheduled again.
 */
export async function waitStarted(logFile: string, timeoutMs = 1_200_000): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (fs.readFileSync(logFile, 'utf8').includes('"correio started"')) return;
    await sleep(200);
  }
  throw new Error(`no "correio started" in ${logFile} after ${timeoutMs} ms`);
}

/** Resident and peak resident memory of pid, in MB. */
export function memoryOf(pid: number): { rssMb: number; peakRssMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

/** Wall ms of `correio queue list --limit 100` on the config (throws unless it lists 100 messages). */
export function timeQueuePage(configFile: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(projectRoot, 'bin', 'correio.js'), 'queue', 'list', '--limit', '100', '--config', configFile], {
    encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  if (r.status !== 0 || !/ in 100 Requests\.$/m.test(r.stdout)) throw new Error(`queue list --limit 100 failed (${r.status}): ${r.stderr.trim()}`);
  return ms;
}

export function formatDeferred(f: DeferredFigures): string {
  return `${f.queued} deferred: serving after ${(f.startMs / 1000).toFixed(1)} s, queue loaded after ${(f.loadedMs / 1000).toFixed(1)} s, ` +
    `RSS ${f.rssMb.toFixed(0)} MB (peak ${f.peakRssMb.toFixed(0)} MB), queue list --limit 100 ${(f.listMs / 1000).toFixed(2)} s`;
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
    const t0 = performance.now();
    const opts = { routes: { 'example.net': `smtp:[127.0.0.1]:${hole.port}` }, deliveryConcurrency: 1, startTimeoutMs: 600_000 };
    return await ctx.withCorreio(work, opts, profile, async (c) => {
      const startMs = performance.now() - t0;
      await waitStarted(c.logFile);
      const loadedMs = performance.now() - t0;
      const s = await ctx.measure(async () => ({ acceptMs: await ctx.load(c.port, 'b@example.net') }), () => c.child.pid);
      const mem = memoryOf(c.child.pid!);
      const listMs = timeQueuePage(path.join(work, 'correio.toml'));
      const stored = await spoolCount(c.dataDir);
      if (stored < queued + ctx.messages) throw new Error(`only ${stored} of ${queued + ctx.messages} messages in the spool`);
      return { ...s, deferred: { queued, startMs, loadedMs, ...mem, listMs } };
    });
  } finally {
    await hole.stop();
  }
}
