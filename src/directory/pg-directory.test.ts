import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MailError } from '../core/index.js';
import { directoryAdminContract, type MakeDirectory } from '../../test/contract/directory-admin.contract.js';
import { directoryLookupContract } from '../../test/contract/directory-lookup.contract.js';
import { createTestDatabase, pgUnavailable, withTestDatabase } from '../../test/helpers/pg.js';
import { migrateSchema, openPgPool, schemaStatus, SchemaVersionError } from '../util/pg-database.js';
import { PgDirectory } from './pg-directory.js';
import { directorySchema } from './pg-directory-schema.js';

const skip = await pgUnavailable();

const makePg: MakeDirectory = async ({ localDomains }) => {
  const db = await createTestDatabase();
  let current = await PgDirectory.open(db.url, { localDomains });
  return {
    dir: current,
    async reopen() {
      await current.close();
      current = await PgDirectory.open(db.url, { localDomains });
      return current;
    },
    async cleanup() {
      await current.close();
      await db.drop();
    },
  };
};

if (skip) {
  void test('PgDirectory contract suites', (t) => t.skip(skip));
} else {
  directoryAdminContract('PgDirectory', makePg);
  directoryLookupContract('PgDirectory', makePg);
}

const isDirectoryFailure = (err: unknown): boolean =>
  err instanceof MailError && err.reply.code === 451 && err.reply.status === '4.3.0' && err.code === 'MAIL_ERR_DIRECTORY';

void describe('PgDirectory on a real PostgreSQL', { skip }, () => {
  void test('nodes opening at once migrate once; two handles see each other at once', () =>
    withTestDatabase(async (db) => {
      const dirs = await Promise.all([0, 1, 2].map(() => PgDirectory.open(db.url, { localDomains: ['dc.uece.br'] })));
      try {
        const pool = openPgPool(db.url);
        try {
          assert.deepEqual(await schemaStatus(pool, [directorySchema]), [{ component: 'directory', current: directorySchema.migrations.length, latest: directorySchema.migrations.length }]);
          const n = await pool.query<{ n: string }>('SELECT count(*) AS n FROM dir_users');
          assert.equal(n.rows[0].n, '1'); // one postmaster, not three
        } finally {
          await pool.end();
        }
        await dirs[0].addUser('suzana@dc.uece.br');
        assert.equal((await dirs[1].findUser('SUZANA@dc.uece.br'))?.address, 'suzana@dc.uece.br');
        await dirs[2].setRole('chefe@dc.uece.br', 'suzana@dc.uece.br');
        assert.equal((await dirs[0].findRole('chefe@dc.uece.br'))?.holder, 'suzana@dc.uece.br');
        assert.deepEqual(await dirs[1].checkIntegrity(), []);
      } finally {
        for (const d of dirs) await d.close();
      }
    }));

  void test('a schema newer than this correio is refused with a 451 naming the versions', () =>
    withTestDatabase(async (db) => {
      await (await PgDirectory.open(db.url)).close();
      const pool = openPgPool(db.url);
      try {
        await pool.query("UPDATE correio_schema SET version = 99 WHERE component = 'directory'");
        await assert.rejects(migrateSchema(pool, [directorySchema]), (e: unknown) => e instanceof SchemaVersionError && /version 99 is newer/.test(e.message));
      } finally {
        await pool.end();
      }
      await assert.rejects(PgDirectory.open(db.url), isDirectoryFailure);
    }));

  void test('an unreachable server and a closed directory are 451 4.3.0, never "not found"', async () => {
    // port 1 on loopback: nothing listens, the connection is refused at once
    await assert.rejects(PgDirectory.open('postgres://postgres@127.0.0.1:1/none'), isDirectoryFailure);
    await withTestDatabase(async (db) => {
      const dir = await PgDirectory.open(db.url, { localDomains: ['example.org'] });
      await dir.close();
      await assert.rejects(dir.findUser('postmaster@example.org'), isDirectoryFailure);
      await assert.rejects(dir.verifyPassword('postmaster@example.org', 'x'), isDirectoryFailure);
    });
  });

  void test('a database that goes away mid-use gives 451, and a new one works again', () =>
    withTestDatabase(async (db) => {
      const dir = await PgDirectory.open(db.url, { localDomains: ['example.org'] });
      try {
        assert.equal(await dir.isLocalDomain('example.org'), true);
        const pool = openPgPool(db.url);
        await pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
        await pool.end();
        // the pool's broken idle connections are dropped; the next lookup either fails 451 or reconnects
        const r = await dir.isLocalDomain('example.org').catch((e: unknown) => e);
        assert.ok(r === true || isDirectoryFailure(r), String(r));
        assert.equal(await dir.isLocalDomain('example.org'), true);
      } finally {
        await dir.close();
      }
    }));
});
