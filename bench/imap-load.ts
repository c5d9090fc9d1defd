/**
 * @module imap-load
 * The imap scenario's many-client parts (imap-bench.ts; issue 14, Performance):
 *   mixed    BENCH_IMAP_CLIENTS (50) sessions on the big INBOX for BENCH_IMAP_MIXED_S (30) s,
 *            each repeating: SELECT INBOX; UID FETCH of 50 at a random place (FLAGS ENVELOPE);
 *            UID STORE of a random message's \Flagged (set or cleared); APPEND of one message;
 *            UID STORE +FLAGS (\Deleted) and UID EXPUNGE of that message (the folder keeps its
 *            size). Reported: commands per second and the server's CPU per command.
 *   rss      BENCH_IMAP_RSS_CONNS (200) authenticated sessions with nothing selected: correio's
 *            RSS grown per session; Dovecot's per session process (RSS and PSS, its shared pages
 *            divided), its imap-login and auth processes not counted.
 *   idle     BENCH_IMAP_IDLE (10,000) sessions in IDLE on the INBOXes of BENCH_IMAP_IDLE_USERS
 *            (100) users of a fresh correio, `[imap] max_connections` raised; then one message
 *            per user through SMTP: how many sessions saw its EXISTS, how long the last took,
 *            and correio's RSS per session. correio only (the issue asks it of correio).
 * Standards: RFC 9051 (SELECT, FETCH, STORE, APPEND, EXPUNGE), RFC 4315 (UIDPLUS: APPENDUID,
 *   UID EXPUNGE), RFC 2177 (IDLE), RFC 5321 (the delivery).
 * Security: loopback only. The idle users' passwords are hashed with scrypt N=1024 (not the
 *   default 16384) so that 10,000 logins do not take minutes of CPU: the login's cost is not
 *   what is measured.
 * Limitations: every session comes from 127.0.0.1 (the per-address limit is raised too); the
 *   bench process and correio each need a descriptor per session (`ulimit -n`): with fewer the
 *   idle part says so and opens what fits. Dovecot's sessions are pre-authenticated `imap`
 *   processes on pipes (as in jmap-bench), not network logins.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SqliteDirectory, hashPassword } from '../src/directory/index.js';
import { startCorreio } from './correio-instance.js';
import { idleCount } from './idle-scenario.js';
import { memoryOf } from './deferred-scenario.js';
import { imapRunner, message } from './jmap-bench.js';
import { runLoad } from './load.js';
import { processCpuSeconds, treeCpuSeconds } from './peers.js';

export type Run = (cmd: string) => Promise<string>;

/**
 * LOGINs in flight at once from the bench: the auth throttle counts attempts in flight from one
 * address against `[auth] max_failures_per_address` (5) and refuses more.
 */
export const loginsInFlight = 4;

/** `n` logged-in correio sessions, opened `loginsInFlight` at a time. */
export async function correioSessions(n: number, port: number, user: string, password: string): Promise<{ run: Run; close: () => void }[]> {
  const out: { run: Run; close: () => void }[] = [];
  for (let i = 0; i < n; i += loginsInFlight) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(loginsInFlight, n - i) }, () => correioSession(port, user, password)))));
  }
  return out;
}

/** A logged-in correio IMAP session over TCP. */
export async function correioSession(port: number, user: string, password: string): Promise<{ run: Run; close: () => void }> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const { run, fail } = imapRunner('correio', socket, socket);
  socket.on('close', () => fail(new Error('correio closed the IMAP connection')));
  // the greeting comes untagged before the first command's answer, which runner skips
  await run(`LOGIN ${user} ${password}`);
  return { run, close: () => socket.destroy() };
}

export interface MixedFigures {
  readonly clients: number;
  readonly seconds: number;
  readonly commands: number;
  readonly perSecond: number;
  /** server CPU ms per command in the window */
  readonly cpuMsPerCommand: number;
}

/** A small deterministic generator (the same sequence for both servers). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

/**
 * The mixed load: each session repeats its round until `seconds` are over; `cpu` reads the
 * server's CPU seconds so far. UIDs 1..messages are the seeded INBOX's.
 */
