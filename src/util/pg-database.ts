/**
 * @module pg-database
 * PostgreSQL plumbing shared by the PostgreSQL backends (directory, queue): a connection pool
 * for a `postgres://` url, and versioned schema migrations. Each backend owns a *component*
 * (its name and its ordered migrations); the table `correio_schema` records the version each
 * component reached. Migrations run in one transaction under a transaction-level advisory
 * lock, so several nodes starting at once apply each migration exactly once and the others
 * wait, then see it done (through PgBouncer's transaction pooling too).
 * Standards: PostgreSQL 15 (pg_advisory_xact_lock, transactional DDL).
 * Security: the url may carry a password: it is never logged or put into an error message by
 *   this module (errors name the component and the PostgreSQL error only).
 * Limitations: migrations only go forward; a schema newer than this correio is refused, never
 *   downgraded.
 */
import pg from 'pg';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

/** One step of a component's schema; versions count from 1 without gaps. */
export interface SchemaMigration {
  readonly version: number;
  /** what it does, for `correio db status` */
  readonly name: string;
  readonly sql: string;
}

/** A backend's schema: its name in correio_schema and its migrations in order. */
export interface SchemaComponent {
  readonly name: string;
  readonly migrations: readonly SchemaMigration[];
}

export interface ComponentStatus {
  readonly component: string;
  /** the version applied in the database (0: none) */
  readonly current: number;
  /** the newest version this correio knows */
  readonly latest: number;
}

/** A schema this correio cannot use (newer than it, or a broken migration list). */
export class SchemaVersionError extends Error {
  readonly code = 'ERR_SCHEMA_VERSION';
  constructor(message: string) {
    super(message);
    this.name = 'SchemaVersionError';
  }
}

/** The advisory lock key that serialises migrations: "corr" in ASCII. */
const migrationLock = 0x636f7272;

export interface PgPoolOptions {
  /** connections at most (default 10) */
  readonly max?: number;
  /** shown in pg_stat_activity */
  readonly applicationName?: string;
  /** every transaction read-only (default_transaction_read_only): `correio check` writes nothing */
  readonly readOnly?: boolean;
}

/** Whether a storage url names PostgreSQL (postgres:// or postgresql://). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//.test(url);
}

/**
 * A pool for `url`. A connection that breaks (the server restarted, a failover, the network)
 * must not crash the process: its 'error' event, idle or checked out, is handled here and the
 * query in flight fails (the caller answers 451); the pool drops the connection and opens a
 * new one for the next query.
 */
export function openPgPool(url: string, opts: PgPoolOptions = {}): PgPool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: opts.applicationName ?? 'correio',
    ...(opts.readOnly && { options: '-c default_transaction_read_only=on' }),
  });
  pool.on('error', () => undefined);
  // a checked-out client emits 'error' itself; unhandled, it would be an uncaught exception
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

function latestOf(c: SchemaComponent): number {
  c.migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new SchemaVersionError(`${c.name}: migration ${i + 1} is numbered ${m.version}`);
  });
  return c.migrations.length;
}

const versionTable = `CREATE TABLE IF NOT EXISTS correio_schema (
  component text PRIMARY KEY,
  version integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;

/** Runs `work` with a client of the pool, inside BEGIN … COMMIT (ROLLBACK when it throws). */
export async function inTransaction<T>(pool: PgPool, work: (client: PgClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const out = await work(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Brings every component to its latest version in one transaction under a transaction-level
 * advisory lock (pg_advisory_xact_lock): nodes starting at once wait for the first and then
 * find nothing to do, and it works through a transaction-pooling PgBouncer (a session lock
 * taken and released by statements outside a transaction could land on two server
 * connections and never be released). A failing migration leaves the schema as it was.
 * Returns what each component went from and to.
 */
export async function migrateSchema(
  pool: PgPool,
  components: readonly SchemaComponent[],
): Promise<{ component: string; from: number; to: number }[]> {
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLock]);
    await client.query(versionTable);
    const out: { component: string; from: number; to: number }[] = [];
    for (const c of components) {
      const latest = latestOf(c);
      const r = await client.query<{ version: number }>('SELECT version FROM correio_schema WHERE component = $1', [c.name]);
      const from = r.rows[0]?.version ?? 0;
      if (from > latest) {
        throw new SchemaVersionError(`${c.name} schema version ${from} is newer than this correio (${latest}); upgrade correio`);
      }
      for (const m of c.migrations.slice(from)) {
        await client.query(m.sql);
        await client.query(
          `INSERT INTO correio_schema (component, version) VALUES ($1, $2)
           ON CONFLICT (component) DO UPDATE SET version = excluded.version, updated_at = now()`,
          [c.name, m.version],
        );
      }
      out.push({ component: c.name, from, to: latest });
    }
    return out;
  });
}

/** The version of each component in the database (0 when never migrated). */
export async function schemaStatus(pool: PgPool, components: readonly SchemaComponent[]): Promise<ComponentStatus[]> {
  const exists = await pool.query<{ t: string | null }>("SELECT to_regclass('correio_schema')::text AS t");
  const versions = new Map<string, number>();
  if (exists.rows[0]?.t) {
    const r = await pool.query<{ component: string; version: number }>('SELECT component, version FROM correio_schema');
    for (const row of r.rows) versions.set(row.component, row.version);
  }
  return components.map((c) => ({ component: c.name, current: versions.get(c.name) ?? 0, latest: latestOf(c) }));
}
