/**
 * @module sqlite-cached-value
 * Answers computed from a SQLite database and computed again only once the database changed,
 * as a stamp of two counters says: `PRAGMA data_version`, which SQLite changes for exactly the
 * commits of other connections (the CLI writing while the server reads), and `total_changes()`,
 * the rows this connection itself has inserted, updated or deleted (the admin API's writes
 * through the server's own handle), so that no write needs to tell a cache it changed
 * something. SqliteCachedValue holds one value (whether any user has limits of their own, asked
 * at every RCPT and delivery; the local domains, asked at every RCPT by relay control: issue
 * 11); SqliteCachedAnswers one answer per key (a local name's alias, role, list and user, asked
 * at every RCPT: its read transaction and four statements were 3 % of the instructions of an
 * accepted and delivered message, issue 19). A handle's caches share one pragma per turn of the
 * event loop (the handle reads it through util/turn-memo's TurnValue): the RCPTs of the sessions
 * a turn serves, and their several questions each, ask it once; the pragma is a read
 * transaction like any statement (two fcntl locks and a stat of the file), total_changes() is
 * none (it reads no table).
 * Standards: SQLite "PRAGMA data_version" (https://sqlite.org/pragma.html#pragma_data_version)
 *   and total_changes() (https://sqlite.org/lang_corefunc.html#total_changes); Node's event loop
 *   (a setImmediate callback runs after the turn's I/O callbacks and microtasks).
 * Security: SqliteCachedAnswers holds at most `maxKeys` answers (RCPTs to ever new names cannot
 *   grow it without bound): past that it starts empty again.
 * Limitations: the stamp is read before the answer is computed, so a commit landing between the
 *   two is seen at the next ask (an answer is never older than its stamp says). Another
 *   connection's commit is seen from the next turn on: a question asked in the turn that read
 *   the version before that commit gets the older answer (this connection's own writes are seen
 *   at once). A write that changes no row (INSERT OR IGNORE of what is there) changes nothing
 *   to see; one rolled back still counts, and only costs a computation.
 */

/** What a cached answer was computed at: other connections' commits, this connection's changed rows. */
export interface DbStamp {
  readonly others: number;
  readonly own: number;
}

const same = (a: DbStamp | undefined, b: DbStamp): boolean => a !== undefined && a.others === b.others && a.own === b.own;

export class SqliteCachedAnswers<T> {
  #stamp: DbStamp | undefined;
  readonly #answers = new Map<string, T>();

  /** `stamp` reads the database's stamp. */
  constructor(
    private readonly stamp: () => DbStamp,
    private readonly maxKeys = 10_000,
  ) {}

  /** The answer for `key`, computed by `compute` if none is kept since the stamp last moved. */
  get(key: string, compute: () => T): T {
    const s = this.stamp();
    if (!same(this.#stamp, s)) {
      this.#answers.clear();
      this.#stamp = s;
    }
    let answer = this.#answers.get(key);
    if (answer === undefined) {
      answer = compute();
      if (this.#answers.size >= this.maxKeys) this.#answers.clear();
      this.#answers.set(key, answer);
    }
    return answer;
  }
}

/** One answer (SqliteCachedAnswers under a single key). */
export class SqliteCachedValue<T> {
  readonly #answers: SqliteCachedAnswers<T>;

  /** `stamp` reads the database's stamp; `compute` reads the value. */
  constructor(
    stamp: () => DbStamp,
    private readonly compute: () => T,
  ) {
    this.#answers = new SqliteCachedAnswers(stamp, 1);
  }

  get(): T {
    return this.#answers.get('', this.compute);
  }
}
