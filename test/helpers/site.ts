/**
 * @module test-site
 * A whole correio "site" for end-to-end tests: a data directory, a config, users, and the
 * running services (in this process through startApp, or as a child `correio serve` process
 * that a test may kill -9). Sites on 127.0.0.2, 127.0.0.3 … with high ports are the seed's
 * separate hosts (DESIGN.md §5).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { buffer } from 'node:stream/consumers';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig, type Config } from '../../src/config/index.js';
import { openDirectory, hashPassword } from '../../src/directory/index.js';
import { mailboxesInPostgres, openMailboxes, startApp, type RunningApp } from '../../src/app/index.js';
import { readSpoolEnvelopes } from './spool.js';
import type { Envelope } from '../../src/core/index.js';
import { cliCommand } from './cli.js';
import { freePort, LineClient } from './net.js';

export interface SiteOptions {
  /** loopback address to listen on (default 127.0.0.1) */
  host?: string;
  /** SMTP port (default: a free one) */
  port?: number;
  hostname?: string;
  domains?: string[];
  /** users to create ("user@domain"), password "secret" */
  users?: string[];
  /** directory aliases: name → targets */
  aliases?: Record<string, string[]>;
  /** extra TOML appended to the generated config (top-level keys must come before tables: use `top`) */
  top?: string;
  /** extra TOML tables, e.g. "[delivery]\nretry_min = \"1s\"" replaces defaults below */
  delivery?: Record<string, string | number | boolean | string[]>;
  smtp?: Record<string, string | number | boolean | string[]>;
  /**
   * extra TOML tables; a function is called again, for fresh ports of its own (freePort), each
   * time startSiteProcess starts over because a port it listed was taken meanwhile
   */
  tables?: string | (() => string | Promise<string>);
  /** data_dir (absolute); default "var" inside the site's directory */
  dataDir?: string;
  /** quiet logs unless CORREIO_TEST_LOG is set */
  logLevel?: string;
  /** files written into the site's directory before it starts (name relative to it → content), e.g. an aliases file */
  files?: Record<string, string>;
}

export interface Site {
  readonly dir: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly config: Config;
  readonly host: string;
  readonly port: number;
  /** the in-process app (absent for process sites) */
  app?: RunningApp;
  child?: ChildProcess;
  /** files in the user's Maildir new/ and cur/ */
  mailbox(user: string): Promise<string[]>;
  /** the contents of every message in the user's Maildir */
  messages(user: string): Promise<string[]>;
  /** waits until the user has at least n messages (polls; fails after timeoutMs) */
  waitForMessages(user: string, n: number, timeoutMs?: number): Promise<string[]>;
  connect(localAddress?: string): Promise<LineClient>;
  stop(): Promise<void>;
  /** stop and remove the directory */
  destroy(): Promise<void>;
}

function tomlValue(v: string | number | boolean | string[]): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
  return JSON.stringify(v);
}

function table(name: string, obj: Record<string, string | number | boolean | string[]>): string {
  return `[${name}]\n` + Object.entries(obj).map(([k, v]) => `${k} = ${tomlValue(v)}`).join('\n') + '\n';
}

type Prepared = { dir: string; configFile: string; config: Config; host: string; port: number };

/** Writes the site's config file for this SMTP port (tables evaluated afresh) and parses it. */
async function writeConfig(opts: SiteOptions, dir: string, host: string, port: number): Promise<{ configFile: string; config: Config }> {
  const domains = opts.domains ?? ['localhost'];
  const tables = typeof opts.tables === 'function' ? await opts.tables() : (opts.tables ?? '');
  const text =
    `hostname = ${JSON.stringify(opts.hostname ?? `mx.${domains[0]}`)}\n` +
    `data_dir = ${JSON.stringify(opts.dataDir ?? 'var')}\n` +
    `local_domains = ${tomlValue(domains)}\n` +
    (opts.top ?? '') +
    '\n' +
    table('smtp', { listen: [`${host}:${port}`], ...(opts.smtp ?? {}) }) +
    table('delivery', { retry_min: '1s', retry_max: '2s', ...(opts.delivery ?? {}) }) +
    `[log]\nlevel = ${JSON.stringify(process.env.CORREIO_TEST_LOG ? 'info' : (opts.logLevel ?? 'silent'))}\n` +
    tables;
  const configFile = join(dir, 'correio.toml');
  await writeFile(configFile, text);
  return { configFile, config: parseConfig(text, { file: configFile, baseDir: dir, absoluteFile: configFile }) };
}

async function prepare(opts: SiteOptions): Promise<Prepared> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-site-'));
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  for (const [name, content] of Object.entries(opts.files ?? {})) await writeFile(join(dir, name), content);
  const { configFile, config } = await writeConfig(opts, dir, host, port);
  const directory = await openDirectory(config);
  try {
    const hash = await hashPassword('secret');
    for (const u of opts.users ?? []) await directory.addUser(u, hash);
    for (const [name, targets] of Object.entries(opts.aliases ?? {})) await directory.setAlias(name, targets);
  } finally {
    await directory.close();
  }
  return { dir, configFile, config, host, port };
}

