/**
 * @module fs-queue-options
 * How a FsQueueStore is opened: by the server's delivering instance, a reader, an acceptor
 * process, a CLI command (fs-queue-store.ts says what each choice does).
 * Standards: none.
 * Security: none (options only).
 * Limitations: none.
 */
export interface FsQueueStoreOptions {
  /**
   * Clean leftovers and move corrupt items aside at open: 'auto' (default) does it when no other
   * live process owns the spool (see `lock`), 'always' forces it, 'never' skips it.
   */
  recover?: 'auto' | 'always' | 'never';
  /**
   * (The server) only the part of the recovery that must precede accepting runs in open() (tmp/
   * and the segments); the listings of msg/ and env/ (leftover env files, names that are not
   * ids) run after it, beside new work, when FsQueueStore.recoverRest() starts them
   * (`recovered`; spool-recovery.ts says why that is safe). Default false: all of it in open().
   */
  recoverLater?: boolean;
  /**
   * false: never take `lock` (a reader such as a test polling the spool of a running server;
   * `owner` is then false and 'auto' recovery does not run). Default true.
   */
  lock?: boolean;
  /** creates message ids (default util's uniqueId) */
  newId?: () => string;
  /**
   * Keep what this instance commits and reads (envelope lists, whether an env file exists, the
   * bodies of small messages) in memory, bounded, and answer reads from there. Only for the one
   * instance that changes committed messages (the one running deliveries): other processes may
   * commit new messages, but a change made elsewhere to a message already known here would not
   * be seen. Default false. A caching owner (the server's delivering instance) also commits
   * small messages (body within 64 KB) as records in a segment (segment-commit.ts) instead of
   * one file each; every instance reads segments.
   */
  cache?: boolean;
  /** octets after which a segment takes no more records (default 64 MB; small in tests) */
  segmentLimit?: number;
  /**
   * An acceptor process (`[smtp] processes`): commits small messages to segments of its own
   * (segment-writers.ts), takes no lock, recovers nothing, caches nothing; the delivering
   * instance learns of its messages by notice (refresh()) or at its next listing.
   */
  acceptor?: boolean;
  /** the pid this instance's segment ids name (default process.pid; tests stand in for another process) */
  segmentPid?: number;
}
