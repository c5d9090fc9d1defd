/**
 * Issue 14, a message file that exists but cannot be read (read-failure): FETCH, SEARCH (a header
 * key, a text key), SORT and THREAD answer a tagged NO with an RFC 5530 code naming the errno —
 * never a silent non-match, nor the message left out as if expunged — and the failure is
 * published on the error channel with the file's path and errno; the session goes on, and a
 * second session is unaffected. A FETCH BODY[] in a folder that cannot be written sends the data
 * and answers OK, the \Seen it could not set logged with the user, folder, uid and errno. A file removed meanwhile (ENOENT) still behaves as before: the
 * commands succeed without it. The file is made unreadable by chmod 000 (EACCES); as root, the
 * server reads with nobody's effective ids (root reads any mode; a directory in the file's place
 * would do for root too, but the listing drops it as no message, racing the test).
 * Standards: RFC 5530 §3 (SERVERBUG, UNAVAILABLE), RFC 9051 §6.4.4, §6.4.5, RFC 5256.
 * Security: loopback only; test passwords.
 * Limitations: none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { chmod, chown, readdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LineClient } from '../helpers/net.js';
import { testImapUser, withImapServer } from '../helpers/imap-server.js';

/** nobody: the server reads as this user when the test runs as root (root reads any mode) */
const unprivileged = 65534;

/**
 * Runs `fn` with the process's effective ids those of nobody when it runs as root, `dir` given
 * to nobody (as correio serve drops its privileges: app/privileges), so that chmod 000 denies.
 */
async function asUnprivileged<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  if (process.getuid?.() !== 0) return fn();
  const walk = async (p: string): Promise<void> => {
    await chown(p, unprivileged, unprivileged);
    for (const e of await readdir(p, { withFileTypes: true })) if (e.isDirectory()) await walk(join(p, e.name));
    else await chown(join(p, e.name), unprivileged, unprivileged);
  };
  await walk(dir);
  process.setegid!(unprivileged);
  process.seteuid!(unprivileged);
  try {
    return await fn();
  } finally {
    process.seteuid!(0);
    process.setegid!(0);
  }
}

/** Runs `fn` as asUnprivileged does, with the events published on the error channel meanwhile. */
async function withErrorEvents(dir: string, fn: (events: Record<string, unknown>[]) => Promise<void>): Promise<void> {
  const events: Record<string, unknown>[] = [];
  const onError = (e: unknown): void => void events.push(e as Record<string, unknown>);
  subscribe('correio:error', onError);
  try {
    await asUnprivileged(dir, () => fn(events));
  } finally {
    unsubscribe('correio:error', onError);
  }
}

/** Where each command's untagged answer is checked, with the message broken (the second of three). */
const commands: { readonly cmd: string; readonly untagged: RegExp }[] = [
  { cmd: 'FETCH 1:3 (BODY.PEEK[])', untagged: /^\* [13] FETCH / },
  { cmd: 'SEARCH BODY corpo', untagged: /^\* SEARCH/ },
  { cmd: 'SEARCH FROM helvecio', untagged: /^\* SEARCH/ },
  { cmd: 'SORT (SUBJECT) UTF-8 ALL', untagged: /^\* SORT/ },
  { cmd: 'THREAD REFERENCES UTF-8 ALL', untagged: /^\* THREAD/ },
];

async function session(port: number): Promise<LineClient> {
  const c = await LineClient.connect(port, '127.0.0.1');
  await c.readLine();
  c.write(`a LOGIN ${testImapUser} secret\r\nb SELECT INBOX\r\n`);
  await c.readTagged('a');
  assert.ok((await c.readTagged('b')).includes('* 3 EXISTS'));
  return c;
}

/** The file of the message delivered with unique key `key`. */
async function fileOf(inbox: string, key: string): Promise<string> {
  for (const sub of ['new', 'cur']) for (const name of await readdir(join(inbox, sub))) if (name.startsWith(key)) return join(inbox, sub, name);
  throw new Error(`no file for ${key}`);
}

async function deliverThree(store: Parameters<Parameters<typeof withImapServer>[0]>[0]['store']): Promise<void> {
  for (const [i, who] of ['suzana', 'helvecio', 'pascal'].entries()) {
    await store.deliver(testImapUser, Buffer.from(`From: ${who}@dc.uece.br\r\nSubject: m${i}\r\nMessage-ID: <m${i}@x>\r\n\r\ncorpo ${i}\r\n`), { uniqueKey: `m${i}` });
  }
}