export async function mixedLoad(who: string, sessions: readonly Run[], messages: number, seconds: number, cpu: () => number): Promise<MixedFigures> {
  let commands = 0;
  const c0 = cpu();
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(sessions.map(async (run, k) => {
    const next = rng(k + 1);
    for (let i = 0; performance.now() < until; i++) {
      await run('SELECT INBOX');
      const from = 1 + Math.floor(next() * Math.max(1, messages - 50));
      const r = await run(`UID FETCH ${from}:${from + 49} (FLAGS ENVELOPE)`);
      if (!/^\* \d+ FETCH/m.test(r)) throw new Error(`${who}: the mixed load's FETCH answered nothing`);
      await run(`UID STORE ${1 + Math.floor(next() * messages)} ${i % 2 ? '-' : '+'}FLAGS.SILENT (\\Flagged)`);
      const text = message(messages + k * 1_000_000 + i).replace(/\n/g, '\r\n');
      const a = await run(`APPEND INBOX (\\Seen) {${Buffer.byteLength(text)}+}\r\n${text}`);
      const uid = /\[APPENDUID \d+ (\d+)\]/.exec(a)?.[1];
      if (!uid) throw new Error(`${who}: APPEND gave no APPENDUID: ${a.slice(-120)}`);
      await run(`UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`);
      await run(`UID EXPUNGE ${uid}`);
      commands += 6;
    }
  }));
  const wall = (performance.now() - t0) / 1000;
  return { clients: sessions.length, seconds: wall, commands, perSecond: commands / wall, cpuMsPerCommand: ((cpu() - c0) * 1000) / Math.max(1, commands) };
}

export function formatMixed(who: string, f: MixedFigures): string {
  return `| mixed (${f.clients} clients, ${f.seconds.toFixed(0)} s) | ${who} | ${f.commands} | ${f.perSecond.toFixed(1)} | ${f.cpuMsPerCommand.toFixed(2)} |`;
}

/** The CPU seconds of the `imap` processes under `pids` (Dovecot's sessions, without the pipes' cat). */
export function imapCpu(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) for (const p of processCpuSeconds(pid).values()) if (p.name === 'imap') sum += p.cpu;
  return sum;
}

/** correio's CPU seconds (its process tree). */
export function correioCpu(pid: number): () => number {
  return () => treeCpuSeconds(pid);
}

/** RSS and PSS (KB) of the `imap` processes below `pid` (/proc smaps_rollup). */
export function imapMemoryKb(pid: number): { rss: number; pss: number } {
  let rss = 0;
  let pss = 0;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
      if (!stat.includes('(imap)') || Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      const roll = fs.readFileSync(`/proc/${name}/smaps_rollup`, 'latin1');
      rss += Number(/^Rss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return { rss, pss };
}

export interface IdleFigures {
  readonly wanted: number;
  readonly held: number;
  readonly users: number;
  readonly saw: number;
  readonly lastSawMs: number;
  readonly rssBeforeMb: number;
  readonly rssHeldMb: number;
  readonly rssAfterMb: number;
}

/** One raw IMAP connection that can wait for a pattern in what it received. */
function rawSession(port: number): Promise<{ send: (s: string) => void; wait: (re: RegExp, ms: number) => Promise<string>; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    let waiter: { re: RegExp; done: (s: string) => void } | undefined;
    const check = (): void => {
      const m = waiter && waiter.re.exec(buf);
      if (m && waiter) {
        const w = waiter;
        waiter = undefined;
        const out = buf.slice(0, m.index + m[0].length);
        buf = buf.slice(m.index + m[0].length);
        w.done(out);
      }
    };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      buf += d;
      check();
    });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      socket.on('error', () => undefined);
      const wait = (re: RegExp, ms: number): Promise<string> =>
        new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error(`no ${re} within ${ms} ms: ${buf.slice(-120)}`)), ms).unref();
          waiter = { re, done: (s) => (clearTimeout(t), res(s)) };
          check();
        });
      resolve({ send: (s) => socket.write(s), wait, socket });
    });
  });
}

