/**
 * @module pop3-harness
 * Shared setup for the POP3 end-to-end tests: a real Pop3Server on a free loopback port over a
 * mailbox store in a fresh temp dir, a raw line client, and TLS credentials.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MailboxStore } from '../../src/core/index.js';
import { Pop3Server, type Pop3ServerOptions } from '../../src/server/pop3/index.js';
import { MemoryMailbox } from '../helpers/memory-mailbox.js';
import { freePort, LineClient } from '../helpers/net.js';
import { fixturesDir } from '../helpers/paths.js';

export const run = promisify(execFile);

export const USER = 'suzana@dc.uece.br';
export const PASSWORD = 'segredo de suzana';

export const passwords: Record<string, string> = {
  [USER]: PASSWORD,
  'jacques@dc.uece.br': 'outra senha',
};

export async function authenticate(user: string, password: string): Promise<boolean> {
  return passwords[user] === password;
}

export interface Harness {
  readonly dir: string;
  readonly store: MemoryMailbox;
  server: Pop3Server;
  port: number;
  /** a new server over the same store and port (restart) */
  restart(extra?: Partial<Pop3ServerOptions>): Promise<void>;
  connect(): Promise<LineClient>;
  cleanup(): Promise<void>;
}

export async function startHarness(extra: Partial<Pop3ServerOptions> = {}, mailboxes?: (dir: string) => MailboxStore): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-pop3-'));
  const store = new MemoryMailbox(join(dir, 'mail'));
  const options = (more: Partial<Pop3ServerOptions>): Pop3ServerOptions => ({
    hostname: 'pop.dc.uece.br',
    mailboxes: mailboxes ? mailboxes(dir) : store,
    authenticate,
    allowPlainWithoutTls: true,
    authFailureDelayMs: 10,
    ...extra,
    ...more,
  });
  const port = await freePort();
  const clients: LineClient[] = [];
  const h: Harness = {
    dir,
    store,
    server: new Pop3Server(options({})),
    port,
    async restart(more = {}) {
      await h.server.close();
      h.server = new Pop3Server(options(more));
      await h.server.listen([{ host: '127.0.0.1', port: h.port }]);
    },
    async connect() {
      const c = await LineClient.connect(h.port);
      clients.push(c);
      return c;
    },
    async cleanup() {
      for (const c of clients) c.close();
      await h.server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await h.server.listen([{ host: '127.0.0.1', port }]);
  return h;
}

/** Sends a command and reads its status line. */
export async function cmd(c: LineClient, line: string): Promise<string | undefined> {
  c.write(`${line}\r\n`);
  return c.readLine();
}

/** Reads greeting, logs in with USER/PASS, returns the PASS reply. */
export async function login(c: LineClient, user = USER, password = PASSWORD): Promise<string | undefined> {
  const greeting = await c.readLine();
  if (!greeting?.startsWith('+OK')) throw new Error(`bad greeting ${greeting}`);
  await cmd(c, `USER ${user}`);
  return cmd(c, `PASS ${password}`);
}

/** test/fixtures/tls if present, else a throw-away self-signed pair made with openssl; undefined if neither. */
export async function tlsCredentials(): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  const fk = join(fixturesDir, 'tls', 'localhost.key');
  const fc = join(fixturesDir, 'tls', 'localhost.crt');
  if (existsSync(fk) && existsSync(fc)) return { key: await readFile(fk), cert: await readFile(fc) };
  const dir = await mkdtemp(join(tmpdir(), 'correio-pop3-tls-'));
  try {
    const key = join(dir, 'k.pem');
    const cert = join(dir, 'c.pem');
    const san = ['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'];
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', ...san]);
    return { key: await readFile(key), cert: await readFile(cert) };
  } catch {
    return undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** CRLF form of a message, as a store keeps it (RFC 5322 §2.1 line ends). */
export function toCrlf(b: Buffer): Buffer {
  return Buffer.from(b.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
