/**
 * Issue 14, CATENATE (RFC 4469) of a message read from its file as the store writes the result
 * (catenate CatenatedStream, 6feeeb6; here from 10 octets on, the server's `appendStreamFrom`,
 * so the message can be small): what is refused stores nothing. Over the APPENDLIMIT: NO [TOOBIG];
 * over the user's own quota (smaller than the copy): NO [OVERQUOTA]; the message's file failing
 * after its URL was checked, while the copy is written: truncated (NO [UNAVAILABLE], cut short),
 * a read error after its first octets (EIO: NO [UNAVAILABLE]) and removed (ENOENT: NO [BADURL]).
 * Each time STATUS MESSAGES of the target folder is unchanged and its tmp/ is empty; the same
 * command then succeeds once the cause is gone (the limit or quota raised, the read error not
 * made again), so the refusal was the cause's. The failures are
 * made deterministic by the folder store the server is given: its `open` of the URL's message is
 * passed through the first time (the URL's check) and broken the second (the copy's read).
 * Standards: RFC 4469 §6 (TOOBIG, nothing appended), RFC 9208 §5.3 (OVERQUOTA), RFC 5530.
 * Security: loopback only; test passwords.
 * Limitations: Maildir store only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, readdir, readFile, rm, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MailboxQuota, MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer, type ImapServerOptions } from '../../src/server/imap/index.js';
import { LineClient } from '../helpers/net.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';

const user = 'suzana@dc.uece.br';
const source = Buffer.from(`From: Ana <ana@example.net>\r\nTo: ${user}\r\nSubject: planilha\r\n\r\n${'linha de dados\r\n'.repeat(200)}`);
const prefix = 'X-Copia: sim\r\n';
const copySize = prefix.length + source.length;

/** What the second open of the URL's message (the copy's read) does; 'pass' leaves it alone. */
type Sabotage = 'pass' | 'truncate' | 'eio' | 'unlink';

interface Site {
  readonly c: LineClient;
  readonly store: MaildirStore;
  readonly directory: MemoryDirectory;
  /** sabotage the next copy's read of the URL's message */
  arm: (how: Sabotage) => void;
}

/** The path of INBOX's only message file. */
async function sourcePath(store: MaildirStore): Promise<string> {
  const inbox = store.mailboxPath(user, '');
  for (const sub of ['cur', 'new']) {
    const names = await readdir(join(inbox, sub));
    if (names.length > 0) return join(inbox, sub, names[0]);
  }
  throw new Error('no message in INBOX');
}

