/**
 * @module acceptor-pool
 * `[smtp] processes = N` (issue 19): the server (this process: the queue, deliveries, IMAP,
 * POP3, the web) forks N-1 acceptor processes (acceptor-process.ts) that run the SMTP sessions.
 * The server binds the SMTP/LMTP listening sockets without accepting on them and passes each
 * acceptor every one of them once, when it is ready (server/connection/shared-listeners.ts);
 * the acceptors accept on them themselves (the kernel gives each connection to one of them),
 * so no connection passes through the server. An acceptor commits each message to spool
 * segments of its own (queue/segment-writers.ts), so no lock is shared on the accept path,
 * and sends the server a notice with the new envelopes (several commits of one turn of its
 * event loop in one notice, each record's body with it, and the mail events of that turn,
 * which the server publishes again for its metrics and history: acceptor-events.ts), framed on
 * a pipe of its own beside the IPC channel (acceptor-notice.ts). On a notice the server takes the
 * records in by their places, remembering their bodies so that delivery reads no file
 * (FsQueueStore.adopt, else refresh: acceptor-intake.ts), and schedules them. Failed AUTHs are told to the server,
 * which counts them in its throttle (IMAP, POP3 and the web use it) and tells the other
 * acceptors, as the server tells them its own. Each acceptor tells its open SMTP sessions per
 * listener mode when they change (at most twice a second); the server's /metrics adds them to
 * its own (sessions()), and forgets an acceptor's when it exits.
 *
 * Durability (docs/design-changes.md): the 250 is sent by the acceptor after its fdatasync, as
 * in one process. A notice lost with a killed acceptor is made up by a rescan when the server
 * sees it exit (and by every listing of the queue); a killed server's successor finds every
 * segment at its recovery; records left open by a live acceptor are never cut or removed.
 * Standards: none beyond the sessions' (RFC 5321 §6.1: 250 only once stored).
 * Security: acceptors run as the server's user (forked after privileges are dropped; the
 *   sockets were bound before); notices are only envelope lists of messages already in the
 *   spool, read back from the spool itself, and AUTH failures (an address and an account).
 * Failures: an acceptor that ends before it ever accepted while the server starts fails that
 * start (AcceptorStartError: exit 70 and one line naming the cause, which the acceptor tells
 * before it exits; an OS condition under it as the same condition in one process would: a
 * port another program listened on between our bind and the acceptor's listen is "already in
 * use", 69), rather than being started again every second forever. A reload starts a
 * new set of acceptors, and every one of them must accept before the old set is retired: when
 * any does not (ended before accepting, or not accepting within 30 s), the whole new set is
 * stopped and not started again, the reload is refused naming the cause, and the old set goes
 * on serving. Later, an ended acceptor is replaced by one of its own set, after a backoff
 * counted per set (acceptor-restarts.ts: a reload's set starts afresh); a restart whose set a
 * reload replaced is dropped.
 * Limitations: until the first acceptor listens, the SMTP ports refuse connections (they are
 *   bound, not listening); while none accepts (all restarting) connections wait in the
 *   kernel's backlog. The connection limits and rates are each acceptor's share of the
 *   configured ones (acceptor-limits.ts). A reload starts new acceptors and retires the old ones
 *   once the new ones accept: they accept no more, and end when their sessions' clients have
 *   ended them (QUIT, a timeout), as sessions go on across a reload in one process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { ListenMode } from '../core/index.js';
import type { QueueRunner } from '../delivery/index.js';
import type { FsQueueStore } from '../queue/index.js';
import type { SharedListener } from '../server/smtp/index.js';
import type { OsCause } from '../util/index.js';
import { republish } from './acceptor-events.js';
import { takeIn } from './acceptor-intake.js';
import { AcceptorRestarts } from './acceptor-restarts.js';
import { NoticeReader, noticeFd, type Queued } from './acceptor-notice.js';

/** An AUTH that failed in one process, for the throttles of the others. */
export interface AuthFailure { t: 'auth-failed'; address: string; account: string }
/** What an acceptor sends the server over the IPC channel (its notices go on their own pipe: acceptor-notice.ts). */
/** A 'failed' carries the OS condition under the failure (util/os-cause), so the server's start says what to do as for the same condition in one process. */
export type AcceptorMessage = { t: 'ready' } | { t: 'accepting' } | { t: 'retired' } | { t: 'failed'; error: string; os?: OsCause } | AuthFailure | Sessions;
/** An acceptor's open SMTP sessions per listener mode (sent when they change). */
export interface Sessions { t: 'sessions'; counts: { mode: ListenMode; count: number }[] }
/**
 * What the server sends an acceptor: first the configuration in force, then each listening socket with a 'listen' (its handle beside
 * it; `count` of them in all), a failed AUTH, or stop.
 */
