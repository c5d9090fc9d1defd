/**
 * @module postgres-scenario
 * BENCH_STORAGE=postgres: the correio side of the accept, relay and maildir scenarios with
 * `[storage] url = "postgres://…"` (directory, queue and mailboxes in PostgreSQL, docs/scale.md),
 * on 1 node (`correio-pg`) or 2 nodes sharing the database behind the same load, the sessions
 * split across both ports (`correio-pg2`). Each run creates a fresh database
 * (`correio_bench_<random>`) and drops it afterwards; correio migrates it when it starts.
 * Beside correio's CPU per message it counts PostgreSQL's: utime+stime (/proc/<pid>/stat) of the
 * backends serving that database (pids from pg_stat_activity) over the measured window.
 * The "maildir" scenario's end is N messages in `mail_messages` (the mailboxes live in PostgreSQL).
 * Settings: BENCH_PG_URL (an admin url; default $CORREIO_TEST_PG, else
 *   postgres://postgres@127.0.0.1:5432/postgres, trust auth).
 * Standards: none. Security: loopback PostgreSQL only; the database name is random hex, never input.
 * Limitations: PostgreSQL must run on this machine (its /proc); a backend that exits inside the
 *   window takes its CPU with it (correio's pools keep theirs open, so none did in our runs), and
 *   background processes (WAL writer, checkpointer) are not counted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startBlackHole, sleep, treeCpuSeconds, type Sink } from './peers.js';
import type { BenchContext, Sample } from './bench-context.js';
import type { CorreioInstance, CorreioOptions } from './correio-instance.js';

export type PgMta = 'correio-pg' | 'correio-pg2';
export const PG_MTAS: readonly PgMta[] = ['correio-pg', 'correio-pg2'];
export const isPgMta = (m: string): m is PgMta => (PG_MTAS as readonly string[]).includes(m);

const adminUrl = process.env.BENCH_PG_URL || process.env.CORREIO_TEST_PG || 'postgres://postgres@127.0.0.1:5432/postgres';

/** What the correio rows to run are, from BENCH_STORAGE=files|postgres|postgres2 (comma list). */
export function storageMtas(setting = process.env.BENCH_STORAGE ?? 'files'): ('correio' | PgMta)[] {
  const out: ('correio' | PgMta)[] = [];
  for (const s of setting.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (s === 'files') out.push('correio');
    else if (s === 'postgres') out.push('correio-pg');
    else if (s === 'postgres2') out.push('correio-pg2');
    else throw new Error(`BENCH_STORAGE: unknown backend "${s}" (use files, postgres, postgres2, comma-separated)`);
  }
  if (out.length === 0) throw new Error('BENCH_STORAGE is empty (use files, postgres, postgres2, comma-separated)');
  return out;
}

/** One run's database: its url for correio, a connection to it, and its backends' CPU. */
class BenchDatabase {
  private constructor(readonly name: string, readonly url: string, private readonly c: pg.Client) {}

  static async create(): Promise<BenchDatabase> {
    const name = `correio_bench_${randomBytes(6).toString('hex')}`;
    await admin((a) => a.query(`CREATE DATABASE ${name}`));
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    const c = new pg.Client({ connectionString: u.toString() });
    await c.connect();
    return new BenchDatabase(name, u.toString(), c);
  }

  async count(table: 'queue_messages' | 'mail_messages'): Promise<number> {
    const r = await this.c.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    return Number(r.rows[0].n);
  }

