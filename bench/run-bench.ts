/**
 * @module run-bench
 * `npm run bench`: correio against Postfix on this machine, same load, same run, interleaved.
 * Scenarios (anchors.md, ../shared/bench/):
 *   raw      load generator → sink: the protocol ceiling of this box
 *   accept   correio with delivery stalled (next hop never answers) vs Postfix into its hold queue
 *   relay    relay to a sink on 127.0.0.1: accept rate, and end-to-end until the sink counted N
 *   maildir  local delivery: accept rate, and end-to-end until N files are in Maildir/new
 *   deferred100k, deferred1m  accept (as `accept`, correio only) after a start on a spool of
 *            100,000 / 1,000,000 deferred messages (no saved schedule), alternated with the same load
 *            into an empty spool (BENCH_DEFERRED_PAIRS pairs, default 2): the accept rate's drop and
 *            the CPU per message's rise; then a clean restart: start times, memory, queue list
 *            time (deferred-scenario.ts); not in the default list
 *   idle10k  accept (as `accept`, correio's rows only) while BENCH_IDLE (10,000) idle SMTP connections
 *            are held: RSS per connection (idle-scenario.ts); not in the default list
 *   jmap     (asked for by name) a 100,000-message folder read through JMAP vs Dovecot IMAP:
 *            jmap-bench.ts; BENCH_JMAP_MESSAGES=100000 BENCH_JMAP_ITER=30
 *   imap     (asked for by name) SELECT, FETCH 1:* (FLAGS ENVELOPE), SEARCH TEXT and APPEND on a
 *            100,000-message folder, a mixed load of 50 clients, memory per idle session,
 *            correio's IMAP vs Dovecot's (imap-bench.ts); then 10,000 IDLE sessions while mail is
 *            delivered (imap-load.ts); BENCH_IMAP_MESSAGES=100000 BENCH_IMAP_ITER=10
 *            BENCH_IMAP_APPENDS=1000 BENCH_IMAP_CLIENTS=50 BENCH_IMAP_MIXED_S=30
 *            BENCH_IMAP_RSS_CONNS=200 BENCH_IMAP_IDLE=10000 BENCH_IMAP_IDLE_USERS=100
 *            (BENCH_IMAP_MESSAGES=0: the IDLE part only)
 * Each run starts fresh instances; medians (min–max) over BENCH_RUNS runs; the ratio is
 * median(correio) ÷ median(Postfix) of runs measured in this same invocation.
 * Settings (environment): BENCH_MESSAGES=5000 BENCH_SESSIONS=20 BENCH_SIZE=5120 BENCH_RUNS=3
 *   BENCH_SCENARIOS=raw,accept,relay,maildir[,checks][,submission,signing][,jmap][,imap] BENCH_LOAD=auto|smtp-source|ts BENCH_PEER=auto|none
 *   BENCH_PROFILE=1 (first an extra, uncounted run per scenario of correio and of each correio-pN
 *   row (its server process) with V8's CPU profiler on during the measured window:
 *   profile-hook.ts; the summary is printed, the profile kept)
 *   BENCH_CORREIO_NODE_FLAGS="--flag ..." (extra node flags for correio, for what-if runs)
 *   BENCH_THREADS=1 (correio's main thread and other threads' CPU in the measured window)
 *   BENCH_PROCESSES=1,2 (more correio rows with `[smtp] processes` = each, correio-p1,
 *   correio-p2 …, beside correio (the default: 2, 1 on a single core) and Postfix; every row
 *   prints each process's CPU)
 *   BENCH_IDLE=10000 (idle10k)
 *   checks: maildir with SPF/DKIM/DMARC on (checks-scenario.ts), correio and Postfix with policyd-spf,
 *   OpenDKIM and OpenDMARC (postfix-checks.ts); BENCH_RSPAMD_URL adds the rspamd scan (correio)
 *   submission, signing: a submission load (STARTTLS; AUTH for correio) into a Maildir, without and
 *   with DKIM signing (correio's own, Postfix's by OpenDKIM); the sample's signature checked with
 *   dkimpy (signing-scenario.ts). BENCH_SCENARIOS=submission,signing gives signing on ÷ off
 *   BENCH_STORAGE=files|postgres|postgres2 (comma list; correio's rows of accept, relay, maildir
 *   on the files backend, on PostgreSQL with 1 node, with 2 nodes: postgres-scenario.ts) BENCH_PG_URL
 *   BENCH_TIMEOUT_S=300 (per run) BENCH_SETTLE_MS=3000 (`sync`, then this pause, before each run)
 *   BENCH_WARMUP=min(3000, BENCH_MESSAGES) (accept, relay, maildir on files and Postfix: this many
 *   messages first, to the same instance, delivered before the measured window starts: the rows
 *   measure a running server, not one whose JIT is still compiling; both MTAs get them, and the
 *   PostgreSQL and checks rows; 0: none, the method of sessions 1–18)
 *   BENCH_FS=ext4 (the work directory on a fresh journaled ext4 made for the run on a loop device, as
 *   root: bench-fs.ts; the header names the work directory's file system either way)
 *   BENCH_POSTFIX_CONFIG=tuned|anchor (postfix-peer.ts postfixConfig) BENCH_POSTFIX_DIR=<unpacked postfix .deb> BENCH_KEEP=1 (keep temp dirs)
 * Standards: none. Security: loopback only (127.0.0.1); children killed and temp dirs removed
 *   on every exit path. Limitations: one recipient per message, like smtp-source.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runLoad } from './load.js';
import { startCorreio, type CorreioInstance } from './correio-instance.js';
import {
  countFiles, findPostfixTools, killAll, machineJiffies, runSmtpSource, sleep,
  startBlackHole, startNodeSink, startSmtpSink, threadCpuSeconds, processCpuSeconds, treeCpuSeconds, waitForFiles,
  type PostfixTools, type Sink,
} from './peers.js';
import { postfixConfig, postfixUnavailable, startPostfix, type PostfixInstance } from './postfix-peer.js';
import { postfixChecksUnavailable, postfixSigningUnavailable } from './postfix-checks.js';
import { formatProfile, summarizeProfile } from './profile-summary.js';
import { processShares, threadShares } from './cpu-shares.js';
import { formatDeferred, isDeferredScenario, runDeferred, spoolCount } from './deferred-scenario.js';
import { formatIdle, runIdle } from './idle-scenario.js';
import type { BenchContext, Sample } from './bench-context.js';
import { describeFs, makeRunFs, type RunFs } from './bench-fs.js';

import { formatJmapBench, runJmapBench } from './jmap-bench.js';
import { formatImapBench, runImapBench } from './imap-bench.js';
import { formatIdleRun, idleRun } from './imap-load.js';
import { isPgMta, pgUnavailable, runPgScenario, storageMtas } from './postgres-scenario.js';
import { runChecks } from './checks-scenario.js';
import { isSigningScenario, runSigning } from './signing-scenario.js';
import { report, type Mta, type Row, type Scenario } from './bench-report.js';


const env = process.env;
const int = (name: string, dflt: number, min = 1): number => {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, not "${v}"`);
  return n;
};

const N = int('BENCH_MESSAGES', 5000);
const SESSIONS = int('BENCH_SESSIONS', 20);
const SIZE = int('BENCH_SIZE', 5120);
const RUNS = int('BENCH_RUNS', 3, 0);
const TIMEOUT = int('BENCH_TIMEOUT_S', 300) * 1000;
const SETTLE_MS = int('BENCH_SETTLE_MS', 3000, 0);
/**
 * messages sent before each accept, relay and maildir run's measured window (both MTAs): the rows
 * measure running servers, as a site's are, not V8 compiling correio's code in its first seconds
 */
