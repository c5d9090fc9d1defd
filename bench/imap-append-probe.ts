/**
 * @module imap-append-probe
 * `node dist/bench/imap-append-probe.js [APPENDS] [ROUNDS] [N]`: APPEND alone, correio against
 * Dovecot in the same run (issue 14): ROUNDS (3) alternated rounds of APPENDS (200) APPENDs of
 * one message each into a small folder, one at a time (LITERAL+, as imap-bench's append row),
 * with an INBOX of N (1,000) messages selected. Per round and server: p50 and mean wall time
 * per APPEND (client to tagged answer) and the server's CPU per APPEND (correio's process tree;
 * Dovecot's `imap` process) up to the last answer, and with the work that followed it (the
 * server idle again), so a change is compared on a shared box without the whole bench.
 * Run the same file from two trees (before, after) to alternate them. PROBE_DOVECOT=0: correio
 * alone; PROBE_PROFILE=FILE: a V8 profile of correio's main thread over its rounds (profile-hook,
 * summed up by profile-summary); PROBE_STRACE=FILE: `strace -c -f` of correio over its last
 * round, written to FILE, and of Dovecot's `imap` process over its last round, to FILE.dovecot;
 * PROBE_THREADS=1: correio's CPU per APPEND per thread up to the last answer
 * (/proc/PID/task/TID/schedstat: nanoseconds, exact, not ticks), the event loop's thread
 * ("main", with its user/system split from tick samples) apart from the others (libuv's pool,
 * V8's workers: all named "node"), per round and summed over its rounds; PROBE_CALLGRIND=FILE:
 * correio runs under valgrind's callgrind, instrumented over its last round and the work that
 * followed it (user-space instructions of every thread; ~50x slower, so keep APPENDS small),
 * written to FILE (callgrind_annotate FILE); PROBE_TARGET=INBOX: the APPENDs go into the selected
 * INBOX of N itself (each answered with EXISTS: imap-bench's "append to the big INBOX" row);
 * PROBE_WAIT_INDEX=1: the rounds begin once the INBOX's text index holds all N (the first
 * SELECT starts filling it in the background; without the wait the rounds pay for it too);
 * PROBE_FETCH=K: K rounds of imap-bench's `UID FETCH 1:* (FLAGS ENVELOPE)` and a SEARCH TEXT of
 * the INBOX before the rounds, which imap-bench's APPEND rows follow.
 * Standards: RFC 9051 §6.3.12 (APPEND), RFC 7888 (LITERAL+).
 * Security: loopback only, a temp dir.
 * Limitations: one session per server; CPU in 10 ms ticks (/proc), hence the per-round totals
 *   of a few hundred ms.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startCorreio } from './correio-instance.js';
import { fill, message, startDovecot } from './jmap-bench.js';
import { indexesBuilt } from './imap-bench.js';
import { correioSession, imapCpu, type Run } from './imap-load.js';
import { sleep, treeCpuSeconds } from './peers.js';
import { summarizeProfile } from './profile-summary.js';

const appends = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 3);
const n = Number(process.argv[4] ?? 1000);
const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'imap-append-probe-'));
// Dovecot runs as an unprivileged user when started by root (test/helpers/dovecot)
await fsp.chmod(work, 0o755);
const user = 'bench@localhost';
const password = 'bench-secret';

/** ns on a CPU per thread of `pid` (schedstat's first field), keyed "main" for the process's own thread, else by thread name and id. */
function threadNs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim();
      out.set(tid === String(pid) ? 'main' : `${name}/${tid}`, ns);
      if (tid === String(pid)) {
        // utime and stime in clock ticks (fields 14 and 15): the main thread's split, sampled
        const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1').split(') ')[1].split(' ');
        out.set('main user ticks', Number(f[11]));
        out.set('main system ticks', Number(f[12]));
      }
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** The pid of `pid`'s child process named `name` (Dovecot's `imap` under its shell), if any. */
function childNamed(pid: number, name: string): number | undefined {
  for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(' ')) {
    if (child && readFileSync(`/proc/${child}/comm`, 'latin1').trim() === name) return Number(child);
  }
  return undefined;
}