  /** CPU seconds by pid of the backends serving this database (not this bench's own connection). */
  async backendCpu(): Promise<Map<number, number>> {
    const r = await this.c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [this.name]);
    const m = new Map<number, number>();
    for (const { pid } of r.rows) {
      try {
        const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
        const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
        m.set(pid, (Number(f[11]) + Number(f[12])) / 100); // utime + stime, USER_HZ 100
      } catch {
        /* exited meanwhile */
      }
    }
    return m;
  }

  async drop(): Promise<void> {
    await this.c.end().catch(() => undefined);
    await admin((a) => a.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`));
  }
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** undefined when PostgreSQL answers at BENCH_PG_URL; else why not. */
export async function pgUnavailable(): Promise<string | undefined> {
  try {
    await admin((c) => c.query('SELECT 1'));
    return undefined;
  } catch (e) {
    return `PostgreSQL not reachable at ${adminUrl.replace(/:[^:@/]*@/, '@')} (${(e as Error).message}); set BENCH_PG_URL`;
  }
}

/** CPU seconds used between two snapshots; a backend that appeared inside the window counts whole. */
const cpuBetween = (a: Map<number, number>, b: Map<number, number>): number =>
  [...b].reduce((sum, [pid, cpu]) => sum + cpu - (a.get(pid) ?? 0), 0);

async function waitForCount(db: BenchDatabase, n: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await db.count('mail_messages');
    if (c >= n) return performance.now();
    if (Date.now() > deadline) throw new Error(`${c} of ${n} messages in mail_messages after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Starts `nodes` correio nodes on the same database (in work/node1, work/node2), runs f, stops them. */
async function withNodes<T>(
  ctx: BenchContext, work: string, nodes: number, opts: CorreioOptions, profile: boolean,
  f: (cs: CorreioInstance[]) => Promise<T>,
): Promise<T> {
  const go = async (i: number, started: CorreioInstance[]): Promise<T> => {
    if (i === nodes) return f(started);
    const o = i === 0 ? opts : { ...opts, users: [] }; // the directory is shared: users once
    return ctx.withCorreio(path.join(work, `node${i + 1}`), o, profile && i === 0, (c) => go(i + 1, [...started, c]));
  };
  return go(0, []);
}

export interface PgScenarioDeps {
  startSink(): Promise<Sink>;
  timeoutMs: number;
}

/** One run of accept, relay or maildir on the PostgreSQL backend. */
export async function runPgScenario(
  ctx: BenchContext, deps: PgScenarioDeps, work: string, scenario: 'accept' | 'relay' | 'maildir', mta: PgMta, profile: boolean,
): Promise<Sample> {
  const nodes = mta === 'correio-pg2' ? 2 : 1;
  const N = ctx.messages;
  const W = ctx.warmup;
  const db = await BenchDatabase.create();
  const stops: (() => Promise<void>)[] = [];
  try {
    let to = 'b@example.net';
    let opts: CorreioOptions;
    let end: (() => Promise<number>) | undefined;
    /** the warm-up's messages delivered (relay, maildir) */
    let warmed: (() => Promise<number>) | undefined;
    if (scenario === 'accept') {
      const hole = await startBlackHole();
      stops.push(() => hole.stop());
      opts = { routes: { 'example.net': `smtp:[127.0.0.1]:${hole.port}` }, deliveryConcurrency: 1 };
    } else if (scenario === 'relay') {
      const sink = await deps.startSink();
      stops.push(() => sink.stop());
      opts = { routes: { 'example.net': `smtp:[127.0.0.1]:${sink.port}` } };
      end = () => sink.reached(W + N, deps.timeoutMs);
      warmed = () => sink.reached(W, deps.timeoutMs);
    } else {
      to = 'benchmd@localhost';
      opts = { users: [to] };
      end = () => waitForCount(db, W + N, deps.timeoutMs);
      warmed = () => waitForCount(db, W, deps.timeoutMs);
    }
    return await withNodes(ctx, work, nodes, { ...opts, storageUrl: db.url }, profile, async (cs) => {
      // as the files rows and Postfix: the window starts with the nodes warm and idle
      await ctx.warmUp(cs.map((c) => c.port), to, warmed);
      let pgCpu = 0;
      let otherNodesCpu = 0;
      const others = cs.slice(1).map((c) => c.child.pid!);
      const s = await ctx.measure(async () => {
        const p0 = await db.backendCpu();
        const o0 = others.reduce((a, pid) => a + treeCpuSeconds(pid), 0);
        const t0 = performance.now();
        const done = end?.();
        done?.catch(() => undefined);
        const acceptMs = await ctx.loadSplit(cs.map((c) => c.port), to);
        const t1 = done ? await done : undefined;
        otherNodesCpu = others.reduce((a, pid) => a + treeCpuSeconds(pid), 0) - o0;
        pgCpu = cpuBetween(p0, await db.backendCpu());
        return { acceptMs, e2eMs: t1 === undefined ? undefined : t1 - t0 };
      }, () => cs[0].child.pid);
      if (scenario === 'accept') {
        const stored = await db.count('queue_messages');
        if (stored < W + N) throw new Error(`only ${stored} of ${W + N} messages in queue_messages`);
      }
      const cpuMsPerMsg = s.cpuMsPerMsg === undefined ? undefined : s.cpuMsPerMsg + (otherNodesCpu * 1000) / N;
      return { ...s, cpuMsPerMsg, pgCpuMsPerMsg: (pgCpu * 1000) / N };
    });
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    await db.drop();
  }
}