const WARMUP = int('BENCH_WARMUP', Math.min(3000, N), 0);
const SCENARIOS = (env.BENCH_SCENARIOS ?? 'raw,accept,relay,maildir').split(',').map((s) => s.trim()) as Scenario[];
for (const s of SCENARIOS) if (!['raw', 'accept', 'relay', 'maildir', 'checks', 'idle10k', 'jmap', 'imap'].includes(s) && !isDeferredScenario(s) && !isSigningScenario(s)) throw new Error(`unknown scenario "${s}"`);
/** the jmap scenario (jmap-bench.ts): folder size and rounds */
const JMAP = { messages: int('BENCH_JMAP_MESSAGES', 100_000), iterations: int('BENCH_JMAP_ITER', 30) };
/** the imap scenario (imap-bench.ts): folder size, rounds, APPENDs */
const IMAP = {
  messages: int('BENCH_IMAP_MESSAGES', 100_000, 0), iterations: int('BENCH_IMAP_ITER', 10), appends: int('BENCH_IMAP_APPENDS', 1000),
  clients: int('BENCH_IMAP_CLIENTS', 50), mixedSeconds: int('BENCH_IMAP_MIXED_S', 30), rssSessions: int('BENCH_IMAP_RSS_CONNS', 200),
};
/** the imap scenario's IDLE part (imap-load.ts idleRun); 0: not run */
const IMAP_IDLE = { sessions: int('BENCH_IMAP_IDLE', 10_000, 0), users: int('BENCH_IMAP_IDLE_USERS', 100) };
const PROFILE = env.BENCH_PROFILE === '1';
/** print the CPU of each correio thread in the measured window */
const THREADS = env.BENCH_THREADS === '1';
/** `[smtp] processes` settings measured besides the plain correio row (the default) */
const PROCESSES = (env.BENCH_PROCESSES ?? '').split(',').filter((x) => x.trim() !== '').map((x) => {
  const n = Number(x.trim());
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`BENCH_PROCESSES: "${x}" is not a number of processes (1–64)`);
  return n;
});
/** correio's `[smtp] processes` for a row: correio-p2 → 2; undefined (the default) for the plain row */
const processesOf = (mta: Mta): number | undefined => (/^correio-p\d+$/.test(mta) ? Number(mta.slice(9)) : undefined);
const isFilesCorreio = (mta: Mta): boolean => mta === 'correio' || processesOf(mta) !== undefined;
/** extra node flags for correio, for what-if runs (e.g. "--import ./hook.mjs") */
const EXTRA_FLAGS = (env.BENCH_CORREIO_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
const FROM = 'a@example.com';

const tools: PostfixTools | undefined = env.BENCH_LOAD === 'ts' ? undefined : findPostfixTools();
if (env.BENCH_LOAD === 'smtp-source' && !tools) throw new Error('BENCH_LOAD=smtp-source but smtp-source was not found');
const peerWhyNot = env.BENCH_PEER === 'none' ? 'BENCH_PEER=none' : postfixUnavailable();
/** the checks scenario's Postfix row needs its milters and policy service (postfix-checks.ts) */
const checksWhyNot = peerWhyNot ?? postfixChecksUnavailable();
/** the signing scenario's Postfix row needs OpenDKIM (postfix-checks.ts startPostfixSigning) */
const signingWhyNot = peerWhyNot ?? postfixSigningUnavailable();

/** The load: smtp-source when available (as in anchors.md), else bench/load.ts in the same shape. */
async function load(port: number, to: string, messages = N, sessions = SESSIONS): Promise<number> {
  if (tools) {
    const r = await runSmtpSource(tools, { port, sessions, messages, size: SIZE, from: FROM, to, timeoutMs: TIMEOUT });
    return r.elapsedMs;
  }
  const r = await runLoad({
    host: '127.0.0.1', port, sessions, messages, size: SIZE, from: FROM, to,
    pipelining: false, reuse: false, replyTimeoutMs: 60_000,
  });
  if (r.failed > 0) throw new Error(`${r.failed} of ${messages} messages failed: ${r.errors.join(' / ')}`);
  return r.elapsedMs;
}

/**
 * BENCH_WARMUP messages to `port` (shared out across several: the PostgreSQL rows' nodes) before
 * a measured window, and (`delivered`) until they are delivered, so the window starts with the MTA
 * idle and its code warm; nothing when 0. Every scenario that warms uses this one (context.warmUp).
 */
async function warmUp(port: number | number[], to: string, delivered?: () => Promise<unknown>): Promise<void> {
  if (WARMUP === 0) return;
  const done = delivered?.();
  done?.catch(() => undefined);
  await (Array.isArray(port) ? loadSplit(port, to, WARMUP) : load(port, to, WARMUP));
  await done;
}

/** The submission load of the signing scenarios (signing-scenario.ts): bench/load.ts with connections kept. */
async function loadAs(port: number, o: { from: string; to: string; starttls?: boolean; auth?: { user: string; password: string } }): Promise<number> {
  const r = await runLoad({
    host: '127.0.0.1', port, sessions: SESSIONS, messages: N, size: SIZE, ...o,
    pipelining: true, reuse: true, replyTimeoutMs: 60_000,
  });
  if (r.failed > 0) throw new Error(`${r.failed} of ${N} messages failed: ${r.errors.join(' / ')}`);
  return r.elapsedMs;
}

/** The load shared out across ports (the first ones take the remainders); wall ms until all ended. */
async function loadSplit(ports: number[], to: string, messages = N): Promise<number> {
  const k = ports.length;
  const share = (total: number, i: number): number => Math.floor(total / k) + (i < total % k ? 1 : 0);
  const t0 = performance.now();
  await Promise.all(ports.map((p, i) => load(p, to, share(messages, i), Math.max(1, share(SESSIONS, i)))));
  return performance.now() - t0;
}

async function startSink(): Promise<Sink> {
  return tools ? startSmtpSink(tools) : startNodeSink();
}

/**
 * Between runs: write back what the last run left dirty and let the disk finish (the removed work
 * directory's blocks are discarded in the background on a `discard` mount), so that no run pays
 * for the one before it. File-heavy MTAs feel that most.
 */
async function settle(): Promise<void> {
  execFileSync('sync');
  await sleep(SETTLE_MS);
}

let workRoot = '';
/** BENCH_FS: the file system made for this run (bench-fs.ts), else the work is under os.tmpdir() */
let runFs: RunFs | undefined;
async function freshWork(tag: string): Promise<string> {
  const d = await fsp.mkdtemp(path.join(workRoot, `${tag}-`));
  await fsp.chmod(d, 0o755);
  return d;
}

/** The correio child being profiled (SIGUSR2 starts and stops its profiler: profile-hook.ts). */
let profiled: ChildProcess | undefined;
const hookPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'profile-hook.js');