/** CPU ns of the main thread and of the others, summed over rounds */
const threadTotals = new Map<string, number>();
let threadAppends = 0;
const ticks = new Map<string, number>();

function addThreads(before: Map<string, number>, after: Map<string, number>): void {
  for (const [k, ns] of after) {
    if (k.includes('ticks')) {
      ticks.set(k, (ticks.get(k) ?? 0) + ns - (before.get(k) ?? 0));
      continue;
    }
    const group = k === 'main' ? 'main' : 'other threads';
    threadTotals.set(group, (threadTotals.get(group) ?? 0) + ns - (before.get(k) ?? 0));
  }
}

/** One round of APPENDs on `run`: p50 and mean ms, and CPU ms per APPEND from `cpu` (seconds). */
async function round(run: Run, cpu: () => number, from: number, threadsOf?: number): Promise<string> {
  const xs: number[] = [];
  const t0 = threadsOf === undefined ? undefined : threadNs(threadsOf);
  const c0 = cpu();
  for (let i = 0; i < appends; i++) {
    const text = message(from + i).replace(/\n/g, '\r\n');
    const t = performance.now();
    await run(`APPEND ${target} (\\Seen) {${Buffer.byteLength(text)}+}\r\n${text}`);
    xs.push(performance.now() - t);
  }
  const c = ((cpu() - c0) * 1000) / appends;
  let split = '';
  if (t0 && threadsOf !== undefined) {
    const t1 = threadNs(threadsOf);
    addThreads(t0, t1);
    threadAppends += appends;
    const main = ((t1.get('main') ?? 0) - (t0.get('main') ?? 0)) / 1e6 / appends;
    let all = 0;
    for (const [k, ns] of t1) if (!k.includes('ticks')) all += ns - (t0.get(k) ?? 0);
    split = `; by thread (schedstat) main ${main.toFixed(3)}, others ${(all / 1e6 / appends - main).toFixed(3)} ms per APPEND`;
  }
  // the work a server left for after the answers (correio's text index and fetch cache)
  await sleep(2500);
  // (the profiler's own work never lets the server go quiet: not waited for then)
  for (let last = cpu(), i = 0; !profile && i < 20; i++) {
    await sleep(500);
    const now = cpu();
    if (now - last < 0.005) break;
    last = now;
  }
  const all = ((cpu() - c0) * 1000) / appends;
  const s = [...xs].sort((a, b) => a - b);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return `p50 ${s[Math.floor(s.length / 2)].toFixed(2)} ms, mean ${mean.toFixed(2)} ms, p90 ${s[Math.floor(s.length * 0.9)].toFixed(2)} ms, CPU ${c.toFixed(2)} ms per APPEND (${all.toFixed(2)} with what followed)${split}`;
}

