/**
 * @module smtp-service
 * The SMTP server as the configuration makes it, with the checks of every listener mode
 * (policy/), VRFY/EXPN answers, greylisting and DMARC report counting: built the same way by
 * the server (start-app.ts) and by each acceptor process (acceptor-process.ts), so both run
 * the same sessions.
 * Standards: RFC 5321 §3.5 and §7.3 (VRFY/EXPN for trusted clients only), RFC 7489 §7.2.
 * Security: AUTH verifies against the directory, counted per service for the metrics.
 * Limitations: the connection counts are per process: with `[smtp] processes` above 1, each
 *   acceptor counts its own sessions against its share of the limits (acceptor-limits.ts);
 *   AUTH failures are shared through the server (acceptor-pool.ts).
 */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { GreylistStore, MailboxVerifier, smtpPolicyFromConfig } from '../policy/index.js';
import type { AuthThrottle } from '../policy/auth-throttle.js';
import { SmtpServer } from '../server/smtp/index.js';
import type { Backends } from './backends.js';
import { dmarcRecorder } from './daily-reports.js';
import { dmarcFailureReporter } from './dmarc-failures.js';
import { mailAuthDns } from './mail-auth.js';
import { countingAuthenticate } from './monitoring.js';

export interface SmtpService {
  readonly smtp: SmtpServer;
  /** the checks of every listener mode for a configuration (start, reload) */
  readonly policiesFor: (c: Config) => ReturnType<typeof smtpPolicyFromConfig>;
  /** closes what the checks keep open (the greylist store, the DMARC counter) */
  readonly close: () => void;
}

export interface SmtpServiceDeps {
  readonly tls: { key: Buffer; cert: Buffer } | undefined;
  readonly authThrottle: AuthThrottle;
  /** the listeners are only bound here; acceptor processes accept on them (acceptor-pool.ts) */
  readonly acceptElsewhere?: boolean;
}

export function buildSmtpService(config: Config, backends: Backends, deps: SmtpServiceDeps): SmtpService {
  const { directory, intake } = backends;
  // RFC 5321 §3.5, §7.3: VRFY/EXPN answered for trusted networks and authenticated users only
  // (the policy's known-clients-only check); the checks of every listener come from the config
  const verifier = new MailboxVerifier({ directory, resolver: backends.resolver, primaryDomain: config.localDomains[0] });
  // [abuse] greylist: the triplet store is opened when first needed (start or reload), closed at stop
  let greylist: GreylistStore | undefined;
  const greylistFor = (c: Config): GreylistStore | undefined => {
    if (c.abuse.greylist && !greylist) greylist = new GreylistStore(join(c.dataDir, 'greylist.sqlite'));
    return c.abuse.greylist ? greylist : undefined;
  };
  // RFC 7489 §7.2: inbound DMARC evaluations counted for `correio dmarc-report send`
  const dmarcReports = dmarcRecorder(config);
  // RFC 7489 §7.3: failure reports, when [reports] dmarc_failure is on (dmarc-failures.ts)
  const dmarcFailures = dmarcFailureReporter(() => backends.config, backends);
  const policiesFor = (c: Config): ReturnType<typeof smtpPolicyFromConfig> =>
    smtpPolicyFromConfig(c, {
      directory,
      dmarcReports: dmarcReports.record,
      ...(dmarcFailures ? { dmarcFailures } : {}),
      ...(c.mailAuth.verifyInbound || c.abuse.dnsbl.length > 0 || c.abuse.dnswl.length > 0 ? { dns: mailAuthDns(c) } : {}),
      ...(greylistFor(c) ? { greylist: greylistFor(c) } : {}),
      answers: { vrfy: (session, argument) => verifier.vrfy(session, argument), expn: (session, argument) => verifier.expn(session, argument) },
    });
  const smtp = new SmtpServer({
    intake,
    hostname: config.hostname,
    maxMessageSize: config.smtp.maxMessageSize,
    maxRecipients: config.smtp.maxRecipients,
    commandTimeoutMs: config.smtp.commandTimeout,
    dataTimeoutMs: config.smtp.dataTimeout,
    minDataRate: config.smtp.minDataRate,
    tls: deps.tls,
    authenticate: countingAuthenticate('smtp', (user, password) => directory.verifyPassword(user, password)),
    authThrottle: deps.authThrottle,
    authFailureDelayMs: config.auth.failureDelay,
    policies: policiesFor(config),
    socketMode: config.smtp.socketMode,
    lmtpSocketMode: config.lmtp.socketMode,
    ...(deps.acceptElsewhere && { acceptElsewhere: true }),
  });
  return {
    smtp,
    policiesFor,
    close: () => {
      greylist?.close();
      dmarcReports.stop();
    },
  };
}