/** One measured run; cpuPid says whose process tree's CPU to count, morePids whose trees besides (Postfix's milters). */
async function measure(
  run: () => Promise<{ acceptMs: number; e2eMs?: number }>,
  cpuPid: () => number | undefined,
  morePids: () => number[] = () => [],
): Promise<Sample> {
  const j0 = machineJiffies();
  const pid0 = cpuPid();
  const more0 = morePids();
  const cpu = (pid: number): number => treeCpuSeconds(pid) + more0.reduce((sum, p) => sum + treeCpuSeconds(p), 0);
  const c0 = pid0 ? cpu(pid0) : 0;
  const t0 = THREADS && pid0 ? threadCpuSeconds(pid0) : undefined;
  const p0 = pid0 ? processCpuSeconds(pid0) : undefined;
  const w0 = performance.now();
  profiled?.kill('SIGUSR2');
  const r = await run();
  profiled?.kill('SIGUSR2');
  const pid1 = cpuPid();
  const c1 = pid1 && pid1 === pid0 ? cpu(pid1) : undefined;
  const j1 = machineJiffies();
  const threads = t0 && pid1 ? threadShares(pid1, t0, threadCpuSeconds(pid1), (performance.now() - w0) / 1000) : undefined;
  const procs = p0 && pid1 ? processShares(pid1, p0, processCpuSeconds(pid1), (performance.now() - w0) / 1000) : undefined;
  return {
    threads,
    procs,
    accept: N / (r.acceptMs / 1000),
    e2e: r.e2eMs === undefined ? undefined : N / (r.e2eMs / 1000),
    cpuMsPerMsg: c1 === undefined ? undefined : ((c1 - c0) * 1000) / N,
    busy: (j1.busy - j0.busy) / Math.max(1, j1.total - j0.total),
  };
}

