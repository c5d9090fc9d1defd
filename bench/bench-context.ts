/**
 * @module bench-context
 * What a scenario module gets from run-bench: the load, the measured window, a correio instance
 * for one run, and the shape of one run's figures. Lets the big-queue and many-connection
 * scenarios (deferred-scenario.ts, idle-scenario.ts) live beside run-bench rather than in it.
 * Standards: none. Security: none. Limitations: none.
 */
import type { CorreioInstance, CorreioOptions } from './correio-instance.js';
import type { DeferredFigures } from './deferred-scenario.js';
import type { IdleFigures } from './idle-scenario.js';

/** One measured run. */
export interface Sample {
  accept: number;
  e2e?: number;
  cpuMsPerMsg?: number;
  busy: number;
  deferred?: DeferredFigures;
  idle?: IdleFigures;
  /** PostgreSQL backend: CPU ms per message of the backends serving the run's database */
  pgCpuMsPerMsg?: number;
  /** BENCH_THREADS=1: CPU of correio's main thread and other threads in the measured window */
  threads?: string;
  /** CPU of each process of the measured tree (correio's server and acceptors, Postfix's daemons) */
  procs?: string;
}

export interface BenchContext {
  /** messages per run (BENCH_MESSAGES) */
  readonly messages: number;
  /** untimed messages sent to an instance before its accept, relay or maildir window (BENCH_WARMUP) */
  readonly warmup: number;
  /** sessions of the load (BENCH_SESSIONS) */
  readonly sessions: number;
  /** sends the load to 127.0.0.1:port; resolves with its wall ms */
  load(port: number, to: string): Promise<number>;
  /**
   * The same number of messages and sessions as a submission client sends them (bench/load.ts:
   * EHLO, PIPELINING, each session kept for many messages, STARTTLS and AUTH PLAIN when asked);
   * resolves with its wall ms
   */
  loadAs(port: number, o: { from: string; to: string; starttls?: boolean; auth?: { user: string; password: string } }): Promise<number>;
  /** the same load split across ports (messages and sessions shared out); resolves with the wall ms until all ended */
  loadSplit(ports: number[], to: string): Promise<number>;
  /**
   * `warmup` untimed messages to the port (shared out across ports), then waits for `delivered`
   * (started before them), so that a window starts with the MTA warm and idle; nothing when 0
   */
  warmUp(port: number | number[], to: string, delivered?: () => Promise<unknown>): Promise<void>;
  /** runs `run` as the measured window, counting the CPU of cpuPid's process tree (and of morePids' trees) */
  measure(run: () => Promise<{ acceptMs: number; e2eMs?: number }>, cpuPid: () => number | undefined, morePids?: () => number[]): Promise<Sample>;
  /** starts correio in `work`, runs f, stops it */
  withCorreio<T>(work: string, opts: CorreioOptions, profile: boolean, f: (c: CorreioInstance) => Promise<T>): Promise<T>;
}