async function withSite(opts: (store: MaildirStore, directory: MemoryDirectory) => Partial<ImapServerOptions>, fn: (s: Site) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'correio-big-catenate-'));
  const store = new MaildirStore(root, { hostname: 'mx' });
  await store.deliver(user, Readable.from([source]), { uniqueKey: 'fonte' });
  const directory = new MemoryDirectory({ domains: ['dc.uece.br'], users: [user] });
  const folders = new MaildirFolders(store);
  let armed: Sabotage = 'pass';
  let opensSinceArmed = 0;
  const broken = new Proxy(folders, {
    get(target, p) {
      if (p === 'open') {
        return async (...a: Parameters<MaildirFolders['open']>) => {
          if (armed === 'pass' || a[1] !== 'INBOX' || ++opensSinceArmed < 2) return target.open(...a);
          const how = armed;
          armed = 'pass';
          const path = await sourcePath(store);
          if (how === 'truncate') await truncate(path, 100);
          if (how === 'unlink') await unlink(path);
          if (how !== 'eio') return target.open(...a);
          // the first 100 octets, then the device fails
          const head = (await readFile(path)).subarray(0, 100);
          return Readable.from(
            (async function* () {
              yield head;
              await new Promise((r) => setImmediate(r));
              throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read', path });
            })(),
          );
        };
      }
      const v = Reflect.get(target, p) as unknown;
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
    },
  });
  const server = new ImapServer({
    hostname: 'mx.dc.uece.br',
    folders: broken,
    authenticate: (u, pw) => Promise.resolve(u === user && pw === 'secret'),
    authFailureDelayMs: 1,
    appendStreamFrom: 10,
    ...opts(store, directory),
  });
  const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
  const c = await LineClient.connect(bound.port);
  try {
    await c.readLine();
    assert.match((await run(c, `LOGIN ${user} secret`)).at(-1)!, /OK/);
    assert.match((await run(c, 'CREATE Copia')).at(-1)!, /OK/);
    await fn({
      c,
      store,
      directory,
      arm: (how) => {
        armed = how;
        opensSinceArmed = 0;
      },
    });
  } finally {
    c.socket.destroy();
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

let tags = 0;
/** The lines of one command's answer, its tagged line last. */
async function run(c: LineClient, cmd: string): Promise<string[]> {
  const tag = `t${++tags}`;
  c.write(`${tag} ${cmd}\r\n`);
  return c.readTagged(tag, 30_000);
}

/** APPEND Copia CATENATE (TEXT prefix, URL of INBOX's message): the tagged answer. */
async function catenate(c: LineClient): Promise<string> {
  const status = (await run(c, 'STATUS INBOX (UIDNEXT)')).join('\n');
  const uid = Number(/UIDNEXT (\d+)/.exec(status)?.[1] ?? assert.fail(status)) - 1;
  return (await run(c, `APPEND Copia CATENATE (TEXT {${prefix.length}+}\r\n${prefix} URL "/INBOX/;UID=${uid}")`)).at(-1)!;
}

/** Nothing stored in Copia: STATUS MESSAGES as `messages`, no file left in its tmp/. */
async function assertStored(s: Site, messages: number, what: string): Promise<void> {
  assert.match((await run(s.c, 'STATUS Copia (MESSAGES)')).join('\n'), new RegExp(`MESSAGES ${messages}\\)`), `${what}: STATUS MESSAGES`);
  const tmp = join(s.store.mailboxPath(user, 'Copia'), 'tmp');
  assert.deepEqual(await readdir(tmp), [], `${what}: nothing left in tmp/`);
}

void test('CATENATE of a streamed message over the APPENDLIMIT: NO [TOOBIG], nothing stored; under it, stored', async () => {
  await withSite(
    () => ({ appendLimit: copySize - 1 }),
    async (s) => {
      assert.match(await catenate(s.c), /^t\d+ NO \[TOOBIG\]/);
      await assertStored(s, 0, 'TOOBIG');
    },
  );
  await withSite(
    () => ({ appendLimit: copySize }),
    async (s) => {
      assert.match(await catenate(s.c), /^t\d+ OK \[APPENDUID \d+ \d+\]/);
      await assertStored(s, 1, 'at the limit');
    },
  );
});

void test('CATENATE of a streamed message over the user\'s quota (smaller than the copy): NO [OVERQUOTA], nothing stored; with the quota raised, stored', async () => {
  await withSite(
    (store, directory) => ({ quota: new MailboxQuota({ directory, mailboxes: store, defaults: () => ({ storage: 0, messages: 0 }) }) }),
    async (s) => {
      await s.directory.setUserQuota(user, { storage: copySize - 1 });
      assert.match(await catenate(s.c), /^t\d+ NO \[OVERQUOTA\]/);
      await assertStored(s, 0, 'OVERQUOTA');
      await s.directory.setUserQuota(user, { storage: 10 * copySize });
      assert.match(await catenate(s.c), /^t\d+ OK \[APPENDUID/);
      await assertStored(s, 1, 'under the quota');
    },
  );
});

void test('CATENATE of a streamed message whose file fails after its URL was checked (truncated, a read error mid-copy, removed): a NO, nothing stored; then, left alone, stored', async () => {
  const events: unknown[] = [];
  const onError = (e: unknown): void => void events.push(e);
  subscribe('correio:error', onError);
  try {
    for (const [how, answer] of [
      ['truncate', /^t\d+ NO \[UNAVAILABLE\] A message of the URL was cut short meanwhile/],
      ['eio', /^t\d+ NO \[UNAVAILABLE\] Message cannot be read now \(EIO\)/],
      ['unlink', /^t\d+ NO \[BADURL \/INBOX\/;UID=\d+\]/],
    ] as const) {
      await withSite(
        () => ({}),
        async (s) => {
          s.arm(how);
          assert.match(await catenate(s.c), answer, how);
          await assertStored(s, 0, how);
          // (a file removed or cut short is not the message any more)
          if (how !== 'eio') return;
          assert.match(await catenate(s.c), /^t\d+ OK \[APPENDUID/, `${how}: the same command, left alone`);
          await assertStored(s, 1, `${how}: left alone`);
        },
      );
    }
    assert.ok(events.some((e) => (e as { errno?: string }).errno === 'EIO'), 'the EIO published on the error channel');
  } finally {
    unsubscribe('correio:error', onError);
  }
});
