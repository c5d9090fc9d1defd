/**
 * @module test-pg
 * A PostgreSQL database of its own for a test: `CREATE DATABASE correio_t_<random>` on the
 * server of $CORREIO_TEST_PG (default postgres://postgres@127.0.0.1:5432/test, trust auth),
 * dropped afterwards, so test files run in parallel without meeting. When no server answers
 * (a user's fresh machine), pgUnavailable() says why and the test skips with that message.
 * Security: test only; database names are random lower-case hex, never from input.
 * Limitations: needs CREATEDB for the connecting role.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const adminUrl = process.env.CORREIO_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

let probe: Promise<string | undefined> | undefined;

/** undefined when PostgreSQL answers; else the reason to skip. */
export function pgUnavailable(): Promise<string | undefined> {
  probe ??= (async () => {
    const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return undefined;
    } catch (err) {
      return `PostgreSQL not reachable at ${adminUrl.replace(/:[^:@/]*@/, '@')} (${(err as Error).message}); set CORREIO_TEST_PG to run this`;
    } finally {
      await c.end().catch(() => undefined);
    }
  })();
  return probe;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export interface TestDatabase {
  /** a url for correio's [storage] url */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** Creates an empty database of its own. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `correio_t_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    drop: () => admin(async (c) => void (await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

/** Runs fn with a database of its own, dropped however fn ends. */
export async function withTestDatabase<T>(fn: (db: TestDatabase) => Promise<T>): Promise<T> {
  const db = await createTestDatabase();
  try {
    return await fn(db);
  } finally {
    await db.drop();
  }
}

/** The number column `n` of the first row of `sql`, on a connection of its own. */
export async function pgScalar(url: string, sql: string, values: unknown[] = []): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>(sql, values)).rows[0].n);
  } finally {
    await c.end();
  }
}