export type AcceptorOrder = { t: 'config'; config: Config } | { t: 'listen'; mode: ListenMode; local: boolean; count: number } | AuthFailure | { t: 'stop' } | { t: 'retire' };

export interface AcceptorPoolOptions {
  /** processes in all, this one included: N-1 acceptors */
  readonly count: number;
  /** the configuration in force (sent to each acceptor as it starts: it reads no file) */
  readonly config: () => Config;
  readonly store: Pick<FsQueueStore, 'refresh' | 'adopt' | 'findMessageEnvelopes'>;
  readonly runner: Pick<QueueRunner, 'enqueue' | 'rescan'>;
  /** the SMTP/LMTP sockets the server bound for the acceptors (SmtpServer.sharedListeners) */
  readonly listeners: () => readonly SharedListener[];
  /** an acceptor's failed AUTH, for the server's throttle (the other acceptors are told here) */
  readonly onAuthFailure: (address: string, account: string) => void;
  readonly logger: Logger;
  /** ms an acceptor is given to finish its sessions at stop (default 35 s), then SIGKILL */
  readonly stopTimeoutMs?: number;
}

/**
 * An acceptor ended before it accepted while the server started: the start fails (EX_SOFTWARE),
 * or as its OS condition says (`cause`: an Error with its code and where, for cli/os-errors.ts).
 */
export class AcceptorStartError extends Error {
  readonly exitCode = 70;
  constructor(message: string, os?: OsCause) {
    super(message, os && { cause: Object.assign(new Error(`${os.syscall ?? 'acceptor'} ${os.code}`), os) });
    this.name = 'AcceptorStartError';
  }
}


interface Acceptor {
  readonly child: ChildProcess;
  readonly startedAt: number;
  /** it has accepted on the listening sockets (or had none to accept on) */
  accepting: boolean;
  /** why it could not run, as it told before exiting, and the OS condition under it */
  error?: string;
  os?: OsCause;
  /** replaced or stopped: its exit is expected (an order it gets while it starts up is kept for it: acceptor-process) */
  leaving: boolean;
  readonly exited: Promise<void>;
  readonly readied: Promise<void>;
  /** its open SMTP sessions per listener mode, as it last told them */
  sessions: readonly { mode: ListenMode; count: number }[];
  /** resolved once it accepts no more (retired at a reload, or gone) */
  readonly retired: Promise<void>;
  /** started by a reload that has not yet seen it accept: its end before then is the reload's to judge (replace) */
  trial: boolean;
  /** the set it belongs to (the start's, or a reload's: replace) and that set's configuration, which its replacement gets */
  readonly set: number;
  readonly settings: Config;
}

/** A reload's new acceptors once one of them accepts: the old ones retired when the reload is applied, or the new ones stopped. */
export interface AcceptorSwap {
  /** the old acceptors accept no more; resolves once they do (or after the reload's readyMs) */
  retireOld(): Promise<void>;
  /** the reload failed after all: the new acceptors stop, the old ones go on */
  abort(): Promise<void>;
}

const entry = fileURLToPath(new URL('./acceptor-main.js', import.meta.url));

