/**
 * @module storage-schema
 * Every PostgreSQL schema component correio has (the directory's, the queue's, the mailboxes'), in the order
 * they are migrated: what `correio db migrate` applies and `correio db status` reports. Each
 * backend also migrates its own component when it opens, so a node started on an empty
 * database works without a separate step.
 * Standards: none.
 * Security: the storage url (which may hold a password) is never printed; only host, port and
 *   database name are.
 * Limitations: none.
 */
import { directorySchema } from '../directory/index.js';
import { mailSchema } from '../mailbox/index.js';
import { queueSchema } from '../queue/index.js';
import { migrateSchema, openPgPool, schemaStatus, type ComponentStatus, type SchemaComponent } from '../util/index.js';

export const storageComponents: readonly SchemaComponent[] = [directorySchema, queueSchema, mailSchema];

/** "host:port/database" of a postgres url, without user or password (for messages). */
export function describePgUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsable url)';
  }
}

/** Applies every component's pending migrations; what each went from and to. */
export async function migrateStorage(url: string): Promise<{ component: string; from: number; to: number }[]> {
  const pool = openPgPool(url, { max: 1, applicationName: 'correio db' });
  try {
    return await migrateSchema(pool, storageComponents);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** The version of every component in the database and the one this correio expects. */
export async function storageStatus(url: string): Promise<ComponentStatus[]> {
  const pool = openPgPool(url, { max: 1, applicationName: 'correio db' });
  try {
    return await schemaStatus(pool, storageComponents);
  } finally {
    await pool.end().catch(() => undefined);
  }
}
