/**
 * @module pg-small-store
 * The common step of the small PostgreSQL stores beside the directory (API tokens, Idempotency-Key
 * answers, shared secrets): each call first brings the directory schema up to date, once per
 * store (again after a failure), so a command run before any node started finds its table, and
 * every failure becomes the temporary error the callers answer with.
 * Standards: none.
 * Security: a PostgreSQL failure is thrown as MailError 451 4.3.0, never taken as "not found".
 * Limitations: none.
 */
import { migrateSchema, type PgPool } from '../util/pg-database.js';
import { storeFailure } from '../util/sqlite-small-store.js';
import { directorySchema } from './pg-directory-schema.js';

export type PgStoreRun = <T>(fn: () => Promise<T>) => Promise<T>;

/** A runner of `pool`'s work: the directory schema migrated before the first, failures as 451. */
export function pgStoreRunner(pool: PgPool): PgStoreRun {
  let ready: Promise<unknown> | undefined;
  return async (fn) => {
    try {
      ready ??= migrateSchema(pool, [directorySchema]);
      await ready;
      return await fn();
    } catch (err) {
      ready = undefined;
      throw storeFailure(err);
    }
  };
}
