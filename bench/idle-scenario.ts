/**
 * @module idle-scenario
 * The bench's many-connections scenario (issue 19), `BENCH_SCENARIOS=idle10k`: correio with
 * `[smtp] max_connections` and `max_connections_per_ip` raised holds BENCH_IDLE (default
 * 10,000) SMTP connections that got their 220 greeting and then say nothing, while the accept
 * scenario's load runs beside them. It reports correio's RSS before and after the connections
 * opened (and so per connection), and how many were still open after the load (none may be
 * dropped: each is inside its 5-minute command timeout). With BENCH_PROCESSES (correio-pN rows)
 * the connections sit in the acceptor processes: the RSS is the sum over correio's processes.
 * Standards: RFC 5321 §4.5.3.2.7 (the server waits 5 minutes for a command).
 * Security: loopback only.
 * Limitations: every connection comes from 127.0.0.1, so the per-client limit is raised too;
 *   the bench process and correio each need a descriptor per connection (`ulimit -n`): with
 *   fewer the scenario says so and opens what fits (`npm run bench` raises the soft limit to
 *   the hard one). A sum of RSS counts the pages processes share (libraries) once per process.
 */
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import type { BenchContext, Sample } from './bench-context.js';
import { memoryOf } from './deferred-scenario.js';
import { processCpuSeconds, sleep, startBlackHole } from './peers.js';

export interface IdleFigures {
  readonly wanted: number;
  readonly held: number;
  readonly stillOpen: number;
  readonly rssBeforeMb: number;
  readonly rssAfterMb: number;
  readonly kbPerConnection: number;
}

/** How many connections fit the descriptor limit of this process (and so of correio, its child). */
export function idleCount(wanted: number): number {
  let limit = Infinity;
  try {
    limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  } catch {
    // no shell: take the wish
  }
  return Number.isFinite(limit) ? Math.min(wanted, limit - 200) : wanted;
}

/** Idle SMTP connections that each got their greeting; close() ends them. */
export interface IdleConnections {
  readonly sockets: readonly net.Socket[];
  open(): number;
  close(): void;
}

/** Opens `n` connections to 127.0.0.1:port, `parallel` at a time, each waiting for its "220 ". */
export async function openIdle(port: number, n: number, parallel = 200): Promise<IdleConnections> {
  const sockets: net.Socket[] = [];
  let closed = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port });
      let text = '';
      const fail = (e: Error): void => {
        s.destroy();
        reject(e);
      };
      s.setEncoding('latin1');
      s.on('error', fail);
      s.on('data', (d: string) => {
        text += d;
        if (!text.includes('\r\n')) return;
        if (!text.startsWith('220')) return fail(new Error(`connection ${sockets.length + 1}: ${text.trim()}`));
        s.removeListener('error', fail);
        s.on('error', () => undefined);
        s.once('close', () => closed++);
        sockets.push(s);
        resolve();
      });
    });
  let started = 0;
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, async () => {
    while (started < n) {
      started++;
      await one();
    }
  }));
  return {
    sockets,
    open: () => sockets.length - closed,
    close: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

export function formatIdle(f: IdleFigures): string {
  return `${f.held} of ${f.wanted} idle connections held, ${f.stillOpen} still open after the load; ` +
    `RSS ${f.rssBeforeMb.toFixed(0)} → ${f.rssAfterMb.toFixed(0)} MB (${f.kbPerConnection.toFixed(1)} KB per connection)`;
}

/** The RSS of `pid` and its descendants (correio's server and acceptors), MB. */
function treeRssMb(pid: number): number {
  let sum = 0;
  for (const p of processCpuSeconds(pid).keys()) {
    try {
      sum += memoryOf(p).rssMb;
    } catch {
      // ended meanwhile
    }
  }
  return sum;
}

/**
 * The accept load against correio (`[smtp] processes` = `processes`) while `wanted` idle SMTP
 * connections (or what fits) are held.
 */
export async function runIdle(ctx: BenchContext, work: string, profile: boolean, wanted: number, processes?: number): Promise<Sample> {
  const n = idleCount(wanted);
  const hole = await startBlackHole();
  try {
    const limits = { max_connections: n + ctx.sessions + 100, max_connections_per_ip: n + ctx.sessions + 100, ...(processes !== undefined && { processes }) };
    const opts = { routes: { 'example.net': `smtp:[127.0.0.1]:${hole.port}` }, deliveryConcurrency: 1, smtp: limits };
    return await ctx.withCorreio(work, opts, profile, async (c) => {
      const before = treeRssMb(c.child.pid!);
      const idle = await openIdle(c.port, n);
      try {
        await sleep(1000);
        const after = treeRssMb(c.child.pid!);
        const s = await ctx.measure(async () => ({ acceptMs: await ctx.load(c.port, 'b@example.net') }), () => c.child.pid);
        const held = idle.sockets.length;
        const kbPerConnection = ((after - before) * 1024) / Math.max(1, held);
        return { ...s, idle: { wanted, held, stillOpen: idle.open(), rssBeforeMb: before, rssAfterMb: after, kbPerConnection } };
      } finally {
        idle.close();
      }
    });
  } finally {
    await hole.stop();
  }
}