/** A process's resident memory in bytes (/proc/PID/status VmRSS); 0 when unknown (not Linux, gone). */
function residentBytes(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

export class AcceptorPool {
  readonly #opts: AcceptorPoolOptions;
  #acceptors: Acceptor[] = [];
  #stopped = false;
  /** acceptors that ended unexpectedly (and were replaced) */
  #ended = 0;
  /** start() is waiting for the first acceptors; the first of them to end before accepting, why */
  #starting = false;
  #startFailure: { message: string; os: OsCause | undefined } | undefined;
  /** the set serving (0: the start's; each reload's new one is the next number), and a reload's set on trial */
  #current = 0;
  #trying: number | undefined;
  #sets = 0;
  readonly #restarts: AcceptorRestarts;

  constructor(opts: AcceptorPoolOptions) {
    this.#opts = opts;
    this.#restarts = new AcceptorRestarts(opts.logger, (set) => !this.#stopped && (set === this.#current || set === this.#trying));
  }

  /** The pids of the acceptors (the bench reports their CPU, the crash tests kill them). */
  pids(): number[] {
    return this.#acceptors.flatMap((a) => (a.child.pid !== undefined && !a.leaving ? [a.child.pid] : []));
  }

  /**
   * For /metrics: the acceptors running, their resident memory summed (Linux: /proc; 0
   * elsewhere), and how many ended unexpectedly since the start.
   */
  status(): { live: number; residentBytes: number; ended: number } {
    const pids = this.pids();
    return { live: pids.length, residentBytes: pids.reduce((sum, pid) => sum + residentBytes(pid), 0), ended: this.#ended };
  }

  /** The acceptors' open SMTP sessions per listener mode, summed (the server's /metrics adds its own). */
  sessions(): Map<ListenMode, number> {
    const sum = new Map<ListenMode, number>();
    for (const a of this.#acceptors) for (const { mode, count } of a.sessions) sum.set(mode, (sum.get(mode) ?? 0) + count);
    return sum;
  }

  /**
   * Forks the acceptors; resolves once each accepts on the listening sockets (or has failed,
   * or after `readyMs`), so that "correio started" means the SMTP ports take connections.
   */
  async start(readyMs = 30_000): Promise<void> {
    this.#starting = true;
    for (let i = 1; i < this.#opts.count; i++) this.#spawn();
    await this.#within(Promise.all(this.#acceptors.map((a) => Promise.race([a.readied, a.exited]))), readyMs);
    this.#starting = false;
    // one that cannot start would be started again every second forever: the start fails
    if (this.#startFailure !== undefined) throw new AcceptorStartError(this.#startFailure.message, this.#startFailure.os);
  }

  /** Tells every acceptor but `except` of an AUTH that failed (in the server or another acceptor). */
  authFailed(address: string, account: string, except?: ChildProcess): void {
    const order: AcceptorOrder = { t: 'auth-failed', address, account };
    for (const a of this.#acceptors) if (a.child !== except && a.child.connected) a.child.send(order, undefined, {}, () => undefined);
  }

  #spawn(settings: Config = this.#opts.config(), set = this.#current, trial = false): Acceptor {
    // fd 4: the acceptor's notices (acceptor-notice.ts)
    const child = fork(entry, [String(this.#opts.count - 1)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'] });
    this.#readNotices(child);
    // the server's configuration, as read (by root, or from the embedded defaults): the acceptor
    // runs as run_as, who may not be able to read the file
    const config: AcceptorOrder = { t: 'config', config: settings };
    child.send(config, undefined, {}, () => undefined);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let readied!: () => void;
    let retired!: () => void;
    const a: Acceptor = { child, startedAt: Date.now(), accepting: false, leaving: false, exited, readied: new Promise<void>((r) => (readied = r)), sessions: [], retired: Promise.race([exited, new Promise<void>((r) => (retired = r))]), trial, set, settings };
    this.#acceptors.push(a);
    child.on('message', (m: AcceptorMessage) => {
      if (m.t === 'ready') {
        // no SMTP/LMTP listener configured: nothing to accept on, ready as it is
        if (this.#giveListeners(a) === 0) {
          a.accepting = true;
          readied();
        }
      }
      else if (m.t === 'accepting') {
        a.accepting = true;
        readied();
      }
      else if (m.t === 'failed') {
        a.error = m.error;
        a.os = m.os;
      }
      else if (m.t === 'retired') retired();
      else if (m.t === 'sessions') a.sessions = m.counts;
      else if (m.t === 'auth-failed') {
        this.#opts.onAuthFailure(m.address, m.account);
        this.authFailed(m.address, m.account, child);
      }
    });
    child.on('error', (err) => this.#opts.logger.warn({ pid: child.pid, err: err.message }, 'acceptor process'));
    child.once('exit', (code, signal) => {
      this.#acceptors = this.#acceptors.filter((x) => x !== a);
      // what it stored and could not announce (killed after its fsync) is found by a rescan
      this.#opts.runner.rescan().catch((err: unknown) => {
        this.#opts.logger.error({ pid: child.pid, err: (err as Error).message }, 'rescan after an acceptor ended; the next rescan finds its messages');
      });
      if (a.leaving || this.#stopped) return;
      const cause = a.error ?? (signal !== null ? `killed by ${signal}` : `exit status ${code}`);
      // a reload's new one: the reload decides (replace) once its new ones have accepted or ended
      if (a.trial && !a.accepting) {
        a.error = cause;
        return;
      }
      if (this.#starting && !a.accepting) {
        this.#startFailure ??= {
          message: `the SMTP acceptor process (pid ${child.pid}) ended before it accepted a connection: ${cause}; ` +
            'fix that, or set [smtp] processes = 1 to run SMTP in the server',
          os: a.os,
        };
        this.#opts.logger.error({ pid: child.pid, code, signal, error: a.error }, `acceptor process ended before it accepted a connection (${cause}); the start fails`);
        return;
      }
      this.#restartLater(a, cause, code, signal);
    });
    return a;
  }

  /** An acceptor ended unexpectedly: another of its set is started after 1 s, backing off when they keep ending (acceptor-restarts.ts). */
  #restartLater(a: Acceptor, cause: string, code: number | null = null, signal: NodeJS.Signals | null = null): void {
    this.#ended++;
    this.#restarts.schedule({ ...a, pid: a.child.pid }, cause, code, signal, () => this.#spawn(a.settings, a.set));
  }

  /** Stops every acceptor of `set` (a reload's set refused or aborted), and its pending restarts. */
  #stopSet(set: number): void {
    if (this.#trying === set) this.#trying = undefined;
    for (const a of this.#acceptors) if (a.set === set && !a.leaving) this.#leave(a);
    this.#restarts.drop();
  }

  /**
   * Passes each listening socket to a ready acceptor (its descriptor goes with the order; ours
   * stays open); returns how many.
   */
  #giveListeners(a: Acceptor): number {
    const shared = this.#opts.listeners();
    for (const l of shared) {
      const order: AcceptorOrder = { t: 'listen', mode: l.mode, local: l.local, count: shared.length };
      a.child.send(order, l.handle as unknown as net.Server, { keepOpen: true }, () => undefined);
    }
    return shared.length;
  }

  /**
   * Takes in the notices an acceptor writes on its pipe; one that does not decode ends the
   * reading (logged): its records, and those of later notices, are found by the rescan at the
   * acceptor's exit and by every listing of the queue.
   */
  #readNotices(child: ChildProcess): void {
    const pipe = child.stdio[noticeFd];
    if (!pipe) return;
    const reader = new NoticeReader();
    pipe.on('data', (chunk: Buffer) => {
      try {
        for (const q of reader.push(chunk)) void this.#queued(q);
      } catch (err) {
        this.#opts.logger.error({ pid: child.pid, err: (err as Error).message }, 'an acceptor\'s notice; the next rescan finds its messages');
        pipe.destroy();
      }
    });
    pipe.on('error', () => undefined);
  }

  async #queued(q: Queued): Promise<void> {
    // the acceptor's mail events (received, queued … of these envelopes) before their delivery
    republish(q.events);
    try {
      await takeIn(this.#opts, q);
    } catch (err) {
      this.#opts.logger.error({ err: (err as Error).message }, 'taking in an acceptor\'s messages; the next rescan finds them');
    }
  }

  /**
   * A reload's first step: a new set of acceptors with the configuration `next`, waited for until
   * each accepts (or has ended, or after `readyMs`). Unless every one of them accepts, the reload
   * is refused as a whole (issue 19: a set part of which cannot start would restart in a loop
   * beside the old set, or serve short): the new ones are stopped (not started again; those that
   * accepted finish their sessions) and this rejects naming the cause (AcceptorStartError): the
   * old ones go on, on the listening sockets they never left. Otherwise the swap retires the old
   * set once the reload is applied (with any restart of it still waiting its delay, and any
   * replacement it started meanwhile), or stops the new one when the reload fails after all. The
   * refusal is logged by the reload (reload.ts), one line.
   */
  async replace(next: Config, readyMs = 30_000): Promise<AcceptorSwap> {
    const set = ++this.#sets;
    const fresh: Acceptor[] = [];
    if (!this.#stopped) {
      this.#trying = set;
      for (let i = 1; i < this.#opts.count; i++) fresh.push(this.#spawn(next, set, true));
    }
    await this.#within(Promise.all(fresh.map((a) => Promise.race([a.readied, a.exited]))), readyMs);
    for (const a of fresh) a.trial = false;
    const gone = (a: Acceptor): boolean => a.child.exitCode !== null || a.child.signalCode !== null;
    const failed = fresh.filter((a) => !a.accepting);
    if (failed.length > 0 && !this.#stopped) {
      // no crash loop, no short set: the ones still starting are stopped, the ended ones are not started again
      this.#stopSet(set);
      const ended = failed.filter(gone);
      const first = ended[0];
      const some = (n: number): string => (n === fresh.length ? `${n} new SMTP acceptor processes` : `${n} of ${fresh.length} new SMTP acceptor processes`);
      const message = first === undefined
        ? `${failed.length === fresh.length ? 'the new SMTP acceptor processes' : some(failed.length)} did not accept a connection within ${readyMs / 1000} s (stopped)`
        : `${fresh.length === 1 ? 'the new SMTP acceptor process' : some(ended.length)} ended before accepting a connection (pid ${first.child.pid}: ${first.error ?? 'ended'})`;
      throw new AcceptorStartError(`${message}; the old acceptor processes go on serving`);
    }
    return {
      retireOld: async () => {
        if (this.#stopped) return;
        this.#current = set;
        this.#trying = undefined;
        this.#restarts.drop();
        // every acceptor of an older set, also one a restart started while the new set was on trial
        const leaving = this.#acceptors.filter((a) => a.set !== set && !a.leaving);
        for (const a of leaving) this.#leave(a, 'retire');
        // resolved (the reload answered) once the old ones accept no more: the next session is a new one's
        await this.#within(Promise.all(leaving.map((a) => a.retired)), readyMs);
      },
      abort: () => {
        this.#stopSet(set);
        return Promise.resolve();
      },
    };
  }

  /** Waits for `p`, at most `ms`. */
  async #within(p: Promise<unknown>, ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms).unref()))]);
    clearTimeout(timer);
  }

  /**
   * Tells an acceptor to stop: 'stop' drains its sessions (SIGKILL after stopTimeoutMs),
   * 'retire' (a reload) lets them end with their clients, as a reload in one process does.
   */
  #leave(a: Acceptor, how: 'stop' | 'retire' = 'stop'): void {
    a.leaving = true;
    this.#order(a, how);
    if (how === 'retire') return;
    const timer = setTimeout(() => a.child.kill('SIGKILL'), this.#opts.stopTimeoutMs ?? 35_000);
    void a.exited.then(() => clearTimeout(timer));
  }

  /** Sends `a` its order to go; if the send fails it is sent SIGTERM (one no longer connected is gone or going: its exit is awaited). */
  #order(a: Acceptor, how: 'stop' | 'retire'): void {
    const order: AcceptorOrder = { t: how };
    if (a.child.connected) a.child.send(order, (err) => err && a.child.kill('SIGTERM'));
  }

  /** Stops every acceptor (each finishes its sessions) and waits for them. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#restarts.clear();
    const all = this.#acceptors;
    for (const a of all) this.#leave(a);
    await Promise.all(all.map((a) => a.exited));
  }
}
