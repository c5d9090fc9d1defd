/**
 * @module delivery-thread
 * The main thread's handle on the delivery worker (delivery-worker.ts): starts it and waits for
 * its runner to be up, passes newly committed envelopes to it (batched per turn of the event
 * loop), turns control requests into a request/response exchange over the port, re-publishes
 * the worker's diagnostics_channel events here (so the mail log and any subscriber see them),
 * and stops it gracefully.
 *
 * A worker that dies (an uncaught error, an exit nobody asked for) is logged and started again
 * after a backoff (1 s doubling to 30 s); the new runner reads the spool at start, so nothing
 * committed meanwhile is lost. Control requests that were in flight fail with an error.
 * Standards: none.
 * Security: see delivery-worker.ts.
 * Limitations: a control request sent while the worker restarts waits for the new one.
 */
import diagnostics from 'node:diagnostics_channel';
import { Worker } from 'node:worker_threads';
import type { Envelope } from '../core/index.js';
import type { Config } from '../config/index.js';
import { exponentialBackoff } from '../util/index.js';
import type { LineLogger } from '../log/index.js';
import type { ControlRequest, ControlResponse } from './control.js';
import type { FromWorker, ToWorker, WorkerData } from './delivery-protocol.js';

export interface DeliveryThreadOptions {
  readonly config: Config;
  readonly logger: LineLogger;
  /** ms stop() waits for the worker's graceful stop before terminating it (default 30 s) */
  readonly stopTimeoutMs?: number;
  /** the worker's entry (default: delivery-worker.js, or .ts when running from source under tsx) */
  readonly entry?: URL;
}

