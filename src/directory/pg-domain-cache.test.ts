import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { pgUnavailable, withTestDatabase } from '../../test/helpers/pg.js';
import { PgDirectory } from './pg-directory.js';

/** Asks until `f` is true (a notification crossing nodes is not instant); false after 20 s. */
async function eventually(f: () => Promise<boolean>): Promise<boolean> {
  for (const start = Date.now(); Date.now() - start < 20_000; await new Promise((r) => setTimeout(r, 50))) if (await f()) return true;
  return false;
}

void test('PostgreSQL domain cache: a serving node answers from memory; a domain added on another node, by this one or by hand is known promptly; after its LISTEN session is cut it reads the table again', { skip: await pgUnavailable() }, () =>
  withTestDatabase(async (db) => {
    // refreshMs of an hour: only the notifications can make node A see another's change
    const a = await PgDirectory.open(db.url, { localDomains: ['dc.uece.br'], cacheDomains: { refreshMs: 3_600_000 } });
    const b = await PgDirectory.open(db.url);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      assert.equal(a.domainsCached, true, 'read at open');
      assert.equal(b.domainsCached, false, 'only when asked for (serve)');
      assert.equal(await a.isLocalDomain('DC.uece.br'), true);
      assert.equal(await a.isLocalDomain('novo.example'), false);

      await b.addDomain('novo.example');
      assert.ok(await eventually(() => a.isLocalDomain('novo.example')), 'added on node B: known on node A');
      // known, maybe by a query while the read the notification caused is under way (slow
      // under load): the cache is current again once that read is done, and answers from memory
      assert.ok(await eventually(() => Promise.resolve(a.domainsCached)), 'current again after the notification');
      assert.equal(await a.isLocalDomain('novo.example'), true, 'from memory');

      await a.addDomain('own.example');
      assert.equal(await a.isLocalDomain('own.example'), true, 'its own change at once, before any notification');

      await admin.query("DELETE FROM dir_domains WHERE name = 'novo.example'");
      assert.ok(await eventually(async () => !(await a.isLocalDomain('novo.example'))), 'removed by hand: no longer local on node A');

      // the LISTEN session cut: lookups are right meanwhile (queries), and the cache comes back with what changed
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'correio domains'");
      await admin.query("INSERT INTO dir_domains (name, created_at) VALUES ('while-away.example', 0)");
      assert.ok(await eventually(() => a.isLocalDomain('while-away.example')));
      assert.ok(await eventually(() => Promise.resolve(a.domainsCached)), 'listening again');
      const backends = await admin.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'correio domains'");
      assert.equal(backends.rowCount, 1, 'one LISTEN session again');
      assert.equal(await a.isLocalDomain('while-away.example'), true);
      assert.equal(await a.isLocalDomain('never.example'), false);
    } finally {
      await admin.end();
      await a.close();
      await b.close();
    }
    const left = new pg.Client({ connectionString: db.url });
    await left.connect();
    try {
      const r = await left.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'correio domains'");
      assert.equal(r.rowCount, 0, 'closed with the directory');
    } finally {
      await left.end();
    }
  }));

/**
 * anyOwnQuota on PostgreSQL: a serving node keeps "does any user have limits of their own?"
 * beside its local domains, so the quota gate asks PostgreSQL nothing per RCPT and delivery
 * while nobody has a quota; a quota set on another node, or by hand, reaches it by NOTIFY
 * (directory migration 10). Without the cache (a CLI) the answer is true: look the user up.
 */
void test('PostgreSQL anyOwnQuota: kept by a serving node, a quota set on another node or by hand is known promptly, true while not known', { skip: await pgUnavailable() }, () =>
  withTestDatabase(async (db) => {
    // refreshMs of an hour: only the notifications can make node A see another's change
    const a = await PgDirectory.open(db.url, { localDomains: ['dc.uece.br'], cacheDomains: { refreshMs: 3_600_000 } });
    const b = await PgDirectory.open(db.url);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const quotaOf = (storage: number | null, messages: number | null): Promise<unknown> =>
      admin.query("UPDATE dir_users SET quota_storage = $1, quota_messages = $2 WHERE key = 'ana@dc.uece.br'", [storage, messages]);
    try {
      await b.addUser('suzana@dc.uece.br');
      await b.addUser('ana@dc.uece.br');
      assert.ok(await eventually(async () => !(await a.anyOwnQuota())), 'nobody has limits: node A looks nobody up');
      assert.equal(await b.anyOwnQuota(), true, 'no cache (a CLI): "look the user up"');

      assert.equal(await b.setUserQuota('suzana@dc.uece.br', { messages: 2 }), true);
      assert.ok(await eventually(() => a.anyOwnQuota()), 'set on node B: known on node A');
      assert.equal(await a.setUserQuota('suzana@dc.uece.br', { messages: null }), true);
      assert.ok(await eventually(async () => !(await a.anyOwnQuota())), 'removed on node A');
      assert.equal(await a.setUserQuota('ana@dc.uece.br', { storage: 10 }), true);
      assert.equal(await a.anyOwnQuota(), true, 'its own change at once, before any notification');
      assert.equal(await a.setUserQuota('ana@dc.uece.br', { storage: null }), true);
      assert.ok(await eventually(async () => !(await a.anyOwnQuota())));

      await quotaOf(1000, null);
      assert.ok(await eventually(() => a.anyOwnQuota()), 'set by hand: known on node A');
      await quotaOf(null, null);
      assert.ok(await eventually(async () => !(await a.anyOwnQuota())), 'removed by hand too');

      // the LISTEN session cut: "look the user up" meanwhile, then the answer read again
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'correio domains'");
      await quotaOf(null, 5);
      assert.ok(await eventually(() => a.anyOwnQuota()));
      assert.ok(await eventually(() => Promise.resolve(a.domainsCached)), 'listening again');
      assert.equal(await a.anyOwnQuota(), true, 'what changed while away is read');

      // a dump imported (correio migrate) inserts users: their quotas are heard too
      await quotaOf(null, null);
      assert.ok(await eventually(async () => !(await a.anyOwnQuota())));
      const dump = await b.exportDump();
      await b.importDump({ ...dump, users: dump.users.map((u) => (u.address === 'ana@dc.uece.br' ? { ...u, quotaMessages: 7 } : u)) });
      assert.ok(await eventually(() => a.anyOwnQuota()), 'imported on node B: known on node A');
    } finally {
      await admin.end();
      await a.close();
      await b.close();
    }
  }));
