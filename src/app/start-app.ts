/**
 * @module start-app
 * The composition root: config → backends → services. `correio serve` calls startApp and,
 * on SIGTERM/SIGINT, stop(): listeners close, sessions finish, the queue runner stops (after
 * its grace, in-flight deliveries are aborted and defer), the spool and directory close.
 * Standards: see the services.
 * Security: TLS material is loaded before anything listens; AUTH verifies against the directory;
 *   one authentication throttle ([auth]) is shared by every login path.
 * Limitations: one process runs every service but the SMTP sessions, which `[smtp] processes`
 *   above 1 moves to acceptor processes (acceptor-pool.ts).
 */
import diagnostics from 'node:diagnostics_channel';
import { join } from 'node:path';
import { channels, type ListenMode } from '../core/index.js';
import { pino, type Logger } from 'pino';
import { formatListenAddress, loadConfig, type Config } from '../config/index.js';
import { BatchedOutput, DeliveryHistory, formatTextLine, historyDir, startActivity, startAdminLog, startMailLog, textWanted, type MailLog } from '../log/index.js';
import type { QueueRunner } from '../delivery/index.js';
import { Pop3Server } from '../server/pop3/index.js';
import { FetchCache, FetchCacheDisk, ImapServer, fillFetchCache } from '../server/imap/index.js';
import { AuthThrottle } from '../policy/auth-throttle.js';
import { openBackends, type Backends } from './backends.js';
import { controlSocketPath, startControlServer, type ControlRequest, type ControlResponse } from './control.js';
import { loadOrMakeTls } from './tls-files.js';
import { FsQueueStore } from '../queue/index.js';
import { AcceptorPool } from './acceptor-pool.js';
import { buildSmtpService } from './smtp-service.js';
import { ReportTimer } from './report-timer.js';
import { buildDeliveryServices, handleControl as handleDeliveryControl } from './delivery-services.js';
import { Reloader, type ReloadResult } from './reload.js';
import { countingAuthenticate, startMonitoring, type Monitoring } from './monitoring.js';
import { startWeb, type WebServices } from './web-services.js';
import type { Privileges } from './privileges.js';
import { listenKeys } from './listener-checks.js';
import { publicHandler, startPublicServer } from './public-socket.js';
import { MaildropPickup } from './maildrop-pickup.js';
import { messageSubmitter } from './message-submitter.js';
import { collectGarbage } from '../util/index.js';

export interface RunningApp {
  readonly backends: Backends;
  /** the queue runner */
  readonly runner: QueueRunner;
  /** a control request (flush, hold, …) answered by the runner */
  control(req: ControlRequest): Promise<ControlResponse>;
  /** bound SMTP addresses (ports resolved when the config said 0) */
  smtpAddresses(): { host: string; port: number; mode: string; path?: string }[];
  pop3Addresses(): { host: string; port: number }[];
  imapAddresses(): { host: string; port: number }[];
  /** bound [http] addresses (empty when off or not available); `tls`: HTTPS */
  httpAddresses(): { host: string; port: number; tls: boolean }[];
  /** the web's API tokens (`correio token`) */
  readonly web?: WebServices;
  /** bound [metrics] addresses (empty when off or not available) */
  metricsAddresses(): { host: string; port: number }[];
  /** SIGHUP / `correio reload`: re-read the configuration, aliases and certificate (reload.ts) */
  reload(): Promise<ReloadResult>;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  /** how a reload reads the configuration again; default: loadConfig of config.file */
  readonly readConfig?: () => Config;
  /** serve started by root (privileges.ts): listeners bind with root, then root is given up */
  readonly privileges?: Privileges;
}

/** where an operator's queue commands are told (the mail log and the delivery history listen) */
const adminChannel = diagnostics.channel(channels.admin);