function mailboxPath(config: Config, user: string): string {
  const at = user.lastIndexOf('@');
  return join(config.dataDir, 'mail', user.slice(at + 1).toLowerCase(), user.slice(0, at));
}

function siteFrom(base: Prepared, stop: () => Promise<void>): Site {
  const { dir, configFile, config, host, port } = base;
  const mailbox = async (user: string): Promise<string[]> => {
    const root = mailboxPath(config, user);
    const out: string[] = [];
    for (const sub of ['new', 'cur']) {
      const d = join(root, sub);
      if (!existsSync(d)) continue;
      for (const f of await readdir(d)) out.push(join(d, f));
    }
    return out.sort();
  };
  // mailboxes in PostgreSQL ([storage] url without mail_dir): read through the store itself
  let boxes: ReturnType<typeof openMailboxes> | undefined;
  const messages = async (user: string): Promise<string[]> => {
    if (!mailboxesInPostgres(config)) return Promise.all((await mailbox(user)).map((f) => readFile(f, 'utf8')));
    boxes ??= openMailboxes(config);
    const { mailboxes } = await boxes;
    const list = await mailboxes.list(user);
    return Promise.all(list.map(async (m) => (await buffer(await mailboxes.open(user, m.key))).toString('utf8')));
  };
  const closeBoxes = async (): Promise<void> => {
    const b = boxes;
    boxes = undefined;
    if (b) await (await b).close();
  };
  let stopped = false;
  const site: Site = {
    dir,
    dataDir: config.dataDir,
    configFile,
    config,
    host,
    port,
    mailbox,
    messages,
    waitForMessages: async (user, n, timeoutMs = 20000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = await messages(user);
        if (m.length >= n) return m;
        if (Date.now() > deadline) throw new Error(`${user}: ${m.length} messages after ${timeoutMs} ms, wanted ${n}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    connect: (localAddress) => LineClient.connect(port, host, localAddress),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await closeBoxes();
      await stop();
    },
    destroy: async () => {
      await site.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return site;
}

/** A site running in this process. */
export async function startSite(opts: SiteOptions = {}): Promise<Site> {
  const base = await prepare(opts);
  const app = await startApp(base.config, { logger: pino({ level: process.env.CORREIO_TEST_LOG ? 'info' : 'silent' }) });
  const site = siteFrom(base, () => app.stop());
  site.app = app;
  return site;
}

/** How many times startSiteProcess starts serve when a port it was given is taken meanwhile. */
const portAttempts = 5;

/** A site running as a child `correio serve` process (for kill -9 tests). */
export async function startSiteProcess(
  opts: SiteOptions = {},
): Promise<Site & { restart(): Promise<void>; kill9(): Promise<void>; stdout(): string; stderr(): string; started(): boolean }> {
  let base = await prepare(opts);
  let child: ChildProcess | undefined;
  // the server's standard output and its acceptor processes' (the log, at opts.logLevel), over every start
  let out = '';
  // where the current start's output begins in `out`
  let startOut = 0;
  // its standard error over every start (a crash's stack)
  let errors = '';
  const launch = async (): Promise<void> => {
    startOut = out.length;
    const c = spawn(process.execPath, [...cliCommand(), 'serve', '--config', base.configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CORREIO_CONFIG: undefined },
    });
    child = c;
    let err = '';
    c.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      errors += d.toString();
    });
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    // ready when the SMTP port answers with a greeting: this child's (it holds the data
    // directory's lock, so no other serve can be the one answering). Within 2 minutes: a start
    // that fails exits (seen above at once); one that is only slow (a server and an acceptor
    // process to start on a loaded machine) took over 30 s in t-97 and t-98 at load 20-30
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`correio serve exited ${c.exitCode}: ${err}`);
      // the probe is closed whatever it heard: one left open on another program holding the
      // port (the child then exits 69) kept that program, and the test file, from ending
      let cl: LineClient | undefined;
      try {
        cl = await LineClient.connect(base.port, base.host);
        // a greeting from another program on a port the child failed to bind is not this child's
        if ((await cl.readReply())?.startsWith('220') && c.exitCode === null) break;
      } catch {
        /* not yet */
      } finally {
        cl?.close();
      }
      if (Date.now() > deadline) {
        // a start that did not serve must not outlive the test either
        await stopChild();
        throw new Error(`correio serve did not start: ${err}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const waitExit = (c: ChildProcess): Promise<void> =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));
  /** SIGTERM to the current child (it stops its acceptors) and waits until it has exited and is reaped */
  const stopChild = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await waitExit(child);
    }
  };
  // the ports come from freePort (bound to 0, then released): a test running beside this one
  // can take one before serve binds it, and serve exits 69 "… is already in use by another
  // program" (t-92 in a parallel CI run). Start over with fresh ports (SMTP unless opts.port
  // fixes it, and those of a tables function), a bounded number of times
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      const taken = child?.exitCode === 69 && /is already in use by another program/.test(String(err));
      if (!taken || attempt >= portAttempts || (opts.port !== undefined && typeof opts.tables !== 'function')) {
        await rm(base.dir, { recursive: true, force: true });
        throw err;
      }
      const port = opts.port ?? (await freePort(base.host));
      base = { ...base, port, ...(await writeConfig(opts, base.dir, base.host, port)) };
    }
  }
  const site = siteFrom(base, stopChild);
  // siteFrom's stop runs once; a child started again by restart() must still be stopped by a
  // later stop() or destroy() (t-83 left one running and its test file never ended)
  const stop = site.stop.bind(site);
  const destroy = site.destroy.bind(site);
  site.stop = async () => {
    await stopChild();
    await stop();
  };
  site.destroy = async () => {
    await stopChild();
    await destroy();
  };
  // a getter of its own: Object.assign would copy the first child once, and site.child named
  // a stopped process after restart()
  Object.defineProperty(site, 'child', { get: () => child, enumerable: true, configurable: true });
  return Object.assign(site, {
    // the running child (if any) is stopped and reaped first: launching beside it left it
    // running, unreferenced, with its lock (the new one exited 75 behind its greeting)
    restart: async () => {
      await stopChild();
      await launch();
    },
    stdout: () => out,
    stderr: () => errors,
    // the current start logged "correio started" (logLevel 'info' or more): every acceptor
    // accepts. The port greets earlier, once the first one does; with processes >= 3 another may
    // still be starting, and one that ends then fails the start (acceptor-pool.ts)
    started: () => out.includes('"msg":"correio started"', startOut),
    kill9: async () => {
      if (!child) return;
      child.kill('SIGKILL');
      await waitExit(child);
    },
  });
}

