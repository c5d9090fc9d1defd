/**
 * @module deferred-scenario
 * The bench's big-queue scenarios (issue 19), `BENCH_SCENARIOS=deferred100k` and `deferred1m`:
 * correio started on a spool that already holds 100,000 (or 1,000,000) deferred messages
 * (fill-spool.ts: a next hop that refused each once, next attempts 15–75 minutes away, so none
 * comes due while measured) and no saved schedule (as after a crash), then the accept
 * scenario's load, then stopped and started again (a clean restart: the schedule saved at the
 * stop is restored). The accept load is measured in alternated pairs (BENCH_DEFERRED_PAIRS,
 * default 2) in the same minutes: into a correio on an empty spool with the same configuration,
 * started beside the loaded one once its background walk and recovery ended, then into the
 * loaded one, after one unmeasured load into each; the drop of the accept rate and the rise of
 * the CPU per message are reported from the medians.
 * Beside them:
 *   start    spawn of `correio serve` until its SMTP port answers and a first message is accepted
 *   loaded   until its log says "queue loaded" (the runner's background walk of the queue done)
 *   recovered until its log says "spool recovered" (the listings of msg/ and env/ after the walk)
 *   RSS      resident memory after the loads, and the peak (VmHWM) by the end of the start's walk
 *            and recovery (/proc/<pid>/status): without a saved schedule, the peak after a crash
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
import { projectRoot, type CorreioInstance, type CorreioOptions } from './correio-instance.js';
import { sleep, startBlackHole } from './peers.js';

export type DeferredScenario = 'deferred100k' | 'deferred1m';
export const deferredCounts: Record<DeferredScenario, number> = { deferred100k: 100_000, deferred1m: 1_000_000 };

export function isDeferredScenario(s: string): s is DeferredScenario {
  return s in deferredCounts;
}

/** The accept load into an empty spool and into the loaded one, alternated, with the same configuration. */
export interface AcceptPairs {
  readonly emptyAccept: number[];
  readonly emptyCpuMs: number[];
  readonly loadedAccept: number[];
  readonly loadedCpuMs: number[];
}

export interface DeferredFigures {
  readonly queued: number;
  readonly pairs: AcceptPairs;
  readonly startMs: number;
  readonly loadedMs: number;
  readonly recoveredMs: number;
  readonly rssMb: number;
  readonly peakRssMb: number;
  readonly listMs: number;
  readonly listCpuMs: number;
  /** after a clean stop: serving, and the queue loaded (from the saved schedule) */
  readonly restartMs: number;
  readonly restartLoadedMs: number;
  readonly restartRssMb: number;
  readonly restartPeakRssMb: number;
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
export async function waitLoaded(logFile: string, times = 1, timeoutMs = 1_200_000, what = 'queue loaded'): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (fs.readFileSync(logFile, 'utf8').split(`"${what}"`).length > times) return;
    await sleep(100);
  }
  throw new Error(`no "${what}" in ${logFile} after ${timeoutMs} ms`);
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The pairs' medians: accept msg/s and CPU ms/msg empty and loaded, the drop of the rate and the rise of the CPU in %. */
export function comparePairs(p: AcceptPairs): { empty: number; loaded: number; dropPct: number; emptyCpu: number; loadedCpu: number; cpuRisePct: number } {
  const empty = median(p.emptyAccept);
  const loaded = median(p.loadedAccept);
  const emptyCpu = median(p.emptyCpuMs);
  const loadedCpu = median(p.loadedCpuMs);
  return { empty, loaded, dropPct: (1 - loaded / empty) * 100, emptyCpu, loadedCpu, cpuRisePct: (loadedCpu / emptyCpu - 1) * 100 };
}

export function formatPairs(queued: number, p: AcceptPairs): string {
  const c = comparePairs(p);
  const list = (xs: number[], d: number): string => xs.map((x) => x.toFixed(d)).join(', ');
  return `accept into an empty spool ${c.empty.toFixed(0)} msg/s (${list(p.emptyAccept, 0)}) at ${c.emptyCpu.toFixed(2)} ms CPU/msg (${list(p.emptyCpuMs, 2)}); ` +
    `with ${queued} deferred ${c.loaded.toFixed(0)} msg/s (${list(p.loadedAccept, 0)}) at ${c.loadedCpu.toFixed(2)} ms CPU/msg (${list(p.loadedCpuMs, 2)}): ` +
    `rate drop ${c.dropPct.toFixed(1)} % (goal < 10 %), CPU per message ${c.cpuRisePct >= 0 ? '+' : ''}${c.cpuRisePct.toFixed(1)} %`;
}

export function formatDeferred(f: DeferredFigures): string {
  const s = (ms: number, digits = 1): string => `${(ms / 1000).toFixed(digits)} s`;
  return `${formatPairs(f.queued, f.pairs)}\n  ` +
    `${f.queued} deferred, no saved schedule: serving (first message accepted) after ${s(f.startMs)}, queue loaded after ${s(f.loadedMs)}, spool recovered after ${s(f.recoveredMs)}, ` +
    `RSS after the loads ${f.rssMb.toFixed(0)} MB (peak by the end of the start ${f.peakRssMb.toFixed(0)} MB), queue list --limit 100 ${s(f.listMs, 2)} (CPU ${s(f.listCpuMs, 2)}); ` +
    `clean restart: serving after ${s(f.restartMs)}, queue loaded after ${s(f.restartLoadedMs)}, RSS ${f.restartRssMb.toFixed(0)} MB (peak ${f.restartPeakRssMb.toFixed(0)} MB)`;
}