export async function startApp(config: Config, opts: StartOptions = {}): Promise<RunningApp> {
  // stdout, written asynchronously in batches (a synchronous write per line cost ~3 % under
  // load, an asynchronous one per line a thread-pool round trip each); what waits is written
  // at stop, or synchronously if the process exits first
  const text = textWanted(config.log.format, process.stdout.isTTY);
  const output = opts.logger ? undefined : new BatchedOutput(1, text ? { transform: formatTextLine } : {});
  const flushAtExit = (): void => output?.flushSync();
  if (output) process.on('exit', flushAtExit);
  const logger = opts.logger ?? pino({ level: config.log.level, base: { hostname: config.hostname } }, output);
  const mailLog: MailLog = startMailLog(logger, output);
  const activity = startActivity();
  // each message's events, kept for correio trace after it has left the queue
  const history = new DeliveryHistory({ dataDir: config.dataDir, retentionMs: config.log.history });
  try {
    history.start();
  } catch (err) {
    logger.warn({ dir: historyDir(config.dataDir), err: (err as Error).message }, 'delivery history off: its folder cannot be made; correio trace sees queued messages only');
  }
  // every operator action told on the admin channel (control socket, admin API) is kept in data_dir/admin.log
  const stopAdminLog = startAdminLog(config.dataDir, () => config.hostname);
  // ENVELOPE/BODYSTRUCTURE once computed, kept across restarts (fetch-cache-disk), and made
  // for new mail from the text index's read of it (a folder's first FETCH reads no file)
  const fetchCache = new FetchCache(undefined, new FetchCacheDisk(join(config.dataDir, 'imap-cache.sqlite')));
  const backends = await openBackends(config, {
    messageRead: (user, folder, key, octets) => fillFetchCache(fetchCache, user, folder, key, octets),
    // and its rows go with the mail another program (POP3) removes
    messagesGone: (user, folder, keys) => fetchCache.gone(user, folder, keys),
    watchAliases: true,
    serving: true,
    // the instance that runs deliveries keeps envelopes and small bodies in memory
    // the spool's listings of msg/ and env/ (leftovers of a crash) run once the queue is loaded
    spool: { cache: true, recoverLater: true },
    // one search.sqlite for the process: IMAP's text documents (kept as mail arrives) and JMAP's
    searchIndex: true,
    onAliasesLoaded: (errors, count) => {
      for (const e of errors) logger.warn({ file: config.aliasesFile }, e);
      logger.info({ file: config.aliasesFile, aliases: count }, 'aliases loaded');
    },
  });
  const { directory, mailboxes } = backends;

  // the queue runner, transports and notifier, beside the listeners on this thread
  const local = buildDeliveryServices(config, backends);
  backends.setOnQueued((envs) => local.runner.enqueue(envs));

  let tls: { key: Buffer; cert: Buffer } | undefined;
  // RFC 3207: STARTTLS is offered on every SMTP listener (and STLS on POP3); without a
  // configured certificate a self-signed one is made once under data_dir.
  {
    const t = await loadOrMakeTls(config);
    if ('error' in t) logger.warn({}, t.error);
    else {
      tls = { key: t.key, cert: t.cert };
      if (t.generated) {
        logger.warn({ cert: t.path.cert }, 'generated a self-signed TLS certificate; configure smtp.tls_cert and smtp.tls_key to replace it');
      }
    }
  }

  const authenticate = (user: string, password: string): Promise<boolean> => directory.verifyPassword(user, password);
  // one throttle for every login path (SMTP AUTH, POP3), so failures anywhere count everywhere
  const authThrottle = new AuthThrottle({
    maxFailuresPerAddress: config.auth.maxFailuresPerAddress,
    maxFailuresPerAccount: config.auth.maxFailuresPerAccount,
    windowMs: config.auth.failureWindow,
    // failures here count in the acceptor processes too (theirs are recorded here: acceptor-pool.ts)
    onFailure: (address, account) => pool?.authFailed(address, account),
  });
  // the SMTP sessions run here, or in `[smtp] processes` acceptor processes that accept on the
  // sockets bound here (acceptor-pool.ts); this process keeps the queue and the deliveries
  const pool = config.smtp.processes > 1 && backends.store instanceof FsQueueStore
    ? new AcceptorPool({
        count: config.smtp.processes,
        config: (): Config => reloader.config,
        store: backends.store,
        runner: local.runner,
        listeners: () => smtp.sharedListeners(),
        onAuthFailure: (address, account) => authThrottle.recordFailure(address, account),
        logger,
      })
    : undefined;
  // the default (2) where acceptors cannot run (PostgreSQL storage) is 1 without a word
  if (config.smtp.processes > 1 && !pool && config.smtp.processesSet !== false) logger.warn({ processes: config.smtp.processes }, 'smtp.processes ignored: acceptor processes need the files spool; SMTP runs in this process');
  const smtpService = buildSmtpService(config, backends, { tls, authThrottle, ...(pool && { acceptElsewhere: true }) });
  const { smtp, policiesFor } = smtpService;
  const pop3 = new Pop3Server({
    hostname: config.hostname,
    mailboxes,
    authenticate: countingAuthenticate('pop3', authenticate),
    tls,
    authThrottle,
    authFailureDelayMs: config.auth.failureDelay,
    maxConnections: config.pop3.maxConnections,
    maxConnectionsPerIp: config.pop3.maxConnectionsPerIp,
  });

  // IMAP (issue 14): the same Maildir as delivery and POP3, with its folders and UIDs
  // the folder face of the mailboxes, shared by IMAP and JMAP (one lock per folder in this process)
  const folders = backends.folders;
  const imap = new ImapServer({
    hostname: config.hostname,
    folders,
    authenticate: countingAuthenticate('imap', authenticate),
    tls,
    authThrottle,
    authFailureDelayMs: config.auth.failureDelay,
    maxConnections: config.imap.maxConnections,
    maxConnectionsPerIp: config.imap.maxConnectionsPerIp,
    plaintextAuth: config.imap.plaintextAuth,
    appendLimit: config.imap.appendLimit,
    quota: backends.quota,
    fetchCache,
  });

  const file = config.file;
  const reloader = new Reloader(
    {
      backends,
      smtp,
      pop3,
      imap,
      logger,
      policiesFor,
      readConfig: opts.readConfig ?? (() => (file ? loadConfig({ path: file }) : config)),
      onTls: (t) => {
        if (t) web?.setTls(t);
      },
      // acceptor processes take the configuration by being replaced (acceptor-pool.ts)
      ...(pool && { startAcceptors: (next: Config) => pool.replace(next) }),
    },
    config,
  );

  const stops: (() => Promise<void>)[] = [];
  let monitoring: Monitoring | undefined;
  const closeMetrics = async (): Promise<void> => {
    await monitoring?.close();
  };
  let pop3Bound: { host: string; port: number }[] = [];
  let imapBound: { host: string; port: number }[] = [];
  let web: WebServices | undefined;
  // listeners bind first (with root's effective uid when serve was started by root, for ports
  // below 1024), the queue runner starts after them, so nothing is written while root is back
  const bind = <T>(fn: () => Promise<T>): Promise<T> => (opts.privileges ? opts.privileges.bind(fn) : fn());
  try {
    await bind(async () => {
      await smtp.listen([
        ...config.smtp.listen.map((a) => ({ ...a, mode: 'mx' as const })),
        ...config.smtp.submission.map((a) => ({ ...a, mode: 'submission' as const })),
        ...(tls ? config.smtp.submissions.map((a) => ({ ...a, mode: 'submissions' as const })) : []),
        // LMTP (RFC 2033, issue 18): the same sessions and intake, one reply per recipient
        ...config.lmtp.listen.map((a) => ({ ...a, mode: 'lmtp' as const })),
      ]);
      // the acceptors stop after the listeners (closed here, they stay open in the acceptors
      // until each stops): their sessions finish as this process's do
      stops.unshift(async () => {
        await smtp.close();
        await pool?.stop();
      });
      const pop3Listen = [
        ...config.pop3.listen.map((a) => ({ host: a.host, port: a.port })),
        ...(tls ? config.pop3.listenTls.map((a) => ({ host: a.host, port: a.port, implicitTls: true })) : []),
      ];
      if (pop3Listen.length > 0) {
        pop3Bound = await pop3.listen(pop3Listen);
        stops.unshift(() => pop3.close());
      }
      imapBound = await listenImap(imap, config, tls !== undefined, logger);
      stops.unshift(() => imap.close());
    });
    // UNIX sockets bound with root's uid become run_as's, as every other file of the server
    await opts.privileges?.own(listenKeys(config).flatMap((k) => (k.address.path !== undefined ? [k.address.path] : [])));
    // the web (issue 16): JMAP, admin API, HTTP submission, webmail (app/web-services.ts); its
    // token database is made as run_as, only its listeners bind with root
    // HTTP sending (JMAP EmailSubmission) takes the submission listener's checks of the configuration in force
    let submissionPolicy: { config: Config; policy: ReturnType<typeof policiesFor>['submission'] } | undefined;
    const submitter = messageSubmitter({
      intake: () => backends.intake,
      policy: () => {
        if (submissionPolicy?.config !== reloader.config) submissionPolicy = { config: reloader.config, policy: policiesFor(reloader.config).submission };
        return submissionPolicy.policy;
      },
    });
    const w = await startWeb({ backends, folders, searchIndex: backends.searchIndex, submitter, throttle: authThrottle, logger, tls, config: () => reloader.config, bind, control: (req) => handleControl(req), logTail: (n) => mailLog.tail(n), activity: (n) => activity.series(n) });
    web = w;
    stops.unshift(() => w.close());
    const control = await startControlServer(controlSocketPath(config), (req) => handleControl(req));
    stops.unshift(() => control.close());
    // mailq and sendmail -bv for every local user (public-socket.ts)
    const open = await startPublicServer(config, publicHandler(() => backends.store, () => backends.resolver));
    stops.unshift(() => open.close());
    // [metrics] listen: closed last, so that /readyz says "not ready" through the drain
    const m = await bind(() => startMonitoring(config, { smtpSessions: () => withAcceptors(smtp.connectionsByMode(), pool?.sessions()), pop3Sessions: () => pop3.connectionCount, imapSessions: () => imap.connectionCount, ...(pool && { acceptors: () => pool.status() }), runner: local.runner, logger }));
    monitoring = m;
    opts.privileges?.dropForGood();
    // the web's index catch-up writes mail folders: only now, with root given up for good
    // (a bind above takes root back for the whole process while it awaits)
    w.startIndexing();
    await local.runner.start();
    // the queue loads in the background (a saved schedule's rescan, or after a crash a walk of every envelope)
    void local.runner.loaded().then(() => {
      logger.info({ envelopes: local.runner.size, parked: local.runner.parked }, 'queue loaded');
      // what the load read and listed is garbage now: a big queue's would stay in a grown heap
      collectGarbage();
      // the spool's listings of msg/ and env/ (leftovers of a crash), after the queue's load's own
      if (backends.store instanceof FsQueueStore) {
        void backends.store.recoverRest()?.then(
          (r) => logger.info({ messages: r.messages, removed: r.removed.length, corrupted: r.corrupted.length }, 'spool recovered'),
          (err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'spool recovery after start failed; leftovers stay until the next start'),
        );
      }
    });
    // acceptor processes start once the runner takes their notices; until one listens, the
    // SMTP ports are only bound (connections are refused)
    await pool?.start();
    stops.push(() => local.stop());
    // any local user's `correio sendmail` (maildrop.ts): taken once the runner can deliver it
    const pickup = new MaildropPickup({ config: () => backends.config, intake: () => backends.intake, logger });
    await pickup.start();
    stops.unshift(() => pickup.stop());
    // [reports] send_tls / send_dmarc: the day before's reports, daily at send_at (report-timer.ts)
    const reportTimer = new ReportTimer({ config: () => backends.config, backends, clock: backends.clock, log: (kind, line) => logger.info({ report: kind }, line) });
    reportTimer.start();
    stops.unshift(() => reportTimer.stop());
    stops.push(closeMetrics);
  } catch (err) {
    for (const s of stops) await s().catch(() => undefined);
    if (!stops.includes(closeMetrics)) await closeMetrics().catch(() => undefined);
    smtpService.close();
    await backends.close().catch(() => undefined);
    mailLog.stop();
    activity.stop();
    stopAdminLog();
    await history.stop();
    throw err;
  }


  function handleControl(req: ControlRequest): Promise<ControlResponse> {
    if (req.op === 'reload') {
      return reloader.reload().then((r) => ({ ok: r.ok, ...(r.error !== undefined && { error: r.error }), ...(r.restartNeeded && { restartNeeded: r.restartNeeded }) }));
    }
    const done: Promise<ControlResponse> = handleDeliveryControl(local.runner, req);
    return done.then((res) => {
      // every queue command an operator gives is logged (and kept in the history) with who gave it
      if (res.ok && (req.op === 'flush' || req.op === 'hold' || req.op === 'release' || req.op === 'delete' || req.op === 'bounce')) {
        const id = req.id;
        adminChannel.publish({ action: req.op, ...(id !== undefined && { id, messageId: id.replace(/-\d+$/, '') }), count: res.count ?? 0, by: req.by ?? 'unknown', via: req.via ?? 'cli', ...(req.token !== undefined && { token: req.token }) });
      }
      return res;
    });
  }

  monitoring?.setReady(true);
  if (opts.privileges?.warning !== undefined) logger.warn({ user: opts.privileges.user }, opts.privileges.warning);
  logger.info(
    {
      ...(opts.privileges && { user: opts.privileges.user }),
      smtp: smtp.addresses().map((a) => `${formatListenAddress(a)}/${a.mode}`),
      imap: imapBound.map(formatListenAddress),
      pop3: pop3Bound.map(formatListenAddress),
      http: web?.addresses().map((a) => `${a.tls ? 'https' : 'http'}://${formatListenAddress(a)}/`),
      // [metrics] listen as bound: empty when off or not available (a warning said why)
      metrics: monitoring?.addresses().map((a) => `http://${formatListenAddress(a)}/metrics`) ?? [],
      dataDir: config.dataDir,
      // processes serving SMTP: this one (1) or, with acceptors, this one and the acceptors (their pids)
      smtpProcesses: pool ? config.smtp.processes : 1,
      ...(pool && { acceptors: pool.pids() }),
    },
    'correio started',
  );

  return {
    backends,
    runner: local.runner,
    control: handleControl,
    smtpAddresses: () => smtp.addresses(),
    pop3Addresses: () => pop3Bound.map((a) => ({ host: a.host, port: a.port })),
    imapAddresses: () => imapBound.map((a) => ({ host: a.host, port: a.port })),
    httpAddresses: () => web?.addresses() ?? [],
    ...(web && { web }),
    reload: () => reloader.reload(),
    metricsAddresses: () => monitoring?.addresses() ?? [],
    stop: async () => {
      monitoring?.setReady(false);
      for (const s of stops) await s().catch((err: unknown) => logger.error({ err }, 'stop'));
      smtpService.close();
      await backends.close();
      mailLog.stop();
      activity.stop();
      stopAdminLog();
      await history.stop();
      logger.info({}, 'correio stopped');
      if (output) {
        await output.stop();
        process.off('exit', flushAtExit);
      } else logger.flush();
    },
  };
}

