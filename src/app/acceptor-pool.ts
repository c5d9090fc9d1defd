/**
 * @module acceptor-pool
 * `[smtp] processes = N` (issue 19): the server (this process: the queue, deliveries, IMAP,
 * POP3, the web) forks N-1 acceptor processes (acceptor-process.ts) that run the SMTP sessions.
 * The server keeps the listening sockets and hands each accepted connection, before any octet
 * is read, to the next acceptor in turn (a file descriptor passed over the IPC channel); an
 * acceptor commits each message to spool segments of its own (queue/segment-writers.ts), so no
 * lock is shared on the accept path, and sends the server a notice with the new envelopes. On
 * a notice the server reads what was appended (FsQueueStore.refresh) and schedules them.
 *
 * Durability (docs/design-changes.md): the 250 is sent by the acceptor after its fdatasync, as
 * in one process. A notice lost with a killed acceptor is made up by a rescan when the server
 * sees it exit (and by every listing of the queue); a killed server's successor finds every
 * segment at its recovery; records left open by a live acceptor are never cut or removed.
 * Standards: none beyond the sessions' (RFC 5321 §6.1: 250 only once stored).
 * Security: acceptors run as the server's user (forked after privileges are dropped); notices
 *   are only envelope lists of messages already in the spool, read back from the spool itself.
 * Limitations: while no acceptor is ready (at start, after a crash) the server runs the session
 *   itself. Connection limits and the AUTH throttle count per process. A reload replaces the
 *   acceptors (their sessions finish in the old ones).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Envelope, ListenMode, MessageId } from '../core/index.js';
import type { QueueRunner } from '../delivery/index.js';
import type { FsQueueStore, SegRef } from '../queue/index.js';

/** What an acceptor sends the server. */
export type AcceptorNotice = { t: 'ready' } | { t: 'queued'; envelopes: Envelope[]; places: Record<MessageId, SegRef> };
/** What the server sends an acceptor (a connection comes with its socket). */
export type AcceptorOrder = { t: 'conn'; mode: ListenMode; local: boolean } | { t: 'stop' };

export interface AcceptorPoolOptions {
  /** processes in all, this one included: N-1 acceptors */
  readonly count: number;
  readonly configFile: string;
  readonly store: Pick<FsQueueStore, 'refresh' | 'adopt'>;
  readonly runner: Pick<QueueRunner, 'enqueue' | 'rescan'>;
  readonly logger: Logger;
  /** ms an acceptor is given to finish its sessions at stop (default 35 s), then SIGKILL */
  readonly stopTimeoutMs?: number;
}

interface Acceptor {
  readonly child: ChildProcess;
  ready: boolean;
  /** replaced or stopped: its exit is expected */
  leaving: boolean;
  readonly exited: Promise<void>;
  readonly readied: Promise<void>;
}

const entry = fileURLToPath(new URL('./acceptor-main.js', import.meta.url));

export class AcceptorPool {
  readonly #opts: AcceptorPoolOptions;
  #acceptors: Acceptor[] = [];
  #next = 0;
  #stopped = false;

  constructor(opts: AcceptorPoolOptions) {
    this.#opts = opts;
  }

  /** The pids of the acceptors (the bench reports their CPU, the crash tests kill them). */
  pids(): number[] {
    return this.#acceptors.flatMap((a) => (a.child.pid !== undefined && !a.leaving ? [a.child.pid] : []));
  }

  /**
   * Forks the acceptors; resolves once each is ready (or has failed, or after `readyMs`), so
   * that "correio started" means the sessions run where the configuration says.
   */
  async start(readyMs = 30_000): Promise<void> {
    for (let i = 1; i < this.#opts.count; i++) this.#spawn();
    const all = this.#acceptors.map((a) => Promise.race([a.readied, a.exited]));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(all), new Promise((r) => (timer = setTimeout(r, readyMs).unref()))]);
    clearTimeout(timer);
  }

  /**
   * SmtpServer's handOff: passes the connection to the next ready acceptor; false (serve it
   * here) when none is ready.
   */
  readonly handOff = (socket: net.Socket, mode: ListenMode, local: boolean): boolean => {
    const ready = this.#acceptors.filter((a) => a.ready && !a.leaving && a.child.connected);
    if (ready.length === 0 || this.#stopped) return false;
    const a = ready[this.#next++ % ready.length];
    const order: AcceptorOrder = { t: 'conn', mode, local };
    // the descriptor goes with the order; ours is closed once sent (keepOpen false)
    a.child.send(order, socket, (err) => {
      if (err) socket.destroy(); // the acceptor went away meanwhile: the client tries again
    });
    return true;
  };

  #spawn(): void {
    const child = fork(entry, [this.#opts.configFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let readied!: () => void;
    const a: Acceptor = { child, ready: false, leaving: false, exited, readied: new Promise<void>((r) => (readied = r)) };
    this.#acceptors.push(a);
    child.on('message', (m: AcceptorNotice) => {
      if (m.t === 'ready') {
        a.ready = true;
        readied();
      }
      else if (m.t === 'queued') void this.#queued(m.envelopes, m.places);
    });
    child.on('error', (err) => this.#opts.logger.warn({ pid: child.pid, err: err.message }, 'acceptor process'));
    child.once('exit', (code, signal) => {
      this.#acceptors = this.#acceptors.filter((x) => x !== a);
      // what it stored and could not announce (killed after its fsync) is found by a rescan
      this.#opts.runner.rescan().catch(() => undefined);
      if (a.leaving || this.#stopped) return;
      this.#opts.logger.warn({ pid: child.pid, code, signal }, 'acceptor process ended; starting another');
      setTimeout(() => {
        if (!this.#stopped) this.#spawn();
      }, 1000).unref();
    });
  }

  async #queued(envelopes: Envelope[], places: Record<MessageId, SegRef>): Promise<void> {
    try {
      // the records are durable before the notice is sent: taken in by their places (no read),
      // or, for a message in a file of its own or one a scan has been past, by a refresh
      let scan = false;
      for (const id of new Set(envelopes.map((e) => e.messageId))) {
        const ref = Object.hasOwn(places, id) ? places[id] : undefined;
        if (!ref || !(await this.#opts.store.adopt(id, ref, envelopes.filter((e) => e.messageId === id)))) scan = true;
      }
      if (scan) await this.#opts.store.refresh();
      this.#opts.runner.enqueue(envelopes);
    } catch (err) {
      this.#opts.logger.error({ err: (err as Error).message }, 'taking in an acceptor\'s messages; the next rescan finds them');
    }
  }

  /** A reload: new acceptors read the configuration again; the old ones finish their sessions. */
  replace(): void {
    if (this.#stopped) return;
    const old = this.#acceptors;
    for (let i = 1; i < this.#opts.count; i++) this.#spawn();
    for (const a of old) this.#leave(a);
  }

  #leave(a: Acceptor): void {
    a.leaving = true;
    const order: AcceptorOrder = { t: 'stop' };
    if (a.child.connected) a.child.send(order, (err) => err && a.child.kill('SIGTERM'));
    const timer = setTimeout(() => a.child.kill('SIGKILL'), this.#opts.stopTimeoutMs ?? 35_000);
    void a.exited.then(() => clearTimeout(timer));
  }

  /** Stops every acceptor (each finishes its sessions) and waits for them. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const all = this.#acceptors;
    for (const a of all) this.#leave(a);
    await Promise.all(all.map((a) => a.exited));
  }
}
