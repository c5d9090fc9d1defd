/**
 * @module delivery-services
 * The delivery side of correio, built from config and backends: the transports (maildir, smtp,
 * lmtp, list, pipe, file, webhook, error), the retry scheduler, the DSN notifier and the queue runner.
 * start-app builds it beside the listeners; control requests are answered through handleControl.
 * Standards: RFC 5321 §4.5.3.2 (client timeouts, capped by delivery.smtp_timeout).
 * Security: the notifier re-enters through intake (null sender), never around it.
 * Limitations: none.
 */
import { ReportInbox } from './report-inbox.js';
import { formatListenAddress, type Config } from '../config/index.js';
import { RetryScheduler } from '../queue/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MaildirTransport, SmtpTransport, LmtpTransport, ListTransport, PipeTransport, FileTransport, ErrorTransport, WebhookTransport, MtaStsPolicies, DanePolicies, SqliteStsCache, type SmtpTransportOptions } from '../transport/index.js';
import { DnsResolver, SecureDns } from '../dns/index.js';
import { defaultSmtpTimeouts, type SmtpTimeouts } from '../client/index.js';
import { QueueRunner, DsnNotifier } from '../delivery/index.js';
import type { QueueControl, Transport } from '../core/index.js';
import { sharedStorage, type Backends } from './backends.js';
import { listSealerFor } from './mail-auth.js';
import { recordTlsResults } from './daily-reports.js';
import type { ControlRequest, ControlResponse } from './control.js';

export interface DeliveryServices {
  readonly runner: QueueRunner;
  /** stops the runner (its grace, then in-flight deliveries defer) and closes kept sessions */
  stop(): Promise<void>;
}

/** `delivery.mta_sts`: the policies of recipient domains (RFC 8461) and the extra CAs trusted for them. */
function mtaStsOf(config: Config, dns: DnsResolver): { opts: Pick<SmtpTransportOptions, 'mtaSts'>; close(): void } {
  const d = config.delivery;
  if (!d.mtaSts) return { opts: {}, close: () => undefined };
  let ca: string[] = [];
  if (d.mtaStsCa !== undefined) {
    try {
      ca = [readFileSync(d.mtaStsCa, 'utf8')];
    } catch (err) {
      throw new Error(`delivery.mta_sts_ca: cannot read ${d.mtaStsCa} (${(err as NodeJS.ErrnoException).code ?? String(err)}); fix the path or remove the key`);
    }
  }
  // RFC 8461 §5.1: policies survive a restart
  const cache = new SqliteStsCache(join(config.dataDir, 'mta-sts.sqlite'));
  return { opts: { mtaSts: { policies: new MtaStsPolicies({ dns, port: d.mtaStsPort, ca, cache }), ca } }, close: () => cache.close() };
}

/** `delivery.dane`: TLSA records of MX hosts, validated by the configured resolver (RFC 7672). */
function daneOf(config: Config): Pick<SmtpTransportOptions, 'dane'> {
  if (!config.delivery.dane) return {};
  return { dane: new DanePolicies({ dns: new SecureDns({ servers: config.delivery.dnsServers.map(formatListenAddress) }) }) };
}

/** Builds transports, scheduler, notifier and runner on `backends` (not started). */
export function buildDeliveryServices(config: Config, backends: Backends): DeliveryServices {
  const { directory, store, mailboxes, intake, clock, quota } = backends;
  const postmaster = `postmaster@${config.localDomains[0]}`;
  const dns = new DnsResolver({ servers: config.delivery.dnsServers.map(formatListenAddress), cache: {} });
  const ownAddresses = [...config.smtp.listen, ...config.smtp.submission, ...config.smtp.submissions, ...config.lmtp.listen].map(formatListenAddress);
  // delivery.smtp_timeout caps each of RFC 5321 §4.5.3.2's client timeouts (tests, impatient operators)
  const cap = config.delivery.smtpTimeout;
  const timeouts: Partial<SmtpTimeouts> | undefined =
    cap === undefined
      ? undefined
      : Object.fromEntries(Object.entries(defaultSmtpTimeouts).map(([k, v]) => [k, Math.min(v, cap)]));
  const transports = new Map<string, Transport>();
  const add = (t: Transport): void => void transports.set(t.name, t);
  // RFC 7489 §6.3: mail the inbound DMARC check quarantined goes to Junk (mail_auth.quarantine)
  // [reports] receive: reports delivered to those addresses are also read and kept (report-inbox.ts)
  add(new ReportInbox(new MaildirTransport({ mailboxes, directory, quota, ...(config.mailAuth.quarantine === 'junk' ? { quarantineFolder: 'Junk' } : {}) }), () => backends.config));
  // one idle session per delivery that may run at once to a route, so none is closed between rounds
  const reuse = { maxIdlePerRoute: config.delivery.concurrencyPerRoute };
  const sts = mtaStsOf(config, dns);
  const smtpOut = new SmtpTransport({ hostname: config.hostname, dns, port: config.delivery.mxPort, ownAddresses, timeouts, reuse, ...sts.opts, ...daneOf(config) });
  const lmtpOut = new LmtpTransport({ hostname: config.hostname, dns, port: 24, ownAddresses, timeouts, reuse });
  add(smtpOut);
  add(lmtpOut);
  // over the process's live keys (backends.dkim): a new list key seals without a restart
  const sealer = listSealerFor(config, backends.dkim.keys);
  add(new ListTransport({ intake, directory, ...(sealer ? { sealer } : {}) }));
  add(new PipeTransport());
  add(new FileTransport());
  add(new ErrorTransport());
  add(new WebhookTransport({ secrets: config.webhook.secrets, timeoutMs: config.webhook.timeout, hostname: config.hostname }));

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
    // a shared queue: envelopes committed on other nodes (or left by a dead one) are found by rescans
    ...(sharedStorage(config) && { pollIntervalMs: config.storage.pollIntervalMs }),
  });
  // RFC 8460: each outbound TLS session counted for the daily reports (`correio tls-report send`)
  const stopRecording = recordTlsResults(config);
  return {
    runner,
    stop: async () => {
      await runner.stop();
      stopRecording();
      // kept outbound sessions would hold the process (or thread) open until their idle timers fire
      await Promise.all([smtpOut.close(), lmtpOut.close()]);
      sts.close();
    },
  };
}

/** the most ids a `page` request may ask for (the listing's largest page and a little slack) */
const maxControlPage = 10_100;

/** Answers a control-socket request with the runner, the online QueueControl (flush/hold/release/delete/bounce/wake). */
export async function handleControl(
  runner: QueueControl & { rescan(): Promise<void>; pageIds(after: string | undefined, limit: number): string[] | undefined },
  req: ControlRequest,
): Promise<ControlResponse> {
  switch (req.op) {
    case 'ping':
      return { ok: true };
    case 'wake':
      await runner.rescan();
      return { ok: true };
    case 'page': {
      if (!Number.isSafeInteger(req.limit) || req.limit < 1 || req.limit > maxControlPage || (req.after !== undefined && typeof req.after !== 'string')) {
        return { ok: false, error: `page: limit must be a whole number from 1 to ${maxControlPage}` };
      }
      const ids = runner.pageIds(req.after, req.limit);
      return ids ? { ok: true, ids } : { ok: false, error: 'the queue is still being loaded' };
    }
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
    default:
      return { ok: false, error: 'unknown operation' };
  }
}