function defaultEntry(): URL {
  // compiled: dist/src/app/delivery-worker.js; from source (tsx): src/app/delivery-worker.ts
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./delivery-worker${ext}`, import.meta.url);
}

export class DeliveryThread {
  readonly #config: Config;
  readonly #logger: LineLogger;
  readonly #stopTimeoutMs: number;
  readonly #entry: URL;
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  #pendingEnvelopes: Envelope[] = [];
  #flushQueued = false;
  #nextId = 1;
  readonly #calls = new Map<number, { resolve: (r: ControlResponse) => void; reject: (e: Error) => void }>();
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #onStopped: (() => void) | undefined;

  constructor(opts: DeliveryThreadOptions) {
    this.#config = opts.config;
    this.#logger = opts.logger;
    this.#stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
    this.#entry = opts.entry ?? defaultEntry();
  }

  /** Starts the worker; resolves once its runner has read the spool, rejects if it cannot start. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error('DeliveryThread already started');
    this.#state = 'running';
    try {
      await this.#spawn();
    } catch (err) {
      this.#state = 'stopped';
      const w = this.#worker;
      this.#worker = undefined;
      await w?.terminate();
      throw err;
    }
  }

  /** How many times the worker was started again after dying. */
  get restarts(): number {
    return this.#restarts;
  }

  #spawn(): Promise<void> {
    const data: WorkerData = { kind: 'correio-delivery', config: this.#config };
    // from source (tsx): on Node 20 this thread's loader hooks do not reach a worker, so a small
    // bootstrap registers tsx in the worker before it imports the entry
    const worker = this.#entry.pathname.endsWith('.ts')
      ? new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => m.register()).then(() => import(${JSON.stringify(this.#entry.href)}))`,
          { eval: true, workerData: data },
        )
      : new Worker(this.#entry, { workerData: data });
    this.#worker = worker;
    this.#startedAt = Date.now();
    let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
    const ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    this.#ready = ready;
    worker.on('message', (m: FromWorker) => {
      switch (m.t) {
        case 'ready':
          settle?.resolve();
          settle = undefined;
          return;
        case 'events':
          for (const e of m.events) diagnostics.channel(e.channel).publish(e.message);
          return;
        case 'log':
          this.#logger[m.level](m.obj, m.msg);
          return;
        case 'rpc': {
          const call = this.#calls.get(m.id);
          this.#calls.delete(m.id);
          call?.resolve(m.res);
          return;
        }
        case 'stopped':
          this.#onStopped?.();
          return;
        case 'fatal': {
          const err = m.error as { message?: string } | undefined;
          this.#logger.error({ err: m.error }, 'delivery worker failed');
          const e = new Error(`delivery worker failed: ${err?.message ?? String(m.error)}`);
          if (settle) {
            settle.reject(e);
            settle = undefined;
          }
          void worker.terminate();
          return;
        }
      }
    });
    worker.on('error', (err) => {
      this.#logger.error({ err }, 'delivery worker error');
      settle?.reject(err);
      settle = undefined;
    });
    worker.on('exit', (code) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      for (const call of this.#calls.values()) call.reject(new Error('the delivery worker exited'));
      this.#calls.clear();
      this.#onStopped?.();
      if (settle) {
        settle.reject(new Error(`the delivery worker exited (code ${code}) before it was ready`));
        settle = undefined;
        return; // a start that failed is the caller's (startApp rejects), or the restart's retry
      }
      if (this.#state !== 'running') return;
      this.#restartLater(code);
    });
    // envelopes enqueued while no worker ran are on disk: the new runner's start() reads them
    ready.catch(() => undefined);
    return ready;
  }

  #restartLater(code: number): void {
    // a worker that ran a minute before dying starts again quickly; a crash loop backs off
    if (Date.now() - this.#startedAt > 60_000) this.#restarts = 0;
    const delay = exponentialBackoff(this.#restarts + 1, 1000, 30_000);
    this.#restarts++;
    this.#logger.error({ code, restartInMs: delay }, 'delivery worker exited unexpectedly; restarting it');
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#state !== 'running') return;
      this.#spawn().then(
        () => this.#logger.info({}, 'delivery worker restarted'),
        (err: unknown) => {
          this.#logger.error({ err }, 'delivery worker did not start again');
          if (this.#state === 'running' && !this.#worker) this.#restartLater(-1);
        },
      );
    }, delay);
  }

  #post(m: ToWorker): void {
    this.#worker?.postMessage(m);
  }

  /** Newly committed envelopes (intake's onQueued): sent to the worker once per event-loop turn. */
  enqueue(envelopes: readonly Envelope[]): void {
    if (this.#state !== 'running') return;
    for (const e of envelopes) this.#pendingEnvelopes.push(e);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      const envs = this.#pendingEnvelopes;
      this.#pendingEnvelopes = [];
      if (envs.length > 0) this.#post({ t: 'enqueue', envelopes: envs });
    });
  }

  /** A control request (flush, hold, release, delete, bounce, wake) answered by the worker's runner. */
  async control(req: ControlRequest): Promise<ControlResponse> {
    if (this.#state !== 'running') return { ok: false, error: 'delivery is stopping' };
    // while a restart is pending, wait for the new worker (its start() has read the spool)
    while (!this.#worker && this.#state === 'running') await new Promise((r) => setTimeout(r, 100));
    await this.#ready?.catch(() => undefined);
    const worker = this.#worker;
    if (!worker) return { ok: false, error: 'delivery is stopping' };
    const id = this.#nextId++;
    return new Promise<ControlResponse>((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      worker.postMessage({ t: 'rpc', id, req } satisfies ToWorker);
    });
  }

  /** Stops the worker's runner gracefully (its grace, then in-flight deliveries defer) and ends the thread. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    clearTimeout(this.#restartTimer);
    const worker = this.#worker;
    if (!worker) {
      this.#state = 'stopped';
      return;
    }
    // envelopes still waiting for this turn's batch need no message: they are on disk
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#logger.error({ timeoutMs: this.#stopTimeoutMs }, 'delivery worker did not stop in time; terminating it');
        resolve();
      }, this.#stopTimeoutMs);
      this.#onStopped = () => {
        clearTimeout(timer);
        resolve();
      };
      worker.postMessage({ t: 'stop' } satisfies ToWorker);
    });
    this.#onStopped = undefined;
    this.#worker = undefined;
    await worker.terminate();
    this.#state = 'stopped';
  }
}
