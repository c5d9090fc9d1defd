/**
 * @module reload
 * `SIGHUP` and `correio reload`: re-read correio.toml, the aliases file and the TLS certificate
 * while the server runs, without dropping a connection or a message. The new configuration is
 * validated whole first (the same errors as at start); when anything is wrong it is refused,
 * the error is logged, and the running configuration stays. When it is good, the sessions that
 * start from then on use it (sessions in progress finish with the settings they began with):
 * local domains, hostname, message size and recipient limits, connection limits, timeouts,
 * trusted networks, the certificate, the aliases file, the log level.
 * Standards: none (Postfix's `postfix reload`, OpenSMTPD's SIGHUP-less restart are the models).
 * With `[smtp] processes` > 1, new acceptor processes must accept with the new configuration
 * before anything changes; when none can (each ends at its start), the reload is refused naming
 * the cause and the old ones go on serving (acceptor-pool.ts).
 * Security: a certificate that does not match its key is refused before anything changes, so a
 *   botched renewal cannot turn TLS off.
 * Limitations: what is bound or built once at start needs a restart, and the reload says which
 *   of those keys changed: listen addresses, data_dir, storage, [delivery] (the queue runner,
 *   routes and transports), [auth], pop3 connection limits.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config/index.js';
import { CidrList } from '../address/index.js';
import type { SmtpServer, SmtpServerOptions } from '../server/smtp/index.js';
import type { Pop3Server } from '../server/pop3/index.js';
import type { ImapServer } from '../server/imap/index.js';
import type { AcceptorSwap } from './acceptor-pool.js';
import type { Backends } from './backends.js';
import { loadOrMakeTls } from './tls-files.js';

export interface ReloadResult {
  ok: boolean;
  /** why the new configuration was refused (the first problem) */
  error?: string;
  /** keys that changed but take effect only at the next start */
  restartNeeded?: string[];
}

export interface ReloadTargets {
  readonly backends: Backends;
  readonly smtp: SmtpServer;
  readonly pop3: Pop3Server;
  readonly imap?: ImapServer;
  readonly logger: Logger;
  /** the SMTP checks of each listener, as a configuration describes them */
  readonly policiesFor: (config: Config) => NonNullable<SmtpServerOptions['policies']>;
  /** reads and validates the configuration again (the file `serve` was started with) */
  readonly readConfig: () => Config;
  /** called with the TLS material now in force */
  readonly onTls?: (tls: { key: Buffer; cert: Buffer } | undefined) => void;
  /**
   * `[smtp] processes`: starts new acceptor processes with the new configuration and resolves
   * once one accepts, rejecting when none can (acceptor-pool.ts); checked before anything changes
   */
  readonly startAcceptors?: (next: Config) => Promise<AcceptorSwap>;
}

/** The keys whose change needs a restart, compared between two configurations. */
export function restartOnlyChanges(a: Config, b: Config): string[] {
  const pairs: [string, unknown, unknown][] = [
    ['data_dir', a.dataDir, b.dataDir],
    ['storage', a.storage, b.storage],
    ['smtp.listen', a.smtp.listen, b.smtp.listen],
    ['smtp.submission', a.smtp.submission, b.smtp.submission],
    ['smtp.submissions', a.smtp.submissions, b.smtp.submissions],
    ['smtp.socket_mode', a.smtp.socketMode, b.smtp.socketMode],
    ['lmtp', a.lmtp, b.lmtp],
    ['webhook', a.webhook, b.webhook],
    ['pop3.listen', a.pop3.listen, b.pop3.listen],
    ['pop3.listen_tls', a.pop3.listenTls, b.pop3.listenTls],
    ['pop3.max_connections', a.pop3.maxConnections, b.pop3.maxConnections],
    ['pop3.max_connections_per_ip', a.pop3.maxConnectionsPerIp, b.pop3.maxConnectionsPerIp],
    ['imap', a.imap, b.imap],
    ['http.listen', a.http.listen, b.http.listen],
    ['http.listen_tls', a.http.listenTls, b.http.listenTls],
    ['http.max_body_size', a.http.maxBodySize, b.http.maxBodySize],
    ['delivery', a.delivery, b.delivery],
    ['auth', a.auth, b.auth],
  ];
  return pairs.filter(([, x, y]) => JSON.stringify(x) !== JSON.stringify(y)).map(([k]) => k);
}

