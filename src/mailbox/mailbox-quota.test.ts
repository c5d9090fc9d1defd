/**
 * The quota gate over the real SQLite directory: while no user has limits of their own it looks
 * nobody up (the directory's anyOwnQuota, cached against PRAGMA data_version and this
 * connection's total_changes()), and a quota set afterwards applies at the next check: at once
 * through this connection, from the next turn of the event loop through another (the CLI's; the
 * pragma is read once per turn, directory/sqlite-cached-value.ts). The cache is never older than
 * that.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { DirectoryLookup } from '../core/index.js';
import { SqliteDirectory } from '../directory/index.js';
import { MailboxQuota, MaildirStore } from './index.js';

const user = 'suzana@dc.uece.br';
const msg = (n: number): Readable => Readable.from([Buffer.from(`Subject: ${n}\r\n\r\nbody\r\n`)]);

/** `fn` with a temp dir and its SQLite directory opened twice: the server's and another process's (the CLI's); `user` added. */
async function withDirectories(fn: (dir: string, server: SqliteDirectory, cli: SqliteDirectory) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-quota-'));
  const file = join(dir, 'directory.sqlite');
  const server = await SqliteDirectory.open(file, { localDomains: ['dc.uece.br'] });
  const cli = await SqliteDirectory.open(file);
  try {
    await server.addUser(user);
    await fn(dir, server, cli);
  } finally {
    await cli.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The next turn of the event loop: another connection's commit is seen from there on. */
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

void test('MailboxQuota: no user row read while nobody has a quota; one set later applies: here at once, by another process from the next turn', () =>
  withDirectories(async (dir, server, cli) => {
    await server.addUser('ana@dc.uece.br');
    let lookups = 0;
    const counted: Pick<DirectoryLookup, 'findUser' | 'anyOwnQuota'> = {
      findUser: (a) => (lookups++, server.findUser(a)),
      anyOwnQuota: () => server.anyOwnQuota(),
    };
    const mailboxes = new MaildirStore(join(dir, 'mail'), { hostname: 'mx' });
    let defaults = { storage: 0, messages: 0 };
    const quota = new MailboxQuota({ directory: counted, mailboxes, defaults: () => defaults });
    await mailboxes.deliver(user, msg(1), { uniqueKey: 'a' });
    await mailboxes.deliver(user, msg(2), { uniqueKey: 'b' });

    for (let i = 0; i < 5; i++) assert.equal(await quota.check(user, 100), 'ok');
    assert.equal(lookups, 0, 'no quota anywhere: nobody looked up');
    defaults = { storage: 0, messages: 2 };
    assert.equal(await quota.check(user, 100), 'full', 'the default applies without a lookup');
    assert.equal(lookups, 0);
    defaults = { storage: 0, messages: 0 };

    // another process (the CLI) sets a quota: a check in the next turn sees it
    assert.equal(await cli.setUserQuota(user, { messages: 2 }), true);
    await nextTurn();
    assert.equal(await quota.check(user, 100), 'full', "another connection's quota applies from the next turn");
    assert.ok(lookups > 0, 'now the user is looked up');
    assert.equal(await quota.check('ana@dc.uece.br', 100), 'ok', 'others keep the default');

    // removed by the other process, set again through this connection
    assert.equal(await cli.setUserQuota(user, { messages: null }), true);
    await nextTurn();
    assert.equal(await quota.check(user, 100), 'ok');
    lookups = 0;
    assert.equal(await quota.check(user, 100), 'ok');
    assert.equal(lookups, 0, 'no quota left: no lookups again');
    assert.equal(await server.setUserQuota(user, { storage: 50 }), true);
    assert.equal(await quota.check(user, 100), 'too-big', "this connection's own change applies at once");
  }));

void test('MailboxQuota: a caller that gives the user record (the local transport) costs no directory read; its own limits apply', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-quota-'));
  try {
    let asked = 0;
    const directory: Pick<DirectoryLookup, 'findUser' | 'anyOwnQuota'> = {
      findUser: () => (asked++, Promise.resolve(undefined)),
      anyOwnQuota: () => (asked++, Promise.resolve(true)),
    };
    const mailboxes = new MaildirStore(join(dir, 'mail'), { hostname: 'mx' });
    const quota = new MailboxQuota({ directory, mailboxes, defaults: () => ({ storage: 0, messages: 5 }) });
    await mailboxes.deliver(user, msg(1), { uniqueKey: 'a' });
    await mailboxes.deliver(user, msg(2), { uniqueKey: 'b' });
    assert.equal(await quota.check(user, 10, 1, { quota: { messages: 2 } }), 'full', "the record's own message limit");
    assert.equal(await quota.check(user, 10, 1, { quota: { storage: 5 } }), 'too-big', "its storage limit, the default's count kept");
    assert.equal(await quota.check(user, 10, 1, {}), 'ok', 'no limits of its own: the default (5 messages)');
    assert.equal(asked, 0, 'the directory was never asked');
    assert.equal(await quota.check(user, 10, 1), 'ok');
    assert.ok(asked > 0, 'without the record the gate looks');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('MailboxQuota.checkNow: "ok" without a promise only while nobody is limited; a quota set by another process makes it defer to check at once', () =>
  withDirectories(async (dir, server, cli) => {
    const mailboxes = new MaildirStore(join(dir, 'mail'), { hostname: 'mx' });
    let defaults = { storage: 0, messages: 0 };
    const quota = new MailboxQuota({ directory: server, mailboxes, defaults: () => defaults });
    await mailboxes.deliver(user, msg(1), { uniqueKey: 'a' });
    assert.equal(quota.checkNow(), 'ok', 'nobody limited');
    defaults = { storage: 0, messages: 1 };
    assert.equal(quota.checkNow(), undefined, 'a default limit: the usage must be read');
    assert.equal(await quota.check(user, 10), 'full');
    defaults = { storage: 0, messages: 0 };
    assert.equal(await cli.setUserQuota(user, { messages: 1 }), true);
    await nextTurn();
    assert.equal(quota.checkNow(), undefined, "another process's quota: the user must be looked up");
    assert.equal(await quota.check(user, 10), 'full');
    assert.equal(await cli.setUserQuota(user, { messages: null }), true);
    await nextTurn();
    assert.equal(quota.checkNow(), 'ok');
    // a directory that cannot tell without a promise: always deferred
    const asking = new MailboxQuota({ directory: { findUser: (a) => server.findUser(a), anyOwnQuota: () => server.anyOwnQuota() }, mailboxes, defaults: () => defaults });
    assert.equal(asking.checkNow(), undefined);
  }));
