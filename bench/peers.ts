/**
 * @module peers
 * The programs the bench runs against correio: Postfix's smtp-source and smtp-sink, a fallback
 * sink written here when smtp-sink is absent, a "black hole" next hop that accepts TCP and never
 * answers, plus process, CPU and file-count helpers. (The full Postfix instance: postfix-peer.ts.)
 * Standards: RFC 5321 §4.1 (the fallback sink speaks just enough SMTP to count messages).
 * Security: loopback only; every child is tracked and killed by killAll(), which also runs the
 *   stop hooks (postfix-peer.ts stops its Postfix there).
 * Limitations: smtp-source and smtp-sink may also come from an unpacked .deb (BENCH_POSTFIX_DIR).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/** Children started by the bench, killed on exit whatever happens. */
const children = new Set<ChildProcess>();
const stopHooks = new Set<() => void>();

export function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** Registers a synchronous hook for killAll (a Postfix stop); the returned function removes it. */
export function addStopHook(h: () => void): () => void {
  stopHooks.add(h);
  return () => stopHooks.delete(h);
}

/** Runs synchronously at exit: kills every tracked child, runs stop hooks (Postfix stop). */
export function killAll(): void {
  for (const h of [...stopHooks]) {
    try {
      h();
    } catch {
      /* best effort at exit */
    }
  }
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) c.kill('SIGKILL');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until host:port answers with an SMTP greeting (220), up to timeoutMs. */
export async function waitForSmtp(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`exited with status ${child.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      let buf = '';
      const done = (v: boolean): void => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(2000, () => done(false));
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (buf.includes('\n')) {
          s.write('QUIT\r\n');
          done(buf.startsWith('220'));
        }
      });
      s.on('error', () => done(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing answered SMTP on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** Waits for a child to exit; SIGKILL after graceMs. */
export async function stopChild(c: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill(signal);
  const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

// ---------------------------------------------------------------- Postfix tools

export interface PostfixTools {
  smtpSource: string;
  smtpSink: string;
  /** environment for running them (LD_LIBRARY_PATH for an unpacked .deb) */
  env: NodeJS.ProcessEnv;
  from: string;
}

export function executable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** smtp-source and smtp-sink from BENCH_POSTFIX_DIR, PATH, or /usr/sbin; undefined if absent. */
export function findPostfixTools(): PostfixTools | undefined {
  const dir = process.env.BENCH_POSTFIX_DIR;
  if (dir) {
    for (const sub of ['usr/sbin', 'sbin', '']) {
      const src = path.join(dir, sub, 'smtp-source');
      if (executable(src)) {
        const lib = path.join(dir, 'usr/lib/postfix');
        const env = { ...process.env, LD_LIBRARY_PATH: [lib, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
        return { smtpSource: src, smtpSink: path.join(dir, sub, 'smtp-sink'), env, from: dir };
      }
    }
  }
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin'];
  for (const d of dirs) {
    if (d && executable(path.join(d, 'smtp-source')) && executable(path.join(d, 'smtp-sink'))) {
      return { smtpSource: path.join(d, 'smtp-source'), smtpSink: path.join(d, 'smtp-sink'), env: process.env, from: d };
    }
  }
  return undefined;
}

/** Runs smtp-source; resolves with its wall time. Rejects if it fails or exceeds timeoutMs. */
export async function runSmtpSource(
  t: PostfixTools,
  o: { port: number; sessions: number; messages: number; size: number; from: string; to: string; timeoutMs: number },
): Promise<{ elapsedMs: number }> {
  const args = ['-s', String(o.sessions), '-l', String(o.size), '-m', String(o.messages), '-f', o.from, '-t', o.to, `127.0.0.1:${o.port}`];
  const t0 = performance.now();
  const c = track(spawn(t.smtpSource, args, { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  c.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-2000)));
  c.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-2000)));
  const timer = setTimeout(() => c.kill('SIGKILL'), o.timeoutMs);
  const code = await new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
  clearTimeout(timer);
  const elapsedMs = performance.now() - t0;
  if (code !== 0) throw new Error(`smtp-source failed (status ${code}): ${out.trim().split('\n').slice(-3).join(' / ')}`);
  return { elapsedMs };
}

// ---------------------------------------------------------------- sinks

export interface Sink {
  port: number;
  /** messages received so far */
  count(): number;
  /** resolves with performance.now() at the moment the count reached n */
  reached(n: number, timeoutMs: number): Promise<number>;
  stop(): Promise<void>;
}

class Counter {
  n = 0;
  private waiters: { n: number; resolve: (t: number) => void }[] = [];
  set(n: number): void {
    if (n <= this.n) return;
    this.n = n;
    const now = performance.now();
    this.waiters = this.waiters.filter((w) => (w.n <= n ? (w.resolve(now), false) : true));
  }
  reached(n: number, timeoutMs: number): Promise<number> {
    if (this.n >= n) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`sink counted ${this.n} of ${n} messages in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ n, resolve: (v) => (clearTimeout(t), resolve(v)) });
    });
  }
}