/** Users idle0..idle{n-1}@localhost in correio's directory, with a cheap password hash (see Security). */
async function addIdleUsers(dataDir: string, n: number, password: string): Promise<void> {
  const dir = await SqliteDirectory.open(path.join(dataDir, 'directory.sqlite'), { localDomains: ['localhost'] });
  try {
    const hash = await hashPassword(password, { N: 1024, r: 8, p: 1 });
    for (let i = 0; i < n; i++) await dir.addUser(`idle${i}@localhost`, hash);
  } finally {
    await dir.close();
  }
}

/** The idle part: `wanted` IDLE sessions (or what fits), then one message per user. */
export async function idleRun(work: string, wanted: number, users: number): Promise<IdleFigures> {
  const n = idleCount(wanted);
  const password = 'idle-secret';
  const limits = [`max_connections = ${n + 100}`, `max_connections_per_ip = ${n + 100}`];
  const c = await startCorreio(work, { imap: true, imapLines: limits, logLevel: 'warn', prepare: (d) => addIdleUsers(d, users, password) });
  const sockets: net.Socket[] = [];
  try {
    const rssBeforeMb = memoryOf(c.child.pid!).rssMb;
    const seen: Promise<number>[] = [];
    const t = { delivered: 0 };
    let opened = 0;
    // four logins at a time: the auth throttle refuses more attempts in flight from one address
    await Promise.all(Array.from({ length: Math.min(loginsInFlight, n) }, async () => {
      while (opened < n) {
        const i = opened++;
        const s = await rawSession(c.imapPort);
        sockets.push(s.socket);
        await s.wait(/^\* OK[^\r\n]*\r\n/m, 60_000);
        s.send(`a LOGIN idle${i % users}@localhost ${password}\r\n`);
        await s.wait(/^a OK[^\r\n]*\r\n/m, 120_000);
        s.send('b SELECT INBOX\r\n');
        await s.wait(/^b OK[^\r\n]*\r\n/m, 120_000);
        s.send('c IDLE\r\n');
        await s.wait(/^\+ [^\r\n]*\r\n/m, 60_000);
        const p = s.wait(/^\* [1-9]\d* EXISTS\r\n/m, 600_000).then(() => performance.now() - t.delivered);
        p.catch(() => undefined);
        seen.push(p);
        // a long run cut short still says how far it got
        if (seen.length % 1000 === 0) console.log(`imap idle: ${seen.length} sessions in IDLE, correio RSS ${memoryOf(c.child.pid!).rssMb.toFixed(0)} MB`);
      }
    }));
    await new Promise((r) => setTimeout(r, 1000));
    const rssHeldMb = memoryOf(c.child.pid!).rssMb;
    t.delivered = performance.now();
    for (let u = 0; u < users; u += 10) {
      await Promise.all(Array.from({ length: Math.min(10, users - u) }, (_, k) => runLoad({
        host: '127.0.0.1', port: c.port, sessions: 1, messages: 1, size: 2048, from: 'a@example.com', to: `idle${u + k}@localhost`, pipelining: false, reuse: false,
      }).then((r) => {
        if (r.failed > 0) throw new Error(`delivery to idle${u + k}@localhost failed: ${r.errors.join(' / ')}`);
      })));
    }
    const times = await Promise.allSettled(seen.map((p) => Promise.race([p, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('timeout')), 120_000).unref())])));
    const ok = times.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    return {
      wanted, held: sockets.length, users, saw: ok.length, lastSawMs: Math.max(0, ...ok),
      rssBeforeMb, rssHeldMb, rssAfterMb: memoryOf(c.child.pid!).rssMb,
    };
  } finally {
    for (const s of sockets) s.destroy();
    await c.stop();
  }
}

export function formatIdleRun(f: IdleFigures): string {
  const per = ((f.rssHeldMb - f.rssBeforeMb) * 1024) / Math.max(1, f.held);
  return `\nIMAP IDLE: ${f.held} of ${f.wanted} sessions in IDLE on ${f.users} users' INBOXes; one message delivered to each user by SMTP: ` +
    `${f.saw} of ${f.held} sessions saw its EXISTS, the last ${(f.lastSawMs / 1000).toFixed(1)} s after delivery began; ` +
    `correio RSS ${f.rssBeforeMb.toFixed(0)} → ${f.rssHeldMb.toFixed(0)} MB with the sessions (${per.toFixed(1)} KB per session), ${f.rssAfterMb.toFixed(0)} MB after delivery`;
}