/** This process's open SMTP sessions per mode plus the acceptor processes' (acceptor-pool.ts). */
function withAcceptors(own: readonly { mode: ListenMode; count: number }[], acceptors: ReadonlyMap<ListenMode, number> | undefined): { mode: ListenMode; count: number }[] {
  if (!acceptors) return [...own];
  const sum = new Map(own.map((m) => [m.mode, m.count]));
  for (const [mode, count] of acceptors) sum.set(mode, (sum.get(mode) ?? 0) + count);
  return [...sum].map(([mode, count]) => ({ mode, count }));
}

/**
 * Starts the IMAP listeners. The embedded default (127.0.0.1:2143, `imap.listen` absent) is
 * best effort, like the metrics address: when it is taken, correio runs without it and says so.
 */
async function listenImap(imap: ImapServer, config: Config, haveTls: boolean, logger: Logger): Promise<{ host: string; port: number }[]> {
  const tlsSpecs = haveTls ? config.imap.listenTls.map((a) => ({ host: a.host, port: a.port, implicitTls: true })) : [];
  const plain = config.imap.listen.map((a) => ({ host: a.host, port: a.port }));
  const bound: { host: string; port: number }[] = [];
  if (plain.length > 0) {
    try {
      bound.push(...(await imap.listen(plain)));
    } catch (err) {
      if (!config.imap.isDefault) throw err;
      logger.warn({ listen: '127.0.0.1:2143', err: (err as Error).message }, 'imap not served: 127.0.0.1:2143 is not available; set [imap] listen to another address, or [] for none');
    }
  }
  if (tlsSpecs.length > 0) bound.push(...(await imap.listen(tlsSpecs)));
  return bound.map((a) => ({ host: a.host, port: a.port }));
}
