import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MailError } from '../core/index.js';
import { directoryAdminContract, type MakeDirectory } from '../../test/contract/directory-admin.contract.js';
import { directoryLookupContract } from '../../test/contract/directory-lookup.contract.js';
import { runCli } from '../../test/helpers/cli.js';
import { SqliteDirectory } from './index.js';

const makeSqlite: MakeDirectory = async ({ localDomains }) => {
  const tmp = await mkdtemp(join(tmpdir(), 'correio-dir-'));
  const file = join(tmp, 'var', 'directory.sqlite');
  let current = await SqliteDirectory.open(file, { localDomains });
  return {
    dir: current,
    async reopen() {
      await current.close();
      current = await SqliteDirectory.open(file, { localDomains });
      return current;
    },
    async cleanup() {
      await current.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
};
directoryAdminContract('SqliteDirectory', makeSqlite);
directoryLookupContract('SqliteDirectory', makeSqlite);

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'correio-dir-'));
  try {
    await fn(tmp);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A directory at tmp/directory.sqlite with the local domain example.org, closed and removed after `fn`. */
function withDirectory(fn: (dir: SqliteDirectory, file: string, tmp: string) => Promise<void>): Promise<void> {
  return withTmp(async (tmp) => {
    const file = join(tmp, 'directory.sqlite');
    const dir = await SqliteDirectory.open(file, { localDomains: ['example.org'] });
    try {
      await fn(dir, file, tmp);
    } finally {
      await dir.close();
    }
  });
}

/** Runs one statement through a connection of its own, as another process would, and closes it. */
function runElsewhere(file: string, sql: string, ...params: unknown[]): void {
  const other = new Database(file);
  try {
    other.prepare(sql).run(...params);
  } finally {
    other.close();
  }
}

const isDirectoryFailure = (err: unknown): boolean =>
  err instanceof MailError && err.reply.code === 451 && err.reply.status === '4.3.0' && err.code === 'MAIL_ERR_DIRECTORY';

void test('a locked database (SQLITE_BUSY) is a 451 4.3.0 directory failure, not "not found"', () =>
  withTmp(async (tmp) => {
    const file = join(tmp, 'directory.sqlite');
    const dir = await SqliteDirectory.open(file, { localDomains: ['example.org'], busyTimeoutMs: 20 });
    const other = new Database(file);
    try {
      other.exec('BEGIN EXCLUSIVE');
      // WAL readers are not blocked by a writer, but EXCLUSIVE in WAL blocks other writers
      await assert.rejects(dir.addUser('suzana@example.org'), isDirectoryFailure);
      await assert.rejects(dir.setRole('r@example.org', 'suzana@example.org'), isDirectoryFailure);
      other.exec('ROLLBACK');
      await dir.addUser('suzana@example.org');
      assert.ok(await dir.findUser('suzana@example.org'));
    } finally {
      other.close();
      await dir.close();
    }
  }));

void test('a corrupt database file is a 451 4.3.0 directory failure at open', () =>
  withTmp(async (tmp) => {
    const file = join(tmp, 'directory.sqlite');
    await writeFile(file, Buffer.alloc(8192, 'this is not a database '));
    await assert.rejects(SqliteDirectory.open(file, { localDomains: ['example.org'] }), isDirectoryFailure);
  }));

void test('lookups on a closed directory fail with 451, never answer "not found"', () =>
  withTmp(async (tmp) => {
    const dir = await SqliteDirectory.open(join(tmp, 'd.sqlite'), { localDomains: ['example.org'] });
    await dir.close();
    await assert.rejects(dir.findUser('postmaster@example.org'), isDirectoryFailure);
    await assert.rejects(dir.isLocalDomain('example.org'), isDirectoryFailure);
    await assert.rejects(dir.findAlias('x@example.org'), isDirectoryFailure);
    await assert.rejects(dir.verifyPassword('postmaster@example.org', 'x'), isDirectoryFailure);
  }));

void test('schema: WAL mode, a version table, and a newer schema is refused', () =>
  withTmp(async (tmp) => {
    const file = join(tmp, 'd.sqlite');
    const dir = await SqliteDirectory.open(file, { localDomains: ['example.org'] });
    assert.deepEqual(await dir.checkIntegrity(), []);
    await dir.close();
    const db = new Database(file);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.prepare('SELECT version FROM schema_version').get() !== undefined, true);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
      (r) => r.name,
    );
    assert.deepEqual(tables, ['aliases', 'domains', 'list_members', 'lists', 'roles', 'schema_version', 'users']);
    db.prepare('UPDATE schema_version SET version = 999').run();
    db.close();
    await assert.rejects(SqliteDirectory.open(file), isDirectoryFailure);
  }));

