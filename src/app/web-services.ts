/**
 * @module web-services
 * Wires the web (issue 16): the HTTP server on `[http] listen` / `listen_tls`, its
 * authentication (directory passwords, API tokens, the shared login throttle) and THE LIST OF
 * MOUNTS — each web module (JMAP, admin API, HTTP submission, webmail and admin console files)
 * is added in `webMounts` below with the path it serves and the access it needs.
 * Standards: see web/.
 * Security: admins are `[http] admins`, read at each request (a reload applies at once); the
 *   embedded default address listens on 127.0.0.1 only.
 * Limitations: listen addresses and `max_body_size` take effect at the next start.
 */
import type { ActivityMinute } from '../log/index.js';
import type { Logger } from 'pino';
import type { Context, Hono } from 'hono';
import { formatListenAddress, type Config } from '../config/index.js';
import { join } from 'node:path';
import type { MailFolderStore, MailSearchIndex, MessageSubmitter, TokenStore, WebSessionStore } from '../core/index.js';
import { openSessionStore, openTokenStore } from '../directory/index.js';
import { isPostgresUrl } from '../util/index.js';
import { SqliteEmailAliases, SqliteSearchIndex, SqliteThreadIndex } from '../mailbox/index.js';
import type { AuthThrottle } from '../policy/auth-throttle.js';
import { BlobStore, HttpAuth, HttpServer, MailView, SUBMISSION_API_BASE, connectionOf, createWebApp, jmapApp, EmailSearch, startIndexWarmer, sessionApp, cspReportApp, submissionApi, wellKnownJmapApp, whoamiApp, adminApi, adminConsoleApp, uiModulesApp, webmailApiApp, webmailAssetsApp, webmailPageApp, PgIdempotencyStore, SqliteIdempotencyStore, type IdempotencyStore, type TlsMaterial, type WebEnv, type WebMount } from '../web/index.js';
import type { Backends } from './backends.js';
import { RequestQueueControl, type ControlRequest, type ControlResponse } from './control.js';
import { makeResolver } from './configured-resolver.js';
import { runChecks } from './config-check.js';
import { dkimKeysOf } from './dkim-keyring.js';

export interface WebContext {
  readonly backends: Backends;
  readonly tokens: TokenStore;
  /** browser sessions, and the authentication that checks their logins */
  readonly sessions: WebSessionStore;
  /** HTTP submission's Idempotency-Key answers, kept across restarts */
  readonly idempotency: IdempotencyStore;
  readonly auth: HttpAuth;
  /** the JMAP full-text index (`<data_dir>/search.sqlite`) */
  readonly search?: EmailSearch;
  /** the mailboxes as JMAP sees them (the folders IMAP uses) */
  readonly mailView: MailView;
  /** sending for a logged-in user: the submission path (app/message-submitter.ts) */
  readonly submitter: MessageSubmitter;
  readonly logger: Logger;
  /** the configuration in force (changes with a reload) */
  readonly config: () => Config;
  /** aborted when the server stops: long-lived answers (EventSource) end on it */
  readonly closing: AbortSignal;
  /** the queue runner's control handler (the control socket's), for the admin API's queue actions */
  readonly control?: (req: ControlRequest) => Promise<ControlResponse>;
  /** the mail log's recent events, for the admin API's log tail */
  readonly logTail?: (lines: number) => readonly string[];
  /** mail activity per minute, for the admin console's dashboard */
  readonly activity?: (minutes: number) => readonly ActivityMinute[];
}

/** The admin API on the running server's parts: the same functions as the CLI's (docs/web.md). */
function adminMount(ctx: WebContext): Hono<WebEnv> {
  const { directory, store } = ctx.backends;
  const send = ctx.control;
  // the runner re-reads the spool first (mail dropped in by `sendmail` since its last poll)
  const runner = async (req: ControlRequest): Promise<ControlResponse> => {
    if (!send) return { ok: false, error: 'no queue runner in this process' };
    if (req.op !== 'wake') await send({ op: 'wake' });
    return send(req);
  };
  const control = new RequestQueueControl(runner);
  return adminApi({
    directory,
    queue: store,
    control,
    controlAs: (caller) => new RequestQueueControl(runner, () => caller),
    config: ctx.config,
    explain: async (address) => (await makeResolver(directory, ctx.config())).resolver.explain(address),
    checkConfig: () => runChecks({ config: ctx.config(), directory }),
    dkim: dkimKeysOf(ctx.config),
    logTail: ctx.logTail,
    activity: ctx.activity,
    quota: ctx.backends.quota,
    onError: (err) => ctx.logger.error({ err }, 'admin API request failed'),
  });
}

/**
 * Every module of the web and what a request to it needs. Modules are hono apps built from the
 * context; a path is matched longest first, "/" last.
 */
