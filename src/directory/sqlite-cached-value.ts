/**
 * @module sqlite-cached-value
 * A value computed from a SQLite database and computed again only once the database changed:
 * commits by other connections (the CLI writing while the server reads) are seen through
 * `PRAGMA data_version`, which SQLite changes for exactly those; this connection's own writes
 * call touch(). Asking costs one pragma, no table read: the quota gate asks at every RCPT and
 * delivery whether any user has limits of their own, relay control whether a domain is local
 * (issue 11). The pragma is a read transaction like any statement (two fcntl locks and a stat
 * of the file): what it saves is the table read and its result, not system calls. A handle's
 * values share one pragma per turn of the event loop (the handle reads it through
 * util/turn-memo's TurnValue): the RCPTs of the sessions a turn serves, and their several
 * questions each (relay control, alias expansion, quota), ask it once (issue 19: the acceptor's
 * pragmas were 3 % of its main thread under accept load).
 * Standards: SQLite "PRAGMA data_version" (https://sqlite.org/pragma.html#pragma_data_version);
 *   Node's event loop (a setImmediate callback runs after the turn's I/O callbacks and microtasks).
 * Security: none.
 * Limitations: the version is read before the value is computed, so a commit landing between
 *   the two is seen at the next ask (the value is never older than its stamp says). Another
 *   connection's commit is seen from the next turn on: a question asked in the turn that read
 *   the version before that commit gets the older answer (this handle's own writes, by touch(),
 *   are seen at once).
 */
export class SqliteCachedValue<T> {
  #stamp: number | undefined;
  #localWrites = 0;
  #stampWrites = -1;
  #value: T | undefined;

  /** `version` reads PRAGMA data_version; `compute` reads the value. */
  constructor(
    private readonly version: () => number,
    private readonly compute: () => T,
  ) {}

  /** This connection changed what the value depends on. */
  touch(): void {
    this.#localWrites++;
  }

  get(): T {
    const v = this.version();
    if (v !== this.#stamp || this.#stampWrites !== this.#localWrites || this.#value === undefined) {
      const writes = this.#localWrites;
      this.#value = this.compute();
      this.#stamp = v;
      this.#stampWrites = writes;
    }
    return this.#value;
  }
}
