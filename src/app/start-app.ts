/**
 * @module start-app
 * The composition root: config → backends → services. `correio serve` calls startApp and,
 * on SIGTERM/SIGINT, stop(): listeners close, sessions finish, the queue runner stops between
 * deliveries, the spool and directory close.
 * Standards: see the services.
 * Security: TLS material is loaded before anything listens; AUTH verifies against the directory.
 * Limitations: one process runs every service.
 */
import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';
import { startMailLog, type MailLog } from '../log/index.js';
import { RetryScheduler } from '../queue/index.js';
import { MaildirTransport, SmtpTransport, LmtpTransport, ListTransport, PipeTransport, FileTransport, ErrorTransport } from '../transport/index.js';
import { DnsResolver } from '../dns/index.js';
import { defaultSmtpTimeouts, type SmtpTimeouts } from '../client/index.js';
import { QueueRunner } from '../delivery/index.js';
import { DsnNotifier } from '../delivery/index.js';
import { MailboxVerifier, SmtpServer } from '../server/smtp/index.js';
import { Pop3Server } from '../server/pop3/index.js';
import type { Transport } from '../core/index.js';
import { openBackends, type Backends } from './backends.js';
import { controlSocketPath, startControlServer, type ControlRequest, type ControlResponse } from './control.js';
import { loadOrMakeTls } from './tls-files.js';

export interface RunningApp {
  readonly backends: Backends;
  readonly runner: QueueRunner;
  /** bound SMTP addresses (ports resolved when the config said 0) */
  smtpAddresses(): { host: string; port: number; mode: string }[];
  pop3Addresses(): { host: string; port: number }[];
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
}