export function webMounts(ctx: WebContext): WebMount[] {
  const services = { mailView: ctx.mailView, blobs: new BlobStore(join(ctx.config().dataDir, 'blobs')), submitter: ctx.submitter, search: ctx.search, quota: ctx.backends.quota };
  const jmap = jmapApp({
    services,
    closing: ctx.closing,
    maxSize: ctx.config().http.maxBodySize,
    displayName: async (address) => (await ctx.backends.directory.findUser(address))?.name,
    onError: (err, method) => ctx.logger.error({ err, method }, 'jmap method failed'),
  });
  const mounts: { path: string; access: WebMount['access']; app: Hono<WebEnv> }[] = [
    { path: '/api/me', access: 'account', app: whoamiApp() },
    // browser logins (cookie + CSRF token) and CSP reports: public, they check for themselves
    { path: '/api/session', access: 'public', app: sessionApp({ auth: ctx.auth, sessions: ctx.sessions, lifetime: () => ctx.config().http.sessionLifetime }) },
    { path: '/api/csp-report', access: 'public', app: cspReportApp({ auth: ctx.auth, onCspReport: (report) => ctx.logger.warn({ report }, 'content security policy violation reported') }) },
    // JMAP (RFC 8620/8621, docs/web.md)
    { path: '/jmap', access: 'jmap', app: jmap },
    { path: '/.well-known/jmap', access: 'jmap', app: wellKnownJmapApp() },
    // admin REST API and console (docs/web.md); the console's page and modules are public,
    // what they show comes from the API, which requires the admin scope
    { path: '/api/admin/v1', access: 'admin', app: adminMount(ctx) },
    { path: '/admin', access: 'public', app: adminConsoleApp() },
    { path: '/ui', access: 'public', app: uiModulesApp() },
    // HTTP submission (issue 18, docs/gateways.md): the server admits 'submit' tokens and passwords
    { path: SUBMISSION_API_BASE, access: 'submit', app: submission(ctx) },
    // the webmail (docs/web.md): its page and files are public, the mail comes through JMAP;
    // the reading frame's documents are the account's mail, so they need the jmap scope
    { path: '/webmail/api', access: 'jmap', app: webmailApiApp(services) },
    { path: '/webmail', access: 'public', app: webmailAssetsApp() },
    { path: '/', access: 'public', app: webmailPageApp() },
  ];
  return mounts;
}

/** HTTP submission through the server's submitter (the submission policy in force, intake). */
function submission(ctx: WebContext): Hono<WebEnv> {
  const config = ctx.config();
  return submissionApi({
    submitter: ctx.submitter,
    // the HTTP server checked the credentials and the 'submit' scope before this runs
    authorize: async (_c, next) => next(),
    caller: (c) => {
      // mounted under the web server: its requests carry the WebEnv principal
      const web = c as unknown as Context<WebEnv>;
      const p = web.get('principal') as WebEnv['Variables']['principal'] | undefined;
      return p && { account: p.address, key: p.tokenId ?? p.address, remoteAddress: connectionOf(web).ip };
    },
    maxMessageSize: config.smtp.maxMessageSize,
    // http.submission_rate: requests a minute per token (read when the web starts)
    ratePerMinute: config.http.submissionRate,
    idempotency: ctx.idempotency,
    onError: (err) => ctx.logger.error({ err }, 'http submission failed'),
  }) as unknown as Hono<WebEnv>;
}

export interface WebServices {
  /** bound addresses (empty when off or not available) */
  addresses(): { host: string; port: number; tls: boolean }[];
  readonly tokens: TokenStore;
  /** a renewed certificate (reload) */
  setTls(tls: TlsMaterial): void;
  /**
   * Starts the mail indexes' catch-up (it syncs every user's INBOX, which may make its Maildir):
   * called once root is given up for good, since a later listener's bind takes root's effective
   * uid back for the whole process and a folder made meanwhile would be root's
   */
  startIndexing(): void;
  close(): Promise<void>;
}

export interface WebDeps {
  readonly backends: Backends;
  readonly folders: MailFolderStore;
  readonly submitter: MessageSubmitter;
  readonly throttle: AuthThrottle;
  readonly logger: Logger;
  readonly tls: TlsMaterial | undefined;
  readonly config: () => Config;
  /** runs a listener bind with root's effective uid when serve was started by root (privileges.ts) */
  readonly bind?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** the process's full-text index (backends); opened here when absent */
  readonly searchIndex?: MailSearchIndex;
  /** the queue runner's control handler (admin API queue actions) */
  readonly control?: (req: ControlRequest) => Promise<ControlResponse>;
  /** the mail log's recent events (admin API log tail) */
  readonly logTail?: (lines: number) => readonly string[];
  /** mail activity per minute (admin API, dashboard) */
  readonly activity?: (minutes: number) => readonly ActivityMinute[];
}