const profile = process.env.PROBE_PROFILE;
const callgrind = process.env.PROBE_CALLGRIND;
const withDovecot = process.env.PROBE_DOVECOT !== '0';
/** PROBE_TARGET=INBOX: APPEND into the selected INBOX of N (each answered with EXISTS), not a small folder */
const target = process.env.PROBE_TARGET ?? 'Probe';
const correio = await startCorreio(path.join(work, 'correio'), {
  users: [user], password, imap: true, logLevel: 'warn',
  ...(callgrind && { wrapper: ['valgrind', '--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${path.resolve(callgrind)}`], startTimeoutMs: 600_000 }),
  ...(profile && { nodeFlags: ['--import', path.join(import.meta.dirname, 'profile-hook.js')], env: { BENCH_PROFILE_FILE: path.resolve(profile) } }),
});
let stopDovecot = (): void => undefined;
try {
  const inbox = path.join(correio.dataDir, 'mail', 'localhost', 'bench');
  await fill(inbox, n);
  await fill(path.join(work, 'dovecot', 'Maildir'), n);
  const c = await correioSession(correio.imapPort, user, password);
  await c.run('SELECT INBOX');
  // the first SELECT has the INBOX's text index filled in the background (minutes at 100,000):
  // waited for, so the rounds measure the APPENDs and not that
  if (process.env.PROBE_WAIT_INDEX === '1') console.log(`INBOX's text index held all ${n} messages ${(await indexesBuilt(correio.dataDir, user, n)).toFixed(1)} s after SELECT`);
  // PROBE_FETCH=K: K rounds of imap-bench's FETCH and SEARCH of the INBOX first, as its APPEND rows follow them
  for (let i = 0; i < Number(process.env.PROBE_FETCH ?? 0); i++) {
    await c.run('UID FETCH 1:* (FLAGS ENVELOPE)');
    await c.run('UID SEARCH TEXT zzzneedle');
  }
  await c.run('CREATE Probe');
  const d = withDovecot ? await startDovecot(path.join(work, 'dovecot')) : undefined;
  if (d) {
    stopDovecot = d.stop;
    await d.run('CREATE Probe');
  }
  const pid = correio.child.pid!;
  console.log(`correio pid ${pid}, data_dir ${correio.dataDir}`);
  if (profile) correio.child.kill('SIGUSR2');
  for (let r = 0; r < rounds; r++) {
    const trace = process.env.PROBE_STRACE && r === rounds - 1 ? spawn('strace', ['-c', '-f', '-o', process.env.PROBE_STRACE, '-p', String(pid)], { stdio: 'ignore' }) : undefined;
    if (trace) await sleep(1000); // attached to every thread
    const counting = callgrind !== undefined && r === rounds - 1 && spawnSync('callgrind_control', ['-i', 'on', String(pid)]).status === 0;
    console.log(`round ${r + 1}, correio: ${await round(c.run, () => treeCpuSeconds(pid), n + r * appends, process.env.PROBE_THREADS === '1' ? pid : undefined)}`);
    if (counting) spawnSync('callgrind_control', ['-i', 'off', String(pid)]);
    if (trace) {
      trace.kill('SIGINT');
      await new Promise((resolve) => trace.once('exit', resolve));
    }
    if (d) {
      const imap = process.env.PROBE_STRACE && r === rounds - 1 ? childNamed(d.pid, 'imap') : undefined;
      const dtrace = imap === undefined ? undefined : spawn('strace', ['-c', '-f', '-o', `${process.env.PROBE_STRACE}.dovecot`, '-p', String(imap)], { stdio: 'ignore' });
      if (dtrace) await sleep(1000);
      console.log(`round ${r + 1}, Dovecot: ${await round(d.run, () => imapCpu([d.pid]), n + r * appends)}`);
      if (dtrace) {
        dtrace.kill('SIGINT');
        await new Promise((resolve) => dtrace.once('exit', resolve));
      }
    }
  }
  if (threadAppends > 0) {
    const all = [...threadTotals.values()].reduce((a, b) => a + b, 0);
    const parts = [...threadTotals].sort((a, b) => b[1] - a[1]).map(([k, ns]) => `${k} ${(ns / 1e6 / threadAppends).toFixed(3)}`);
    const user = ticks.get('main user ticks') ?? 0;
    const split = user + (ticks.get('main system ticks') ?? 0);
    console.log(`correio CPU ms per APPEND by thread (schedstat, ${threadAppends} APPENDs): all ${(all / 1e6 / threadAppends).toFixed(3)}; ${parts.join(', ')}; main's user share ${split ? ((user / split) * 100).toFixed(0) : '?'} % (ticks)`);
  }
  if (profile) {
    correio.child.kill('SIGUSR2');
    for (let i = 0; i < 100 && !existsSync(profile); i++) await sleep(100);
    const sum = await summarizeProfile(profile, 25);
    for (const a of sum.areas) console.log(`${a.area}: ${a.ms.toFixed(0)} ms (${(a.share * 100).toFixed(1)} %)`);
    for (const f of sum.functions) console.log(`  ${f.name} [${f.area}]: ${f.ms.toFixed(0)} ms`);
  }
  c.close();
} finally {
  stopDovecot();
  await correio.stop();
  await fsp.rm(work, { recursive: true, force: true });
}