export async function startApp(config: Config, opts: StartOptions = {}): Promise<RunningApp> {
  const logger = opts.logger ?? pino({ level: config.log.level, base: { host: config.hostname } });
  const mailLog: MailLog = startMailLog(logger);
  const backends = await openBackends(config, {
    watchAliases: true,
    onAliasesLoaded: (errors, count) => {
      for (const e of errors) logger.warn({ file: config.aliasesFile }, e);
      logger.info({ file: config.aliasesFile, aliases: count }, 'aliases loaded');
    },
  });
  const { directory, store, mailboxes, intake, clock } = backends;
  const postmaster = `postmaster@${config.localDomains[0]}`;

  const dns = new DnsResolver({
    servers: config.delivery.dnsServers.map((a) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`)),
    cache: {},
  });
  const ownAddresses = [...config.smtp.listen, ...config.smtp.submission, ...config.smtp.submissions].map(
    (a) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`),
  );
  // delivery.smtp_timeout caps each of RFC 5321 §4.5.3.2's client timeouts (tests, impatient operators)
  const cap = config.delivery.smtpTimeout;
  const timeouts: Partial<SmtpTimeouts> | undefined =
    cap === undefined
      ? undefined
      : Object.fromEntries(Object.entries(defaultSmtpTimeouts).map(([k, v]) => [k, Math.min(v, cap)]));
  const transports = new Map<string, Transport>();
  const add = (t: Transport): void => void transports.set(t.name, t);
  add(new MaildirTransport({ mailboxes, directory }));
  // one idle session per delivery that may run at once to a route, so none is closed between rounds
  const reuse = { maxIdlePerRoute: config.delivery.concurrencyPerRoute };
  const smtpOut = new SmtpTransport({ hostname: config.hostname, dns, port: config.delivery.mxPort, ownAddresses, timeouts, reuse });
  const lmtpOut = new LmtpTransport({ hostname: config.hostname, dns, port: 24, ownAddresses, timeouts, reuse });
  add(smtpOut);
  add(lmtpOut);
  add(new ListTransport({ intake, directory }));
  add(new PipeTransport());
  add(new FileTransport());
  add(new ErrorTransport());

  const scheduler = new RetryScheduler({
    retryMin: config.delivery.retryMin,
    retryMax: config.delivery.retryMax,
    maxQueueLifetime: config.delivery.maxQueueLifetime,
    delayWarning: config.delivery.delayWarning,
  });
  const notifier = new DsnNotifier({
    hostname: config.hostname,
    store,
    intake,
    clock,
    postmaster,
    maxQueueLifetime: config.delivery.maxQueueLifetime,
  });
  const runner = new QueueRunner({
    store,
    scheduler,
    transports,
    notifier,
    clock,
    concurrency: config.delivery.concurrency,
    perRouteConcurrency: config.delivery.concurrencyPerRoute,
  });
  backends.setOnQueued((envs) => runner.enqueue(envs));

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
  // RFC 5321 §3.5, §7.3: VRFY/EXPN answered for trusted networks and authenticated users only
  const verifier = new MailboxVerifier({ directory, resolver: backends.resolver, primaryDomain: config.localDomains[0] });
  const smtp = new SmtpServer({
    intake,
    hostname: config.hostname,
    maxMessageSize: config.smtp.maxMessageSize,
    maxRecipients: config.smtp.maxRecipients,
    maxConnections: config.smtp.maxConnections,
    maxConnectionsPerIp: config.smtp.maxConnectionsPerIp,
    commandTimeoutMs: config.smtp.commandTimeout,
    dataTimeoutMs: config.smtp.dataTimeout,
    trustedNetworks: config.smtp.trustedNetworks,
    tls,
    authenticate,
    vrfy: (session, argument) => verifier.vrfy(session, argument),
    expn: (session, argument) => verifier.expn(session, argument),
  });
  const pop3 = new Pop3Server({ hostname: config.hostname, mailboxes, authenticate, tls });

  const stops: (() => Promise<void>)[] = [];
  let pop3Bound: { host: string; port: number }[] = [];
  try {
    await runner.start();
    stops.push(() => runner.stop());
    // kept outbound sessions would hold the process open until their idle timers fire
    stops.push(async () => void (await Promise.all([smtpOut.close(), lmtpOut.close()])));
    await smtp.listen([
      ...config.smtp.listen.map((a) => ({ ...a, mode: 'mx' as const })),
      ...config.smtp.submission.map((a) => ({ ...a, mode: 'submission' as const })),
      ...(tls ? config.smtp.submissions.map((a) => ({ ...a, mode: 'submissions' as const })) : []),
    ]);
    stops.unshift(() => smtp.close());
    const pop3Listen = [
      ...config.pop3.listen.map((a) => ({ host: a.host, port: a.port })),
      ...(tls ? config.pop3.listenTls.map((a) => ({ host: a.host, port: a.port, implicitTls: true })) : []),
    ];
    if (pop3Listen.length > 0) {
      pop3Bound = await pop3.listen(pop3Listen);
      stops.unshift(() => pop3.close());
    }
    const control = await startControlServer(controlSocketPath(config), (req) => handleControl(req));
    stops.unshift(() => control.close());
  } catch (err) {
    for (const s of stops) await s().catch(() => undefined);
    await backends.close().catch(() => undefined);
    mailLog.stop();
    throw err;
  }

  async function handleControl(req: ControlRequest): Promise<ControlResponse> {
    switch (req.op) {
      case 'ping':
        return { ok: true };
      case 'wake':
        await runner.rescan();
        return { ok: true };
      case 'flush':
        return { ok: true, count: await runner.flush(req.id) };
      case 'hold':
        return { ok: true, count: await runner.hold(req.id) };
      case 'release':
        return { ok: true, count: await runner.release(req.id) };
      case 'delete':
        return { ok: true, count: await runner.delete(req.id) };
      case 'bounce':
        return { ok: true, count: await runner.bounce(req.id) };
    }
  }

  logger.info(
    { smtp: smtp.addresses().map((a) => `${a.host}:${a.port}/${a.mode}`), dataDir: config.dataDir },
    'correio started',
  );

  return {
    backends,
    runner,
    smtpAddresses: () => smtp.addresses(),
    pop3Addresses: () => pop3Bound.map((a) => ({ host: a.host, port: a.port })),
    stop: async () => {
      for (const s of stops) await s().catch((err: unknown) => logger.error({ err }, 'stop'));
      await backends.close();
      mailLog.stop();
      logger.info({}, 'correio stopped');
    },
  };
}
