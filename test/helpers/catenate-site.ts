/**
 * @module test-catenate-site
 * An in-process IMAP server over a real store (Maildir, or PostgreSQL in a database of its own)
 * whose INBOX holds one message, the source of the CATENATE tests' URLs, and whose folder store
 * breaks a chosen open of that message on demand: the test arms it, and the nth open of an
 * INBOX message from then on (counted by the test: the URL's check, a section's tree, the copy's
 * read) is sabotaged. `leftovers` says what a failed APPEND left in the store: files in the
 * target's tmp/, new/, cur/ and batch journals (Maildir), or rows (PostgreSQL: messages, bodies,
 * chunks), so a refusal that stored anything shows.
 * Security: test only; loopback; test passwords.
 * Limitations: one user; the source is INBOX's only message.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, truncate, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { MailFolderStore } from '../../src/core/index.js';
import { MaildirFolders, MaildirStore, PgMailFolders, PgMailStore } from '../../src/mailbox/index.js';
import { ImapServer, type ImapServerOptions } from '../../src/server/imap/index.js';
import { LineClient } from './net.js';
import { MemoryDirectory } from './memory-directory.js';
import { createTestDatabase, pgScalar } from './pg.js';

export const user = 'suzana@dc.uece.br';

/**
 * What the armed open does. Before the message is opened: `truncate` cuts its file to `at`
 * octets, `unlink` removes it (the store's remove for PostgreSQL). While it is read: `eio`
 * gives `at` octets and then fails as a device does (EIO); `cut` cuts the file to `at` octets
 * once its first chunk was read (PostgreSQL: the stream ends there); `unlink-mid` removes the
 * file once its first chunk was read (an open file is still read whole). 'pass' leaves it alone.
 */
export type Sabotage = 'pass' | 'truncate' | 'unlink' | 'eio' | 'cut' | 'unlink-mid';

export type StoreKind = 'maildir' | 'pg';

export interface CatenateSite {
  readonly c: LineClient;
  readonly kind: StoreKind;
  readonly directory: MemoryDirectory;
  /** the Maildir store (undefined for PostgreSQL) */
  readonly maildir: MaildirStore | undefined;
  /** the UID of the source message in INBOX */
  readonly uid: number;
  /** sabotage the `nth` open (default 2: the URL's check, then the copy's read) of the source from now on */
  arm: (how: Sabotage, opts?: { nth?: number; at?: number }) => void;
  /** how many sabotages were made */
  readonly fired: () => number;
  /** what is in the store beyond its messages' own: files or rows left by a failed append */
  leftovers: (folder: string) => Promise<string[]>;
}

let tags = 0;
/** The lines of one command's answer, its tagged line last. */
export async function run(c: LineClient, cmd: string | Buffer): Promise<string[]> {
  const tag = `t${++tags}`;
  c.write(Buffer.isBuffer(cmd) ? Buffer.concat([Buffer.from(`${tag} `), cmd, Buffer.from('\r\n')]) : `${tag} ${cmd}\r\n`);
  return c.readTagged(tag, 60_000);
}

/** The stream of `src` given up to `at` octets, then `after` (which may throw or end it). */
function upTo(src: Readable, at: number, after: () => Promise<void>): Readable {
  return Readable.from(
    (async function* () {
      let n = 0;
      try {
        for await (const chunk of src as AsyncIterable<Buffer>) {
          if (n + chunk.length >= at) {
            yield chunk.subarray(0, at - n);
            break;
          }
          n += chunk.length;
          yield chunk;
        }
        await after();
      } finally {
        src.destroy();
      }
    })(),
  );
}

/** The stream of `src`, with `then` run once its first chunk was given. */
function afterFirst(src: Readable, then: () => Promise<void>): Readable {
  return Readable.from(
    (async function* () {
      let first = true;
      try {
        for await (const chunk of src as AsyncIterable<Buffer>) {
          yield chunk;
          if (first) await then();
          first = false;
        }
      } finally {
        src.destroy();
      }
    })(),
  );
}

interface Backing {
  readonly folders: MailFolderStore;
  readonly maildir: MaildirStore | undefined;
  readonly sourceKey: () => Promise<string>;
  /** the source's file (Maildir) */
  readonly sourcePath: () => Promise<string | undefined>;
  readonly leftovers: (folder: string) => Promise<string[]>;
  readonly close: () => Promise<void>;
}

async function maildirBacking(source: Buffer): Promise<Backing> {
  const root = await mkdtemp(join(tmpdir(), 'correio-catenate-site-'));
  const store = new MaildirStore(root, { hostname: 'mx' });
  await store.deliver(user, Readable.from([source]), { uniqueKey: 'fonte' });
  const sourcePath = async (): Promise<string | undefined> => {
    const inbox = store.mailboxPath(user, '');
    for (const sub of ['cur', 'new']) {
      const names = await readdir(join(inbox, sub));
      if (names.length > 0) return join(inbox, sub, names[0]);
    }
    return undefined;
  };
  return {
    folders: new MaildirFolders(store),
    maildir: store,
    sourceKey: async () => (await store.list(user))[0].key,
    sourcePath,
    // files in tmp/, new/ and cur/, and batch journals (maildir-append-batch)
    leftovers: async (folder) => {
      const dir = store.mailboxPath(user, folder);
      const out = (await readdir(dir)).filter((n) => n.startsWith('correio-append-'));
      for (const sub of ['tmp', 'new', 'cur']) out.push(...(await readdir(join(dir, sub))).map((n) => `${sub}/${n}`));
      return out;
    },
    close: () => rm(root, { recursive: true, force: true }),
  };
}