/** Postfix's smtp-sink with running counters (-c); counts "mesg=" from its output. */
export async function startSmtpSink(t: PostfixTools): Promise<Sink> {
  const port = await freePort();
  const user = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  // Not -M N: it exits on the N-th "." before replying (anchors.md).
  const c = track(spawn(t.smtpSink, [...user, '-c', `127.0.0.1:${port}`, '1000'], { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const counter = new Counter();
  let tail = '';
  c.stdout?.on('data', (d: Buffer) => {
    tail = (tail + d.toString('latin1')).slice(-200);
    const all = [...tail.matchAll(/mesg=(\d+)/g)];
    const last = all.at(-1);
    if (last) counter.set(Number(last[1]));
  });
  await waitForSmtp(port, 10_000, c);
  return {
    port,
    count: () => counter.n,
    reached: (n, ms) => counter.reached(n, ms),
    stop: () => stopChild(c, 'SIGTERM', 3000),
  };
}

/** A minimal counting SMTP sink in this process, for machines without smtp-sink. */
export async function startNodeSink(): Promise<Sink> {
  const counter = new Counter();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    let inData = false;
    let buf = '';
    s.write('220 sink.localhost ESMTP\r\n');
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        if (inData) {
          const i = buf.indexOf('\r\n.\r\n');
          if (i < 0) {
            buf = buf.slice(-4);
            return;
          }
          buf = buf.slice(i + 5);
          inData = false;
          counter.set(counter.n + 1);
          s.write('250 2.0.0 Ok\r\n');
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.slice(0, i).toUpperCase();
        buf = buf.slice(i + 2);
        if (line.startsWith('EHLO')) s.write('250-sink.localhost\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
        else if (line.startsWith('DATA')) {
          inData = true;
          buf = '\r\n' + buf; // the body's first line may be the terminating "."
          s.write('354 go\r\n');
        } else if (line.startsWith('QUIT')) {
          s.end('221 bye\r\n');
          return;
        } else s.write('250 Ok\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  return {
    port,
    count: () => counter.n,
    reached: (n, ms) => counter.reached(n, ms),
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A next hop that accepts connections and never says anything: delivery stalls there. */
export async function startBlackHole(): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => s.destroy());
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

// ---------------------------------------------------------------- counting and CPU

/** Number of regular files under dir (recursive); 0 if absent. */
export async function countFiles(dir: string): Promise<number> {
  let n = 0;
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (e.isFile()) n++;
    else if (e.isDirectory()) n += await countFiles(path.join(dir, e.name));
  }
  return n;
}

/** Polls until countFiles(dir) >= n; resolves with performance.now() when seen. */
export async function waitForFiles(dir: string | string[], n: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const dirs = Array.isArray(dir) ? dir : [dir];
  for (;;) {
    let c = 0;
    for (const d of dirs) c += await countFiles(d);
    if (c >= n) return performance.now();
    if (Date.now() > deadline) throw new Error(`${c} of ${n} files in ${dirs.join(' + ')} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

const TICK = 100; // USER_HZ on Linux

/** CPU seconds (user+sys, with reaped children) of pid and all its descendants, from /proc. */
export function treeCpuSeconds(pid: number): number {
  const kids = new Map<number, number[]>();
  const stat = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      // fields 14-17 (1-based): utime stime cutime cstime; f[0] is field 3
      stat.set(Number(name), Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]));
      const list = kids.get(ppid) ?? [];
      list.push(Number(name));
      kids.set(ppid, list);
    } catch {
      /* exited meanwhile */
    }
  }
  let ticks = 0;
  const walk = (p: number): void => {
    ticks += stat.get(p) ?? 0;
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(pid);
  return ticks / TICK;
}

/**
 * CPU seconds (user+sys, its own, not its children's) of each live process of pid's tree, by
 * pid, with its command name: the per-process shares of a run (correio's server and acceptor
 * processes, Postfix's smtpd, cleanup, qmgr, local …).
 */
export function processCpuSeconds(pid: number): Map<number, { name: string; cpu: number }> {
  const kids = new Map<number, number[]>();
  const stat = new Map<number, { name: string; cpu: number }>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      stat.set(Number(name), { name: comm, cpu: (Number(f[11]) + Number(f[12])) / TICK });
      const list = kids.get(Number(f[1])) ?? [];
      list.push(Number(name));
      kids.set(Number(f[1]), list);
    } catch {
      /* exited meanwhile */
    }
  }
  const out = new Map<number, { name: string; cpu: number }>();
  const walk = (p: number): void => {
    const st = stat.get(p);
    if (st) out.set(p, st);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(pid);
  return out;
}

/** CPU seconds (user+sys) of each thread of pid, by "name/tid" (/proc/<pid>/task; empty when gone). */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.set(`${name}/${tid}`, (Number(f[11]) + Number(f[12])) / TICK);
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Busy and total jiffies of the whole machine (for "machine busy %"). */
export function machineJiffies(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}