async function withCorreio<T>(work: string, opts: Parameters<typeof startCorreio>[1], profile: boolean, f: (c: CorreioInstance) => Promise<T>): Promise<T> {
  const profFile = path.join(workRoot, '..', `correio-${path.basename(work)}.cpuprofile`);
  const c = await startCorreio(work, {
    ...opts,
    nodeFlags: [...EXTRA_FLAGS, ...(profile ? ['--import', hookPath] : [])],
    env: profile ? { BENCH_PROFILE_FILE: profFile } : {},
  });
  if (profile) profiled = c.child;
  try {
    const r = await f(c);
    if (c.child.exitCode !== null) throw new Error(`correio exited during the run (status ${c.child.exitCode})`);
    return r;
  } finally {
    profiled = undefined;
    if (profile) for (let i = 0; i < 100 && !fs.existsSync(profFile); i++) await sleep(100);
    const st = await c.stop();
    if (!st.graceful) console.log(`  note: correio did not exit within 10 s of SIGTERM (${path.basename(work)}); stopped with a second SIGTERM`);
    if (profile) {
      if (!fs.existsSync(profFile)) console.log('  (no CPU profile written)');
      else {
        console.log(`  CPU profile of correio during the measured window (${path.basename(work)}), saved as ${profFile}:`);
        console.log(formatProfile(await summarizeProfile(profFile)));
      }
    }
  }
}