export async function startWeb(deps: WebDeps): Promise<WebServices> {
  const config = deps.config();
  const tokens = openTokenStore(config);
  const sessions = openSessionStore(config);
  // Idempotency-Key answers: PostgreSQL's, shared by every node, else node-local
  const idempotency = isPostgresUrl(config.storage.url) ? PgIdempotencyStore.open(config.storage.url) : SqliteIdempotencyStore.open(join(config.dataDir, 'idempotency.sqlite'));
  // text conditions: the mailbox store's own shared index when it has one (PostgreSQL), else a
  // node-local one beside the Maildirs (the process's, shared with IMAP, when serve opened it)
  const ownIndex = deps.folders.wordCandidates || deps.searchIndex ? undefined : new SqliteSearchIndex(join(config.dataDir, 'search.sqlite'));
  const searchIndex = deps.folders.wordCandidates ? undefined : (deps.searchIndex ?? ownIndex);
  // Thread and Email ids: the mailbox store's shared ones when it has them (PostgreSQL), else node-local files
  const shared = deps.folders.jmapIndexes;
  const threadIndex = shared?.threads ?? new SqliteThreadIndex(join(config.dataDir, 'threads.sqlite'));
  const closing = new AbortController();
  const search = new EmailSearch(searchIndex, threadIndex);
  const emailIds = shared?.emailIds ?? new SqliteEmailAliases(join(config.dataDir, 'email-ids.sqlite'));
  const mailView = new MailView(deps.folders, search, emailIds);
  const auth = new HttpAuth({
    directory: deps.backends.directory,
    tokens,
    sessions,
    throttle: deps.throttle,
    failureDelayMs: config.auth.failureDelay,
    retryAfterSeconds: Math.ceil(config.auth.failureWindow / 1000),
    settings: () => deps.config().http,
  });
  const app = createWebApp({
    mounts: webMounts({ backends: deps.backends, tokens, sessions, idempotency, auth, search, mailView, submitter: deps.submitter, logger: deps.logger, config: deps.config, closing: closing.signal, control: deps.control, logTail: deps.logTail, activity: deps.activity }),
    auth,
    maxBodySize: config.http.maxBodySize,
    onError: (err, method, path) => deps.logger.error({ err, method, path }, 'http request failed'),
  });
  const server = new HttpServer(app, deps.tls);
  const bind = deps.bind ?? (<T>(fn: () => Promise<T>): Promise<T> => fn());
  try {
    if (config.http.listen.length > 0) {
      try {
        await bind(() => server.listen(config.http.listen.map((a) => ({ host: a.host, port: a.port }))));
      } catch (err) {
        // the embedded default is best effort, like [imap] and [metrics]: a second correio runs without it
        if (!config.http.isDefault) throw err;
        const where = config.http.listen.map(formatListenAddress).join(', ');
        deps.logger.warn({ listen: where, err: (err as Error).message }, `http not served: ${where} is not available; set [http] listen to another address, or [] for none`);
      }
    }
    if (config.http.listenTls.length > 0) {
      if (!deps.tls) throw new Error('http.listen_tls: no TLS certificate is available (configure smtp.tls_cert and smtp.tls_key)');
      await bind(() => server.listen(config.http.listenTls.map((a) => ({ host: a.host, port: a.port, tls: true }))));
    }
  } catch (err) {
    await server.close(0);
    await tokens.close();
    await sessions.close();
    await idempotency.close();
    await ownIndex?.close();
    await threadIndex.close();
    await emailIds.close();
    throw err;
  }
  // the indexes serve JMAP and the webmail only: without an HTTP listener nobody asks them, and
  // watching every INBOX would cost each delivery a folder sync (bench maildir: 1.94 → 2.63 ms CPU)
  const startIndexing = (): void => {
    if (server.addresses().length === 0 || closing.signal.aborted) return;
    startIndexWarmer({
      users: async () => (await deps.backends.directory.listUsers()).map((u) => u.address),
      mailView,
      search,
      signal: closing.signal,
      onError: (user, err) => deps.logger.warn({ user, err: (err as Error).message }, 'mail index catch-up failed; it is tried again at the account\'s next use'),
    });
  };
  return {
    addresses: () => server.addresses(),
    tokens,
    setTls: (tls) => server.setTls(tls),
    startIndexing,
    close: async () => {
      closing.abort();
      await server.close();
      await tokens.close();
      await sessions.close();
      await idempotency.close();
      await ownIndex?.close();
      await threadIndex.close();
      await emailIds.close();
    },
  };
}
