/**
 * @module pg-dkim-keys
 * DKIM signing keys in PostgreSQL, beside the directory (its migration 4, table `dkim_keys`),
 * for `[storage] url = "postgres://…"`: a key made on one node (`correio dkim keygen`, the
 * admin API) signs on every node, with nothing to copy between data directories. A row is
 * (domain, selector, signing algorithm, private key as PKCS#8 PEM, active, created). Only
 * active keys sign; an inactive one is kept (a rotation's old selector, still published while
 * mail signed with it is in flight).
 * Standards: RFC 6376 §3.1 (selectors), RFC 8463 (Ed25519).
 * Security: the private keys are as secret as the database (reach it over a trusted network or
 *   TLS, as for the password hashes beside them); this module never logs a key. Rows are
 *   written with INSERT only: an existing (domain, selector) is never overwritten. Every
 *   PostgreSQL failure is thrown as MailError 451 4.3.0.
 * Limitations: the caller checks names and key contents (policy/trust/dkim-keys.ts); the
 *   schema is the directory's, migrated here too so that an offline command finds the table.
 */
import { migrateSchema, openPgPool, type PgPool } from '../util/pg-database.js';
import { storeFailure } from '../util/sqlite-small-store.js';
import { directorySchema } from './pg-directory-schema.js';

export interface DkimKeyRow {
  readonly domain: string;
  readonly selector: string;
  /** 'rsa-sha256' or 'ed25519-sha256' */
  readonly algorithm: string;
  readonly privateKey: string;
  readonly active: boolean;
}

export class PgDkimKeys {
  private constructor(private readonly pool: PgPool) {}

  /** Connects (one or two connections) and brings the directory schema up to date; `readOnly` (correio check): no migration, no write. */
  static async open(url: string, opts: { readOnly?: boolean } = {}): Promise<PgDkimKeys> {
    const pool = openPgPool(url, { max: 2, applicationName: 'correio dkim keys', ...(opts.readOnly && { readOnly: true }) });
    try {
      if (!opts.readOnly) await migrateSchema(pool, [directorySchema]);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw storeFailure(err);
    }
    return new PgDkimKeys(pool);
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw storeFailure(err);
    }
  }

  /** Every key (active or not), by domain then selector. */
  list(): Promise<DkimKeyRow[]> {
    return this.#run(async () => {
      const { rows } = await this.pool.query<{ domain: string; selector: string; algorithm: string; private_key: string; active: boolean }>(
        'SELECT domain, selector, algorithm, private_key, active FROM dkim_keys ORDER BY domain, selector',
      );
      return rows.map((r) => ({ domain: r.domain, selector: r.selector, algorithm: r.algorithm, privateKey: r.private_key, active: r.active }));
    });
  }

  /**
   * Adds a key; false when (domain, selector) has one already (left as it was), whatever its
   * content: the caller compares when a copy must match.
   */
  add(key: DkimKeyRow): Promise<boolean> {
    return this.#run(async () => {
      const r = await this.pool.query(
        'INSERT INTO dkim_keys (domain, selector, algorithm, private_key, active) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (domain, selector) DO NOTHING',
        [key.domain, key.selector, key.algorithm, key.privateKey, key.active],
      );
      return r.rowCount === 1;
    });
  }

  /** Makes a key sign (active) or not; false when (domain, selector) has no key. */
  setActive(domain: string, selector: string, active: boolean): Promise<boolean> {
    return this.#run(async () => (await this.pool.query('UPDATE dkim_keys SET active = $3 WHERE domain = $1 AND selector = $2', [domain, selector, active])).rowCount === 1);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
