/**
 * @module queue-cli-harness
 * A throw-away correio site for the sendmail and queue command tests: a temp data_dir, a
 * correio.toml naming it, `correio …` run as a real child process, and `correio serve` started
 * and stopped as a child. Remote mail is routed to a closed port on 127.0.0.1 so that it is
 * deferred with a real "connection refused", and DNS points at a closed local port: nothing
 * leaves the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { cliCommand, runCli, type CliResult, type RunCliOptions } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { projectRoot } from '../helpers/paths.js';
import { loadConfig } from '../../src/config/index.js';
import { sendControl } from '../../src/app/index.js';
import type { Envelope } from '../../src/core/index.js';
import { FsQueueStore } from '../../src/queue/index.js';

export interface Site {
  readonly dir: string;
  readonly configFile: string;
  readonly dataDir: string;
  /** runs `correio --config <site> ARGS` as USER=jacques unless env says otherwise */
  run(args: readonly string[], opts?: RunCliOptions): Promise<CliResult>;
  /** starts `correio serve` and waits until its control socket answers */
  serve(): Promise<Server>;
  /** file names in the user's Maildir new/ */
  maildir(user: string, domain?: string): Promise<string[]>;
  readMail(user: string, name: string, domain?: string): Promise<string>;
  /** waits (polling) until the user's Maildir new/ holds at least n messages */
  waitMail(user: string, n?: number, domain?: string): Promise<string[]>;
  cleanup(): Promise<void>;
}

export interface Server {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export const domain = 'example.org';

export async function makeSite(extraToml = ''): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-qcli-'));
  const dataDir = join(dir, 'data');
  const smtpPort = await freePort();
  const closedPort = await freePort();
  const configFile = join(dir, 'correio.toml');
  await writeFile(
    configFile,
    [
      'hostname = "mx.test"',
      'data_dir = "data"',
      `local_domains = ["${domain}"]`,
      '[log]',
      'level = "warn"',
      '[smtp]',
      `listen = ["127.0.0.1:${smtpPort}"]`,
      '[delivery]',
      `dns_servers = ["127.0.0.1:${closedPort}"]`,
      '[delivery.routes]',
      `"remote.test" = "smtp:[127.0.0.1]:${closedPort}"`,
      extraToml,
    ].join('\n'),
  );
  const servers: Server[] = [];
  const config = loadConfig({ path: configFile });
  const site: Site = {
    dir,
    configFile,
    dataDir,
    run: (args, opts = {}) =>
      runCli(['--config', configFile, ...args], { ...opts, cwd: opts.cwd ?? dir, env: { USER: 'jacques', ...opts.env } }),
    async serve() {
      const child = spawn(process.execPath, [...cliCommand(), '--config', configFile, 'serve'], {
        cwd: projectRoot,
        env: { ...process.env, CORREIO_CONFIG: undefined },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
      child.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const server: Server = {
        child,
        output: () => out,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      };
      servers.push(server);
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`correio serve exited (${child.exitCode}): ${out}`);
        if ((await sendControl(config, { op: 'ping' }, 2000)) !== undefined) return server;
        if (Date.now() > deadline) {
          await server.stop();
          throw new Error(`correio serve did not answer on its control socket: ${out}`);
        }
        await delay(100);
      }
    },
    async maildir(user, dom = domain) {
      return readdir(join(dataDir, 'mail', dom, user, 'new')).catch(() => []);
    },
    readMail(user, name, dom = domain) {
      return readFile(join(dataDir, 'mail', dom, user, 'new', name), 'utf8');
    },
    async waitMail(user, n = 1, dom = domain) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const names = await site.maildir(user, dom);
        if (names.length >= n) return names;
        if (Date.now() > deadline) throw new Error(`no mail for ${user}@${dom} after 30 s`);
        await delay(100);
      }
    },
    async cleanup() {
      for (const s of servers) await s.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return site;
}

/** The queue as `queue list --json` prints it. */
export interface QueueJson {
  id: string;
  size: number;
  arrivedAt: string;
  sender: string;
  recipients: {
    envelopeId: string;
    recipient: string;
    route: string;
    state: string;
    /** the envelope's explicit state (queued, deferred, held, notice-pending) */
    queueState: string;
    /** the kind of a pending notice, or null */
    notice: string | null;
    held: boolean;
    attempts: number | unknown[];
    lastError: string | null;
  }[];
}

export async function queueJson(site: Site): Promise<QueueJson[]> {
  const r = await site.run(['queue', 'list', '--json']);
  if (r.code !== 0) throw new Error(`queue list --json failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as QueueJson[];
}

/**
 * Runs `fn` on the site's spool, opened beside a running server or none: no recovery, no lock
 * (so a server started meanwhile still owns it).
 */
export async function withSpool<T>(site: Site, fn: (store: FsQueueStore) => Promise<T>): Promise<T> {
  const store = await FsQueueStore.open(join(site.dataDir, 'spool'), { recover: 'never', lock: false });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The envelopes in the spool, read through the store (for polling while a server works). */
export function spoolEnvelopes(site: Site): Promise<Envelope[]> {
  return withSpool(site, async (store) => {
    const out: Envelope[] = [];
    for await (const e of store.walkEnvelopes()) out.push(e);
    return out;
  });
}

/** Polls the spool until `ok` holds for its envelopes (30 s at most). */
export async function waitSpool(site: Site, what: string, ok: (envs: Envelope[]) => boolean): Promise<Envelope[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const envs = await spoolEnvelopes(site);
    if (ok(envs)) return envs;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(envs)}`);
    await delay(100);
  }
}