/** What one SMTP transaction got: the reply to each RCPT and the final reply. */
export interface SendResult {
  rcpt: string[];
  final: string | undefined;
}

/**
 * Sends one message over raw SMTP (EHLO, MAIL, RCPT…, DATA) to host:port, from localAddress
 * when given (a trusted loopback address may relay). `data` uses "\n" or "\r\n" line ends and
 * is dot-stuffed here. Throws when MAIL is refused; RCPT refusals are returned.
 */
export async function sendMail(
  target: { host: string; port: number },
  from: string,
  to: readonly string[],
  data: string,
  opts: { localAddress?: string; helo?: string; mailParams?: string } = {},
): Promise<SendResult> {
  const c = await LineClient.connect(target.port, target.host, opts.localAddress);
  try {
    const greet = await c.readReply();
    if (!greet?.startsWith('220')) throw new Error(`greeting: ${greet}`);
    const ehlo = await c.command(`EHLO ${opts.helo ?? 'client.test'}`);
    if (!ehlo?.startsWith('250')) throw new Error(`EHLO: ${ehlo}`);
    const mail = await c.command(`MAIL FROM:<${from}>${opts.mailParams ? ' ' + opts.mailParams : ''}`);
    if (!mail?.startsWith('250')) throw new Error(`MAIL: ${mail}`);
    const rcpt: string[] = [];
    for (const r of to) rcpt.push((await c.command(`RCPT TO:<${r}>`)) ?? '');
    if (!rcpt.some((r) => r.startsWith('250'))) {
      await c.command('QUIT');
      return { rcpt, final: undefined };
    }
    const dataReply = await c.command('DATA');
    if (!dataReply?.startsWith('354')) throw new Error(`DATA: ${dataReply}`);
    const body = data.replace(/\r?\n/g, '\r\n').replace(/(^|\r\n)\./g, '$1..');
    c.write(body + (body.endsWith('\r\n') ? '' : '\r\n') + '.\r\n');
    const final = await c.readReply(20000);
    await c.command('QUIT');
    return { rcpt, final };
  } finally {
    c.close();
  }
}

/** Polls until fn returns a value other than undefined/false; fails after timeoutMs with `what`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Every envelope in the site's spool: through the running app's store, or (process sites) by
 * opening the spool as a reader beside the running server (recovery 'never', the lock left alone;
 * read again when a file went while it was read).
 */
export async function siteEnvelopes(site: Site): Promise<Envelope[]> {
  const out: Envelope[] = [];
  if (site.app) {
    for await (const e of site.app.backends.store.walkEnvelopes()) out.push(e);
    return out;
  }
  // a reader beside a running server can see a file go between listing it and reading it (the
  // server delivered and removed it): read again, a few times, before calling it a failure
  for (let attempt = 1; ; attempt++) {
    try {
      return await readSpoolEnvelopes(join(site.dataDir, 'spool'));
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The pids of `parent`'s live children (a process site's SMTP acceptor processes), from /proc. */
export function childrenOf(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === parent && fields[0] !== 'Z') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