void test('a message file that cannot be read (chmod 000: EACCES): FETCH, SEARCH, SORT and THREAD answer NO [SERVERBUG] naming it, logged with its path; the sessions go on', () =>
  withImapServer(
    async ({ port, store, mailRoot }) => {
      await deliverThree(store);
      await withErrorEvents(dirname(mailRoot), async (events) => {
          const a = await session(port);
          const b = await session(port);
          try {
            // (after SELECT, which moves new/ to cur/)
            const file = await fileOf(store.mailboxPath(testImapUser, ''), 'm1');
            await chmod(file, 0o000);
            for (const [i, { cmd, untagged }] of commands.entries()) {
              const before = events.length;
              a.write(`c${i} ${cmd}\r\n`);
              const lines = await a.readTagged(`c${i}`, 60_000);
              const last = lines.at(-1) ?? '(closed)';
              assert.match(last, new RegExp(`^c${i} NO \\[SERVERBUG\\] .*\\(EACCES\\)`), `${cmd}: ${lines.join(' | ')}`);
              assert.doesNotMatch(last, /internal error/i);
              // no partial SEARCH/SORT/THREAD result; FETCH still sends the readable messages
              const got = lines.filter((l) => untagged.test(l));
              assert.equal(got.length, cmd.startsWith('FETCH') ? 2 : 0, `${cmd}: ${lines.join(' | ')}`);
              const logged = events.slice(before);
              assert.ok(
                logged.some((e) => e.path === file && e.errno === 'EACCES' && typeof e.where === 'string' && e.where.startsWith('imap ')),
                `${cmd}: logged with the path and errno: ${JSON.stringify(logged.map((e) => ({ ...e, error: String(e.error) })))}`,
              );
              // the session goes on; the neighbour on the same mailbox is unaffected
              a.write(`n${i} NOOP\r\n`);
              assert.match((await a.readTagged(`n${i}`)).at(-1) ?? '', new RegExp(`^n${i} OK`));
              b.write(`m${i} FETCH 3 (BODY.PEEK[])\r\n`);
              assert.match((await b.readTagged(`m${i}`)).at(-1) ?? '', new RegExp(`^m${i} OK`));
            }
          } finally {
            a.close();
            b.close();
          }
      });
    },
    { prefix: 'correio-imap-unreadable-' },
  ));

void test('a message file removed meanwhile (ENOENT) is still left out: FETCH, SEARCH, SORT and THREAD succeed without it', () =>
  withImapServer(
    async ({ port, store }) => {
      await deliverThree(store);
      const a = await session(port);
      try {
        await unlink(await fileOf(store.mailboxPath(testImapUser, ''), 'm1'));
        for (const [i, { cmd }] of commands.entries()) {
          a.write(`c${i} ${cmd}\r\n`);
          const lines = await a.readTagged(`c${i}`, 60_000);
          // the view may learn of the removal first (an EXPUNGE), or meet it at the read
          assert.match(lines.at(-1) ?? '', new RegExp(`^c${i} (OK|NO \\[EXPUNGEISSUED\\]) `), `${cmd}: ${lines.join(' | ')}`);
          if (cmd.startsWith('SEARCH FROM')) assert.ok(lines.includes('* SEARCH'), lines.join(' | '));
        }
      } finally {
        a.close();
      }
    },
    { prefix: 'correio-imap-removed-' },
  ));

void test('FETCH BODY[] in a folder that cannot be written (chmod 555: EACCES): the data is sent, the answer OK, the \\Seen not set is logged with the user, folder, uid and errno', () =>
  withImapServer(
    async ({ port, store, mailRoot }) => {
      await deliverThree(store);
      await withErrorEvents(dirname(mailRoot), async (events) => {
          const a = await session(port);
          const inbox = store.mailboxPath(testImapUser, '');
          const dirs = [inbox, ...(await readdir(inbox, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(inbox, e.name))];
          try {
            for (const d of dirs) await chmod(d, 0o555);
            a.write('f1 FETCH 2 (BODY[])\r\n');
            const lines = await a.readTagged('f1', 60_000);
            assert.match(lines.at(-1) ?? '', /^f1 OK/, lines.join(' | '));
            assert.ok(lines.some((l) => l.includes('corpo 1')), lines.join(' | '));
            const logged = events.filter((e) => e.where === 'imap FETCH \\Seen');
            assert.equal(logged.length, 1, JSON.stringify(events.map((e) => ({ ...e, error: String(e.error) }))));
            assert.equal(logged[0]?.user, testImapUser);
            assert.equal(logged[0]?.folder, 'INBOX');
            assert.equal(logged[0]?.uid, 2);
            assert.equal(logged[0]?.errno, 'EACCES');
          } finally {
            for (const d of dirs) await chmod(d, 0o755);
            a.close();
          }
      });
    },
    { prefix: 'correio-imap-seen-unwritable-' },
  ));
