/**
 * @module pg-shared-secret
 * A secret generated once for every node sharing PostgreSQL (the directory's migration 5,
 * table `shared_secrets`): the SRS key when `mail_auth.srs_secret` is not configured, so a
 * bounce to an address one node made reverses on any node. The first node to ask writes its
 * candidate (INSERT … ON CONFLICT DO NOTHING), and every node, that one included, then reads
 * the one row that won: nodes starting at once agree.
 * Standards: none.
 * Security: the secret is as secret as the database (as the password hashes and DKIM keys
 *   beside it); it is never logged. A row is never overwritten. A PostgreSQL failure is
 *   thrown as MailError 451 4.3.0.
 * Limitations: a stored secret shorter than 16 characters is refused (set the configuration's
 *   secret, or delete the row to make a new one).
 * findPgSharedSecret only reads (`correio migrate --to file:DIR` leaves the source as it was).
 */
import { randomBytes } from 'node:crypto';
import { openPgPool } from '../util/pg-database.js';
import { pgStoreRunner } from './pg-small-store.js';

/**
 * The secret called `name`: made now unless a node made it before, as `candidate` (`correio
 * migrate` offers a data directory's) or else 32 random octets in base64.
 */
export async function pgSharedSecret(url: string, name: string, candidate = randomBytes(32).toString('base64')): Promise<string> {
  const pool = openPgPool(url, { max: 1, applicationName: 'correio shared secret' });
  let secret: string | undefined;
  try {
    secret = await pgStoreRunner(pool)(async () => {
      await pool.query('INSERT INTO shared_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, candidate]);
      return (await pool.query<{ secret: string }>('SELECT secret FROM shared_secrets WHERE name = $1', [name])).rows[0]?.secret;
    });
  } finally {
    await pool.end().catch(() => undefined);
  }
  if (secret === undefined || secret.length < 16) throw new Error(`PostgreSQL shared_secrets '${name}': the secret is missing or shorter than 16 characters; delete the row to make a new one, or configure one`);
  return secret;
}

/** The secret called `name` if a node made it, else undefined; never writes. */
export async function findPgSharedSecret(url: string, name: string): Promise<string | undefined> {
  const pool = openPgPool(url, { max: 1, applicationName: 'correio shared secret' });
  try {
    return await pgStoreRunner(pool)(async () =>
      (await pool.query<{ secret: string }>('SELECT secret FROM shared_secrets WHERE name = $1', [name])).rows[0]?.secret);
  } finally {
    await pool.end().catch(() => undefined);
  }
}