async function pgBacking(source: Buffer): Promise<Backing> {
  const db = await createTestDatabase();
  const store = await PgMailStore.open(db.url, { maxConnections: 4 });
  await store.deliver(user, Readable.from([source]), { uniqueKey: 'fonte' });
  const count = (sql: string, values: unknown[] = []): Promise<number> => pgScalar(db.url, sql, values);
  return {
    folders: new PgMailFolders(store),
    maildir: undefined,
    sourceKey: async () => (await store.list(user))[0].key,
    sourcePath: () => Promise.resolve(undefined),
    // the folder's messages, and bodies and chunk rows beyond the source's
    leftovers: async (folder) => {
      const out: string[] = [];
      const messages = await count('SELECT count(*) AS n FROM mail_messages m JOIN mail_folders f ON f.id = m.folder_id WHERE f.name = $1', [folder]);
      if (messages > 0) out.push(`${messages} rows of mail_messages in ${folder}`);
      const bodies = await count('SELECT count(*) AS n FROM mail_bodies b WHERE NOT EXISTS (SELECT 1 FROM mail_messages m WHERE m.body_hash = b.hash)');
      if (bodies > 0) out.push(`${bodies} rows of mail_bodies of no message`);
      const chunks = await count('SELECT count(*) AS n FROM mail_body_chunks c WHERE NOT EXISTS (SELECT 1 FROM mail_bodies b JOIN mail_messages m ON m.body_hash = b.hash WHERE b.chunk_key = c.chunk_key)');
      if (chunks > 0) out.push(`${chunks} rows of mail_body_chunks of no message`);
      return out;
    },
    close: async () => {
      await store.close();
      await db.drop();
    },
  };
}

/**
 * Runs `fn` with a logged-in client of a server whose INBOX holds `source`, and the folder
 * "Copia" made; `opts` adds to the server's options.
 */
export async function withCatenateSite(kind: StoreKind, source: Buffer, opts: (s: { maildir?: MaildirStore; directory: MemoryDirectory }) => Partial<ImapServerOptions>, fn: (s: CatenateSite) => Promise<void>): Promise<void> {
  const b = kind === 'maildir' ? await maildirBacking(source) : await pgBacking(source);
  const directory = new MemoryDirectory({ domains: ['dc.uece.br'], users: [user] });
  let armed: Sabotage = 'pass';
  let nth = 2;
  let at = 100;
  let opens = 0;
  let fired = 0;
  const target = b.folders;
  const open = async (...a: Parameters<MailFolderStore['open']>): Promise<Readable> => {
    if (armed === 'pass' || a[1] !== 'INBOX' || ++opens < nth) return target.open(...a);
    const how = armed;
    armed = 'pass';
    fired++;
    const path = await b.sourcePath();
    const remove = async (): Promise<void> => (path ? unlink(path) : target.remove(user, 'INBOX', await b.sourceKey()));
    if (how === 'truncate') await truncate(path ?? assert.fail('truncate: Maildir only'), at);
    if (how === 'unlink') await remove();
    const src = await target.open(...a);
    if (how === 'eio') {
      return upTo(src, at, () => {
        throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', errno: -5, syscall: 'read', ...(path && { path }) });
      });
    }
    // the file cut while it is read; a stream of PostgreSQL ending early
    if (how === 'cut') return path ? afterFirst(src, () => truncate(path, at)) : upTo(src, at, () => Promise.resolve());
    if (how === 'unlink-mid') return afterFirst(src, remove);
    return src;
  };
  const broken = new Proxy(target, {
    get(t, p) {
      if (p === 'open') return open;
      const v = Reflect.get(t, p) as unknown;
      return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(t) : v;
    },
  });
  const server = new ImapServer({
    hostname: 'mx.dc.uece.br',
    folders: broken,
    authenticate: (u, pw) => Promise.resolve(u === user && pw === 'secret'),
    authFailureDelayMs: 1,
    ...opts({ ...(b.maildir && { maildir: b.maildir }), directory }),
  });
  const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
  const c = await LineClient.connect(bound.port);
  try {
    await c.readLine();
    assert.match((await run(c, `LOGIN ${user} secret`)).at(-1)!, /OK/);
    assert.match((await run(c, 'CREATE Copia')).at(-1)!, /OK/);
    const status = (await run(c, 'STATUS INBOX (UIDNEXT)')).join('\n');
    const uid = Number(/UIDNEXT (\d+)/.exec(status)?.[1] ?? assert.fail(status)) - 1;
    await fn({
      c,
      kind,
      directory,
      maildir: b.maildir,
      uid,
      arm: (how, o = {}) => {
        armed = how;
        nth = o.nth ?? 2;
        at = o.at ?? 100;
        opens = 0;
      },
      fired: () => fired,
      leftovers: b.leftovers,
    });
  } finally {
    c.socket.destroy();
    await server.close();
    await b.close();
  }
}
