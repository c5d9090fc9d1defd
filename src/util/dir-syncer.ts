/**
 * @module dir-syncer
 * Coalesced directory fsyncs: many writers that renamed a file into the same directory share one
 * fsync(2) of that directory, started after each of their renames.
 * Standards: POSIX fsync(2) (a rename is durable only once its directory is synced).
 * Security: none (paths come from our own code).
 * Limitations: Linux/BSD semantics (opening a directory read-only and fsyncing it); on platforms
 *   where that fails with EISDIR/EPERM/EINVAL the sync is treated as a no-op.
 */
import { closeSync, fsync, openSync } from 'node:fs';
import { promisify } from 'node:util';

const fsyncFd = promisify(fsync);

/**
 * fsyncs a directory so the entries created, renamed or removed in it are durable. The open and
 * close are synchronous calls (no disk wait: the directory is in the cache), the fsync alone
 * goes to the thread pool: one round trip instead of three.
 */
export async function fsyncDir(dir: string): Promise<void> {
  let fd;
  try {
    fd = openSync(dir, 'r');
  } catch (err) {
    if (isUnsupported(err)) return;
    throw err;
  }
  try {
    await fsyncFd(fd);
  } catch (err) {
    if (!isUnsupported(err)) throw err;
  } finally {
    closeSync(fd);
  }
}

/** fsync errors that mean "directories cannot be synced here": treated as a no-op. */
export function isUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EISDIR' || code === 'EPERM' || code === 'EINVAL';
}

interface Waiters {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface DirState {
  running: boolean;
  /** callers that arrived after the running fsync started: they share the next one */
  next: Waiters | undefined;
  /** leaves the next fsync still waits for (the writers busy when its first caller came) */
  waitLeaves: number;
}

function waiters(): Waiters {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Coalesces directory fsyncs. `sync(dir)` resolves once an fsync of `dir` that *started after the
 * call* has completed, so a caller's earlier rename is covered. Callers arriving while an fsync is
 * in flight share the next one: under load N commits cost about two fsyncs, not N.
 *
 * Writers that will rename (or link) into a directory soon may say so (enter, then leave once
 * their rename is done or given up): an fsync asked for while such writers are busy starts only
 * once as many writers have left as were busy when it was first asked for, so a burst of
 * deliveries into one Maildir shares one fsync of new/ instead of one per few (issue 19). A writer
 * must leave whatever happens to it, and must not wait for an fsync of the same directory before
 * it leaves; then every wait ends (each leave, whoever's, counts toward it).
 */
export class DirSyncer {
  readonly #dirs = new Map<string, DirState>();
  /** writers announced with enter() that have not left yet, per directory */
  readonly #busy = new Map<string, number>();
  readonly #fsync: (dir: string) => Promise<void>;

  constructor(fsync: (dir: string) => Promise<void> = fsyncDir) {
    this.#fsync = fsync;
  }

  /** A writer will rename or link into `dir` soon. */
  enter(dir: string): void {
    this.#busy.set(dir, (this.#busy.get(dir) ?? 0) + 1);
  }

  /** That writer is done (renamed, linked, or failed): an fsync waiting for it may start. */
  leave(dir: string): void {
    const n = this.#busy.get(dir);
    if (n === undefined) return;
    if (n <= 1) this.#busy.delete(dir);
    else this.#busy.set(dir, n - 1);
    const st = this.#dirs.get(dir);
    if (!st?.next || st.waitLeaves === 0) return;
    st.waitLeaves--;
    if (st.waitLeaves === 0 && !st.running) this.#start(dir, st);
  }

  sync(dir: string): Promise<void> {
    let st = this.#dirs.get(dir);
    if (!st) {
      st = { running: false, next: undefined, waitLeaves: 0 };
      this.#dirs.set(dir, st);
    }
    if (!st.next) {
      st.next = waiters();
      // the writers busy now: this fsync waits until as many have left
      st.waitLeaves = this.#busy.get(dir) ?? 0;
    }
    const p = st.next.promise;
    if (!st.running && st.waitLeaves === 0) this.#start(dir, st);
    return p;
  }

  #start(dir: string, st: DirState): void {
    // start on the next tick so callers in the same tick share the first fsync too
    st.running = true;
    setImmediate(() => void this.#run(dir, st));
  }

  async #run(dir: string, st: DirState): Promise<void> {
    while (st.next) {
      if (st.waitLeaves > 0) {
        // callers that came during the last fsync wait for writers still busy: leave() starts it
        st.running = false;
        return;
      }
      const w = st.next;
      st.next = undefined;
      try {
        await this.#fsync(dir);
        w.resolve();
      } catch (err) {
        w.reject(err);
      }
    }
    st.running = false;
    this.#dirs.delete(dir);
  }
}