/** Counts what correio's spool holds, as any reader of it does (segment records and message files). */
export async function spoolCount(dataDir: string): Promise<number> {
  const spool = await FsQueueStore.open(path.join(dataDir, 'spool'), { recover: 'never', lock: false });
  const stored = (await spool.listMessageIds()).length;
  await spool.close();
  return stored;
}

/**
 * Alternated accept loads into `loaded` and into a correio on an empty spool started beside it
 * with the same options (in `emptyDir`): one unmeasured load into each first (both processes'
 * code warm, as a long-running server's is; a fresh process ran 10–50 % more CPU per message),
 * then `pairs` measured pairs, empty first. Both spools get the same new mail.
 */
async function acceptPairs(ctx: BenchContext, loaded: CorreioInstance, emptyDir: string, opts: CorreioOptions, pairs: number): Promise<{ p: AcceptPairs; last: Sample }> {
  await fs.promises.mkdir(emptyDir, { recursive: true });
  try {
    return await ctx.withCorreio(emptyDir, opts, false, async (empty) => {
      const run = (c: CorreioInstance): Promise<Sample> => ctx.measure(async () => ({ acceptMs: await ctx.load(c.port, 'b@example.net') }), () => c.child.pid);
      await run(empty);
      await run(loaded);
      const p: AcceptPairs = { emptyAccept: [], emptyCpuMs: [], loadedAccept: [], loadedCpuMs: [] };
      let last: Sample | undefined;
      for (let i = 0; i < pairs; i++) {
        const e = await run(empty);
        p.emptyAccept.push(e.accept);
        p.emptyCpuMs.push(e.cpuMsPerMsg ?? NaN);
        last = await run(loaded);
        p.loadedAccept.push(last.accept);
        p.loadedCpuMs.push(last.cpuMsPerMsg ?? NaN);
      }
      const stored = await spoolCount(empty.dataDir);
      if (stored < (pairs + 1) * ctx.messages) throw new Error(`only ${stored} of ${(pairs + 1) * ctx.messages} messages in the empty spool`);
      return { p, last: last! };
    });
  } finally {
    await fs.promises.rm(emptyDir, { recursive: true, force: true });
  }
}

/** The accept load against correio restarted on a spool of deferred messages, alternated with an empty spool's. */
export async function runDeferred(ctx: BenchContext, work: string, scenario: DeferredScenario, profile: boolean, pairs = 2): Promise<Sample> {
  const queued = await fillForScenario(work, scenario);
  execFileSync('sync');
  const hole = await startBlackHole();
  try {
    const opts: CorreioOptions = { routes: { 'example.net': `smtp:[127.0.0.1]:${hole.port}` }, deliveryConcurrency: 1, startTimeoutMs: 600_000 };
    let t0 = performance.now();
    const first = await ctx.withCorreio(work, opts, profile, async (c) => {
      await acceptOne(c.port);
      const startMs = performance.now() - t0;
      await waitLoaded(c.logFile);
      const loadedMs = performance.now() - t0;
      await waitLoaded(c.logFile, 1, 1_200_000, 'spool recovered');
      const recoveredMs = performance.now() - t0;
      // the peak of the start (the walk after a crash), before the loads
      const mem = memoryOf(c.child.pid!);
      // empty, loaded, empty, loaded…: the same minutes for both
      const { p, last } = await acceptPairs(ctx, c, path.join(work, 'empty'), opts, pairs);
      const list = timeQueuePage(path.join(work, 'correio.toml'));
      const stored = await spoolCount(c.dataDir);
      // the first message and the loads
      if (stored < queued + 1 + (pairs + 1) * ctx.messages) throw new Error(`only ${stored} of ${queued + 1 + (pairs + 1) * ctx.messages} messages in the spool`);
      const c2 = comparePairs(p);
      return { s: { ...last, accept: c2.loaded, cpuMsPerMsg: c2.loadedCpu }, p, startMs, loadedMs, recoveredMs, mem: { ...mem, rssMb: memoryOf(c.child.pid!).rssMb }, list };
    });
    // the clean stop saved the schedule: the same data directory started again
    t0 = performance.now();
    const again = await ctx.withCorreio(work, opts, false, async (c) => {
      await acceptOne(c.port);
      const restartMs = performance.now() - t0;
      await waitLoaded(c.logFile, 2);
      const m = memoryOf(c.child.pid!);
      return { restartMs, restartLoadedMs: performance.now() - t0, restartRssMb: m.rssMb, restartPeakRssMb: m.peakRssMb };
    });
    const { s, p, startMs, loadedMs, recoveredMs, mem, list } = first;
    return { ...s, deferred: { queued, pairs: p, startMs, loadedMs, recoveredMs, ...mem, listMs: list.ms, listCpuMs: list.cpuMs, ...again } };
  } finally {
    await hole.stop();
  }
}