async function withPostfix<T>(work: string, mode: 'hold' | 'relay' | 'maildir', sinkPort: number, f: (p: PostfixInstance) => Promise<T>): Promise<T> {
  const p = await startPostfix(work, mode, sinkPort);
  try {
    return await f(p);
  } finally {
    await p.stop();
  }
}

const context: BenchContext = { messages: N, warmup: WARMUP, sessions: SESSIONS, load: (p, to) => load(p, to), loadAs, loadSplit, warmUp, measure, withCorreio };

async function runOnce(scenario: Scenario, mta: Mta, profile: boolean): Promise<Sample> {
  const work = await freshWork(`${scenario}-${mta}`);
  // [smtp] processes of a correio-pN row (none for the plain one: the default)
  const n = processesOf(mta);
  const procs = n !== undefined ? { smtp: { processes: n } } : {};
  try {
    if (isDeferredScenario(scenario)) return await runDeferred(context, work, scenario, profile, int('BENCH_DEFERRED_PAIRS', 2));
    if (scenario === 'idle10k') return await runIdle(context, work, profile, int('BENCH_IDLE', 10_000), processesOf(mta));
    if (isSigningScenario(scenario)) return await runSigning(context, work, profile, { scenario, timeoutMs: TIMEOUT, postfix: mta === 'postfix' });
    if (scenario === 'checks') return await runChecks(context, work, profile, { from: FROM, timeoutMs: TIMEOUT, postfix: mta === 'postfix' });
    if (isPgMta(mta) && scenario !== 'raw' && scenario !== 'jmap' && scenario !== 'imap') return await runPgScenario(context, { startSink, timeoutMs: TIMEOUT }, work, scenario, mta, profile);
    if (scenario === 'raw') {
      const sink = await startSink();
      try {
        return await measure(async () => ({ acceptMs: await load(sink.port, 'b@example.net') }), () => undefined);
      } finally {
        await sink.stop();
      }
    }
    if (scenario === 'accept') {
      if (isFilesCorreio(mta)) {
        const hole = await startBlackHole();
        try {
          return await withCorreio(work, { routes: { 'example.net': `smtp:[127.0.0.1]:${hole.port}` }, deliveryConcurrency: 1, ...procs }, profile, async (c) => {
            await warmUp(c.port, 'b@example.net');
            const s = await measure(async () => ({ acceptMs: await load(c.port, 'b@example.net') }), () => c.child.pid);
            const stored = await spoolCount(c.dataDir);
            if (stored < N) throw new Error(`only ${stored} of ${N} messages in the spool`);
            return s;
          });
        } finally {
          await hole.stop();
        }
      }
      return await withPostfix(work, 'hold', 9, async (p) => {
        await warmUp(p.port, 'b@example.net');
        const s = await measure(async () => ({ acceptMs: await load(p.port, 'b@example.net') }), () => p.masterPid());
        const held = await countFiles(path.join(p.queueDir, 'hold'));
        if (held !== N + WARMUP) throw new Error(`${held} of ${N + WARMUP} messages in Postfix's hold queue`);
        return s;
      });
    }
    if (scenario === 'relay') {
      const sink = await startSink();
      try {
        const go = async (port: number): Promise<{ acceptMs: number; e2eMs: number }> => {
          const t0 = performance.now();
          const done = sink.reached(N + WARMUP, TIMEOUT);
          done.catch(() => undefined);
          const acceptMs = await load(port, 'b@example.net');
          const t1 = await done;
          return { acceptMs, e2eMs: t1 - t0 };
        };
        if (isFilesCorreio(mta)) {
          return await withCorreio(work, { routes: { 'example.net': `smtp:[127.0.0.1]:${sink.port}` }, ...procs }, profile, async (c) => {
            await warmUp(c.port, 'b@example.net', () => sink.reached(WARMUP, TIMEOUT));
            return measure(() => go(c.port), () => c.child.pid);
          });
        }
        return await withPostfix(work, 'relay', sink.port, async (p) => {
          await warmUp(p.port, 'b@example.net', () => sink.reached(WARMUP, TIMEOUT));
          return measure(() => go(p.port), () => p.masterPid());
        });
      } finally {
        await sink.stop();
      }
    }
    // maildir
    const go = async (port: number, to: string, newDir: string | string[]): Promise<{ acceptMs: number; e2eMs: number }> => {
      const t0 = performance.now();
      const acceptMs = await load(port, to);
      const t1 = await waitForFiles(newDir, N + WARMUP, TIMEOUT);
      return { acceptMs, e2eMs: t1 - t0 };
    };
    if (isFilesCorreio(mta)) {
      return await withCorreio(work, { users: ['benchmd@localhost'], ...procs }, profile, async (c) => {
        // new/ and cur/: the server's own folder index may move a delivered message on at once
        const dirs = ['new', 'cur'].map((d) => path.join(c.dataDir, 'mail', 'localhost', 'benchmd', d));
        await warmUp(c.port, 'benchmd@localhost', () => waitForFiles(dirs, WARMUP, TIMEOUT));
        return measure(() => go(c.port, 'benchmd@localhost', dirs), () => c.child.pid);
      });
    }
    return await withPostfix(work, 'maildir', 9, async (p) => {
      await warmUp(p.port, 'benchmd@localhost', () => waitForFiles(path.join(p.maildir, 'new'), WARMUP, TIMEOUT));
      return measure(() => go(p.port, 'benchmd@localhost', path.join(p.maildir, 'new')), () => p.masterPid());
    });
  } finally {
    if (env.BENCH_KEEP !== '1') await fsp.rm(work, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  if (env.BENCH_FS) runFs = makeRunFs(env.BENCH_FS);
  const base = runFs?.root ?? os.tmpdir();
  await fsp.mkdir(path.join(base, 'correio-bench'), { recursive: true });
  workRoot = await fsp.mkdtemp(path.join(base, 'correio-bench', 'run-'));
  await fsp.chmod(workRoot, 0o755);
  await fsp.chmod(path.dirname(workRoot), 0o755).catch(() => undefined);
  console.log(`correio bench: ${os.cpus().length} CPU ${os.cpus()[0]?.model ?? ''}, node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`work directory: ${workRoot}, ${describeFs(workRoot)}${runFs ? ' (made for this run: BENCH_FS)' : ''}`);
  console.log(tools ? `smtp-source/smtp-sink: ${tools.from}` : 'smtp-source/smtp-sink: not found; using bench/load.ts and a sink in this process (scripts/bench-setup.sh fetches them)');
  if (peerWhyNot) {
    console.log(`Postfix peer: not run (${peerWhyNot}).`);
    console.log('  To compare with Postfix: as root, scripts/bench-setup.sh --install (installs postfix without starting it), then npm run bench.');
  } else console.log(`Postfix peer: /usr/sbin/postfix, own instance per run on 127.0.0.1:<free port>, config "${postfixConfig()}" (BENCH_POSTFIX_CONFIG)`);
  if (SCENARIOS.includes('signing') && !peerWhyNot) console.log(signingWhyNot ? `Postfix with signing: not run (${signingWhyNot})` : 'Postfix with signing: OpenDKIM (Mode sv, InternalHosts 127.0.0.0/8; postfix-checks.ts)');
  if (SCENARIOS.includes('checks') && !peerWhyNot) console.log(checksWhyNot ? `Postfix with checks: not run (${checksWhyNot})` : 'Postfix with checks: policyd-spf, OpenDKIM (verifying), OpenDMARC (postfix-checks.ts)');
  const CORREIOS: Mta[] = [...storageMtas(), ...PROCESSES.map((n): Mta => `correio-p${n}`)];
  const pgWhyNot = CORREIOS.some(isPgMta) ? await pgUnavailable() : undefined;
  if (pgWhyNot) throw new Error(`BENCH_STORAGE=${env.BENCH_STORAGE}: ${pgWhyNot}`);
  console.log(`correio storage: ${CORREIOS.join(', ')} (BENCH_STORAGE)`);

  const rows: Row[] = [];
  const row = (scenario: Scenario, mta: Mta): Row => {
    let r = rows.find((x) => x.scenario === scenario && x.mta === mta);
    if (!r) rows.push((r = { scenario, mta, samples: [], errors: [] }));
    return r;
  };
  if (PROFILE) {
    // correio and each correio-pN row (its server process: the acceptors are not signalled)
    for (const scenario of SCENARIOS.filter((x) => x !== 'raw' && x !== 'jmap' && x !== 'imap')) {
      for (const mta of ['correio' as const, ...CORREIOS.filter((m) => processesOf(m) !== undefined)]) {
        try {
          const s = await runOnce(scenario, mta, true);
          console.log(`profile run ${scenario} ${mta} (not counted): accept ${s.accept.toFixed(0)} msg/s${s.e2e ? `, end-to-end ${s.e2e.toFixed(0)} msg/s` : ''}`);
        } catch (e) {
          console.log(`profile run ${scenario} ${mta}: FAILED: ${(e as Error).message}`);
        }
      }
    }
  }
  for (let i = 0; i < RUNS; i++) {
    for (const scenario of SCENARIOS.filter((x) => x !== 'jmap' && x !== 'imap')) {
      const single = isDeferredScenario(scenario);
      // idle10k: correio alone, one row per BENCH_PROCESSES setting; checks: correio and Postfix with its check daemons
      const mtas: Mta[] =
        scenario === 'raw' ? ['sink']
        : single ? ['correio']
        : scenario === 'idle10k' ? CORREIOS.filter(isFilesCorreio)
        : scenario === 'checks' ? ['correio', ...(checksWhyNot ? [] : ['postfix' as const])]
        : scenario === 'signing' ? ['correio', ...(signingWhyNot ? [] : ['postfix' as const])]
        : scenario === 'submission' ? ['correio', ...(peerWhyNot ? [] : ['postfix' as const])]
        : [...CORREIOS, ...(peerWhyNot ? [] : ['postfix' as const])];
      // interleave, alternating who goes first
      if (i % 2 === 1) mtas.reverse();
      for (const mta of mtas) {
        const r = row(scenario, mta);
        try {
          await settle();
          const s = await runOnce(scenario, mta, false);
          r.samples.push(s);
          console.log(
            `run ${i + 1}/${RUNS} ${scenario.padEnd(7)} ${mta.padEnd(11)} accept ${s.accept.toFixed(0).padStart(5)} msg/s` +
              `${s.e2e === undefined ? '' : `, end-to-end ${s.e2e.toFixed(0).padStart(5)} msg/s`}` +
              `${s.cpuMsPerMsg === undefined ? '' : `, CPU ${s.cpuMsPerMsg.toFixed(2)} ms/msg`}${s.pgCpuMsPerMsg === undefined ? '' : ` + PostgreSQL ${s.pgCpuMsPerMsg.toFixed(2)}`}, machine ${(s.busy * 100).toFixed(0)} % busy` +
              `, load average ${os.loadavg()[0].toFixed(1)}${s.procs ? `\n  processes: ${s.procs}` : ''}${s.deferred ? `\n  ${formatDeferred(s.deferred)}` : ''}${s.idle ? `\n  ${formatIdle(s.idle)}` : ''}${s.threads ? `\n  threads: ${s.threads}` : ''}`,
          );
        } catch (e) {
          r.errors.push((e as Error).message);
          console.log(`run ${i + 1}/${RUNS} ${scenario} ${mta}: FAILED: ${(e as Error).message}`);
        }
      }
    }
  }
  if (rows.length > 0) report(rows, { messages: N, size: SIZE, sessions: SESSIONS, runs: RUNS, load: tools ? 'smtp-source' : 'bench/load.ts (HELO, one message per connection)', warmup: WARMUP });
  if (rows.some((r) => r.errors.length > 0)) process.exitCode = 1;
  if (SCENARIOS.includes('jmap')) {
    const o = { work: await freshWork('jmap'), ...JMAP };
    console.log(formatJmapBench(o, await runJmapBench(o)));
  }
  if (SCENARIOS.includes('imap')) {
    const o = { work: await freshWork('imap'), ...IMAP };
    // BENCH_IMAP_MESSAGES=0: only the IDLE part
    if (o.messages > 0) console.log(formatImapBench(o, await runImapBench(o)));
    if (IMAP_IDLE.sessions > 0) console.log(formatIdleRun(await idleRun(await freshWork('imapidle'), IMAP_IDLE.sessions, IMAP_IDLE.users)));
  }
}

const cleanup = (): void => {
  killAll();
  if (workRoot && env.BENCH_KEEP !== '1') fs.rmSync(workRoot, { recursive: true, force: true });
  if (env.BENCH_KEEP !== '1') runFs?.remove();
};
process.once('SIGINT', () => {
  cleanup();
  process.exit(130);
});
process.once('SIGTERM', () => {
  cleanup();
  process.exit(143);
});
try {
  await main();
} catch (e) {
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