/** Applies reloads one at a time (a second SIGHUP during a reload waits for the first). */
export class Reloader {
  #current: Config;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly targets: ReloadTargets,
    running: Config,
  ) {
    this.#current = running;
  }

  get config(): Config {
    return this.#current;
  }

  reload(): Promise<ReloadResult> {
    const run = this.#queue.then(() => this.#reload());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #reload(): Promise<ReloadResult> {
    const { backends, smtp, pop3, logger } = this.targets;
    const refuse = (error: string, problems?: readonly string[]): ReloadResult => {
      logger.error({ problems: problems ?? [error] }, `reload refused, the running configuration stays: ${error}`);
      return { ok: false, error };
    };
    let next: Config;
    try {
      next = this.targets.readConfig();
    } catch (err) {
      if (err instanceof ConfigError) return refuse(err.message, err.problems);
      return refuse(err instanceof Error ? err.message : String(err));
    }
    const restartNeeded = restartOnlyChanges(this.#current, next);

    // everything that can fail is checked before anything changes
    let tls: { key: Buffer; cert: Buffer } | undefined;
    try {
      const t = await loadOrMakeTls(next);
      if ('error' in t) logger.warn({}, t.error);
      else {
        tls = { key: t.key, cert: t.cert };
        createSecureContext(tls);
        // node accepts a key that does not belong to the certificate; every handshake would fail
        if (!new X509Certificate(t.cert).checkPrivateKey(createPrivateKey(t.key))) throw new Error('the certificate does not match the key');
      }
      new CidrList(next.smtp.trustedNetworks);
    } catch (err) {
      const what = next.smtp.tlsCert ? `smtp.tls_cert/smtp.tls_key (${next.smtp.tlsCert}, ${next.smtp.tlsKey})` : 'the TLS certificate';
      return refuse(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
    // the new acceptor processes must accept before the old ones are retired: when none can
    // start, the old ones go on with the running configuration
    let swap: AcceptorSwap | undefined;
    try {
      swap = await this.targets.startAcceptors?.(next);
    } catch (err) {
      return refuse(err instanceof Error ? err.message : String(err));
    }
    try {
      await backends.reload(next);
    } catch (err) {
      await swap?.abort();
      return refuse(err instanceof Error ? err.message : String(err));
    }
    smtp.reconfigure({
      intake: backends.intake,
      hostname: next.hostname,
      maxMessageSize: next.smtp.maxMessageSize,
      maxRecipients: next.smtp.maxRecipients,
      maxConnections: next.smtp.maxConnections,
      maxConnectionsPerIp: next.smtp.maxConnectionsPerIp,
      commandTimeoutMs: next.smtp.commandTimeout,
      dataTimeoutMs: next.smtp.dataTimeout,
      trustedNetworks: next.smtp.trustedNetworks,
      tls,
      policies: this.targets.policiesFor(next),
    });
    if (tls) pop3.setTls(tls);
    if (tls) this.targets.imap?.setTls(tls);
    this.targets.onTls?.(tls);
    logger.level = next.log.level;
    this.#current = next;
    // answered once the old acceptors accept no more: the next session is a new one's
    await swap?.retireOld();
    logger.info({ file: next.file, restartNeeded }, 'configuration reloaded');
    if (restartNeeded.length > 0) logger.warn({ keys: restartNeeded }, `changed keys that take effect at the next start: ${restartNeeded.join(', ')}`);
    return { ok: true, restartNeeded };
  }
}