void test('a second open of the same file sees changes at once (CLI while the server runs)', () =>
  withTmp(async (tmp) => {
    const file = join(tmp, 'd.sqlite');
    const server = await SqliteDirectory.open(file, { localDomains: ['dc.uece.br'] });
    const cli = await SqliteDirectory.open(file, { localDomains: ['dc.uece.br'] });
    try {
      await cli.setRole('chefe@dc.uece.br', 'suzana@dc.uece.br');
      assert.equal((await server.findRole('chefe@dc.uece.br'))?.holder, 'suzana@dc.uece.br');
      await cli.setRole('chefe@dc.uece.br', 'jacques@dc.uece.br');
      assert.equal((await server.findRole('chefe@dc.uece.br'))?.holder, 'jacques@dc.uece.br');
      assert.ok((await readFile(file)).subarray(0, 16).toString().startsWith('SQLite format 3'));
    } finally {
      await cli.close();
      await server.close();
    }
  }));

void test('another connection\'s commit is seen from the next turn: data_version is read once per turn', () =>
  withDirectory(async (dir, file) => {
    assert.equal(await dir.isLocalDomain('late.example'), false);
    // committed in the turn that already read the version
    runElsewhere(file, 'INSERT INTO domains (name, created_at) VALUES (?, ?)', 'late.example', Date.now());
    assert.equal(await dir.isLocalDomain('late.example'), false, 'the same turn keeps its version');
    await new Promise((r) => setImmediate(r));
    assert.equal(await dir.isLocalDomain('late.example'), true, 'the next turn reads it again');
    // this handle's own write is seen in the same turn
    await dir.addDomain('own-now.example');
    assert.equal(await dir.isLocalDomain('own-now.example'), true);
  }));

void test('a local name\'s records are kept until the file changes: another connection\'s from the next turn, this handle\'s own at once', () =>
  withDirectory(async (dir, file) => {
    const other = await SqliteDirectory.open(file, { localDomains: ['example.org'] });
    try {
      const first = await dir.findName('info', 'example.org');
      assert.deepEqual(first, {});
      // the CLI's handle, committed in the turn that already read the version
      await other.setAlias('info@example.org', ['ana@example.org']);
      assert.equal(await dir.findName('info', 'example.org'), first, 'the same turn keeps its answer');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual((await dir.findName('info', 'example.org')).alias?.targets, ['ana@example.org'], 'the next turn reads it again');
      // this handle's own writes, seen in the same turn
      assert.equal(await dir.deleteAlias('info@example.org'), true);
      assert.equal((await dir.findName('info', 'example.org')).alias, undefined);
      await dir.addUser('info@example.org');
      assert.equal((await dir.findName('info', 'example.org')).user?.address, 'info@example.org');
      // a write that changes no row keeps the answer
      const kept = await dir.findName('info', 'example.org');
      await dir.addDomain('example.org');
      assert.equal(await dir.findName('info', 'example.org'), kept);
    } finally {
      await other.close();
    }
  }));

void test('isLocalDomain answers from memory yet sees at once a domain another process adds or removes, and its own additions', () =>
  withDirectory(async (dir, file, tmp) => {
    assert.equal(await dir.isLocalDomain('example.org'), true);
    assert.equal(await dir.isLocalDomain('new.example'), false);
    // the CLI, another process, with a configuration that names one more local domain
    const config = join(tmp, 'correio.toml');
    await writeFile(config, `hostname = "mx.example.org"\ndata_dir = "${tmp}"\nlocal_domains = ["example.org", "new.example"]\n`);
    const added = await runCli(['user', 'add', 'ana@new.example', '--config', config]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(await dir.isLocalDomain('NEW.example'), true);
    assert.ok(await dir.findUser('ana@new.example'));
    // a removal by yet another process (no command removes a domain; SQL does)
    const removed = await runCli(['user', 'delete', 'ana@new.example', '--config', config]);
    assert.equal(removed.code, 0, removed.stderr);
    runElsewhere(file, 'DELETE FROM domains WHERE name = ?', 'new.example');
    assert.equal(await dir.isLocalDomain('new.example'), false);
    // this handle's own write: data_version does not change for it
    await dir.addDomain('own.example');
    assert.equal(await dir.isLocalDomain('own.example'), true);
    assert.equal(await dir.isLocalDomain('example.org'), true);
  }));
