/**
 * @module test-imap-server
 * correio's IMAP server in the test's own process, on a loopback port, over a Maildir tree in
 * a temporary directory that is removed afterwards: for tests that drive it with real clients
 * (imaplib, imaplib2, the imaptest scripts).
 * Security: loopback only; test passwords.
 * Limitations: plain TCP (passwords are accepted without TLS from loopback).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';

export interface TestImapServer {
  readonly port: number;
  readonly store: MaildirStore;
  readonly folders: MaildirFolders;
  /** the Maildir tree: `mailRoot/<domain>/<local part>` */
  readonly mailRoot: string;
}

export interface TestImapServerOptions {
  /** address → password; suzana@dc.uece.br with "secret" when not given */
  readonly users?: Readonly<Record<string, string>>;
  /** the temporary directory's name prefix */
  readonly prefix?: string;
  /** the size from which FETCH streams a message from its file (the server's default when not given) */
  readonly fetchStreamFrom?: number;
  /** the size from which an APPEND literal is streamed to the store as it arrives (the server's default when not given) */
  readonly appendStreamFrom?: number;
}

export const testImapUser = 'suzana@dc.uece.br';

/** Runs `fn` with a listening server; closes it and removes its files afterwards. */
export async function withImapServer<T>(fn: (s: TestImapServer) => Promise<T>, o: TestImapServerOptions = {}): Promise<T> {
  const users = o.users ?? { [testImapUser]: 'secret' };
  const root = await mkdtemp(join(tmpdir(), o.prefix ?? 'correio-imap-'));
  const mailRoot = join(root, 'mail');
  const store = new MaildirStore(mailRoot, { hostname: 'mx' });
  const folders = new MaildirFolders(store);
  const server = new ImapServer({
    hostname: 'mx.dc.uece.br',
    folders,
    authenticate: (u, p) => Promise.resolve(Object.hasOwn(users, u) && users[u] === p),
    authFailureDelayMs: 1,
    ...(o.fetchStreamFrom !== undefined && { fetchStreamFrom: o.fetchStreamFrom }),
    ...(o.appendStreamFrom !== undefined && { appendStreamFrom: o.appendStreamFrom }),
  });
  try {
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    return await fn({ port: bound.port, store, folders, mailRoot });
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}
