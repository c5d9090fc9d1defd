import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MemoryDirectory } from '../../test/helpers/memory-directory.js';
import { MailboxQuota, MaildirFolders, MaildirStore, parseMaildirSize } from './index.js';
import { MaildirSize } from './maildir-size.js';

const msg = (n: number): Readable => Readable.from([Buffer.from(`Subject: ${n}\r\n\r\n${'x'.repeat(100)}\r\n`)]);
/** each message above, as stored (LF line ends) */
const STORED = 'Subject: 1\n\n'.length + 101;

async function withStore(fn: (s: MaildirStore, root: string, clock: { t: number }) => Promise<void>): Promise<void> {
  const mail = await mkdtemp(join(tmpdir(), 'correio-maildirsize-'));
  const clock = { t: Date.now() };
  try {
    await fn(new MaildirStore(mail, { hostname: 'mx', now: () => clock.t }), join(mail, 'dc.uece.br', 'suzana'), clock);
  } finally {
    await rm(mail, { recursive: true, force: true });
  }
}

const user = 'suzana@dc.uece.br';

void test('maildirsize: counted once, then each delivery and removal appends a line; no file, no lines', () =>
  withStore(async (s, root) => {
    await s.deliver(user, msg(1), { uniqueKey: 'a' });
    // nobody asked yet: deliveries write no file
    await assert.rejects(readFile(join(root, 'maildirsize')), { code: 'ENOENT' });
    assert.deepEqual(await s.usage(user, { storage: 10_000, messages: 0 }), { storage: STORED, messages: 1 });
    assert.equal(await readFile(join(root, 'maildirsize'), 'utf8'), `10000S\n${STORED} 1\n`);
    const { key } = await s.deliver(user, msg(2), { uniqueKey: 'b' });
    await s.deliver(user, msg(3), { uniqueKey: 'c', folder: 'Sent' });
    // a redelivery of the same key stores nothing and counts nothing
    await s.deliver(user, msg(3), { uniqueKey: 'c', folder: 'Sent' });
    assert.deepEqual(await s.usage(user), { storage: 3 * STORED, messages: 3 });
    await s.remove(user, key);
    assert.deepEqual(await s.usage(user), { storage: 2 * STORED, messages: 2 });
    assert.equal(await readFile(join(root, 'maildirsize'), 'utf8'), `10000S\n${STORED} 1\n${STORED} 1\n${STORED} 1\n-${STORED} -1\n`);
  }));

void test('maildirsize: computed again when missing, stale (15 min), too long or torn; a deleted folder forgets it', () =>
  withStore(async (s, root, clock) => {
    await s.deliver(user, msg(1), { uniqueKey: 'a' });
    assert.deepEqual(await s.usage(user), { storage: STORED, messages: 1 });
    // another program drops a message in without writing maildirsize
    await writeFile(join(root, 'cur', '1700000000.M1P2.other:2,S'), 'Subject: x\n\nbody\n');
    assert.deepEqual(await s.usage(user), { storage: STORED, messages: 1 }, 'not seen while the file is fresh');
    clock.t += 16 * 60_000;
    assert.deepEqual(await s.usage(user), { storage: STORED + 17, messages: 2 }, 'seen once the file is 15 minutes old');
    // a torn last line (a crash mid-write) is not trusted
    await writeFile(join(root, 'maildirsize'), `\n${STORED} 1\n12`);
    await utimes(join(root, 'maildirsize'), clock.t / 1000, clock.t / 1000);
    assert.deepEqual(await s.usage(user), { storage: STORED + 17, messages: 2 });
    // past 5120 octets
    await writeFile(join(root, 'maildirsize'), `\n${'1 1\n'.repeat(2000)}`);
    await utimes(join(root, 'maildirsize'), clock.t / 1000, clock.t / 1000);
    assert.deepEqual(await s.usage(user), { storage: STORED + 17, messages: 2 });
    // a folder deleted with its mail
    const folders = new MaildirFolders(s);
    await folders.createFolder(user, 'Old');
    await s.deliver(user, msg(5), { uniqueKey: 'f', folder: 'Old' });
    assert.equal((await s.usage(user)).messages, 3);
    await folders.deleteFolder(user, 'Old');
    assert.deepEqual(await s.usage(user), { storage: STORED + 17, messages: 2 });
  }));

void test('maildirsize: a look that found no file holds for its turn only; a recalculation then writes one that deliveries append to', () =>
  withStore(async (s, root) => {
    await s.deliver(user, msg(1), { uniqueKey: 'a' });
    const file = join(root, 'maildirsize');
    const size = new MaildirSize();
    // a burst resumed together: the first look finds no file and the others of that turn do not
    // look again, even at a file another program makes meanwhile (an estimate: see add())
    size.add(root, STORED, 1);
    writeFileSync(file, `\n${STORED} 1\n`);
    size.add(root, 5, 1);
    assert.equal(readFileSync(file, 'utf8'), `\n${STORED} 1\n`, 'not looked for again in the same turn');
    // the next turn looks again and appends
    await new Promise((resolve) => setImmediate(resolve));
    size.add(root, 7, 1);
    assert.equal(await readFile(file, 'utf8'), `\n${STORED} 1\n7 1\n`, 'a later turn finds the file');
    // gone again: a recalculation writes it, and what follows appends to it
    await unlink(file);
    size.add(root, 9, 1);
    await size.recalculate(root);
    size.add(root, 11, 1);
    assert.equal(await readFile(file, 'utf8'), `\n${STORED} 1\n11 1\n`);
  }));

void test('parseMaildirSize: sums, never below zero, torn lines refused', () => {
  assert.deepEqual(parseMaildirSize('100S,3C\n10 1\n-4 -1\n'), { storage: 6, messages: 0 });
  assert.deepEqual(parseMaildirSize('\n5 1\n-9 -2\n'), { storage: 0, messages: 0 });
  assert.equal(parseMaildirSize('\n5 1\nfoo\n'), undefined);
});

void test('MailboxQuota: own limits over the default, 0 = no limit, ok / full / too-big', () =>
  withStore(async (s) => {
    const dir = new MemoryDirectory({ domains: ['dc.uece.br'], users: [user, 'ana@dc.uece.br'] });
    const defaults = { storage: 10 * STORED, messages: 0 };
    const quota = new MailboxQuota({ directory: dir, mailboxes: s, defaults: () => defaults });
    for (let i = 0; i < 9; i++) await s.deliver(user, msg(i), { uniqueKey: `m${i}` });
    assert.deepEqual(await quota.report(user), { limit: defaults, usage: { storage: 9 * STORED, messages: 9 } });
    assert.equal(await quota.check(user, STORED), 'ok');
    assert.equal(await quota.check(user, STORED + 1), 'full');
    assert.equal(await quota.check(user, 10 * STORED + 1), 'too-big');
    await dir.setUserQuota(user, { messages: 9 });
    assert.equal(await quota.check(user, 1), 'full', 'the count limit');
    await dir.setUserQuota(user, { storage: 0, messages: 0 });
    assert.equal(await quota.check(user, 100 * STORED), 'ok', '0: no limit');
    assert.deepEqual((await quota.report(user)).limit, { storage: 0, messages: 0 });
  }));
