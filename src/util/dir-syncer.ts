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
 */
export class DirSyncer {
  readonly #dirs = new Map<string, DirState>();
  readonly #fsync: (dir: string) => Promise<void>;

  constructor(fsync: (dir: string) => Promise<void> = fsyncDir) {
    this.#fsync = fsync;
  }

  sync(dir: string): Promise<void> {
    let st = this.#dirs.get(dir);
    if (!st) {
      st = { running: false, next: undefined };
      this.#dirs.set(dir, st);
    }
    st.next ??= waiters();
    const p = st.next.promise;
    if (!st.running) {
      // start on the next tick so callers in the same tick share the first fsync too
      st.running = true;
      setImmediate(() => void this.#run(dir, st));
    }
    return p;
  }

  async #run(dir: string, st: DirState): Promise<void> {
    while (st.next) {
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
