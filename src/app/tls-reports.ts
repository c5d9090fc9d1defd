/**
 * @module tls-reports
 * TLS-RPT (RFC 8460) for the site: the recorder that counts each outbound TLS session in
 * `<data_dir>/reports.sqlite` (subscribed to `channels.tlsResult` where the transports run),
 * and `correio tls-report send`: for each policy domain with results on a day, the report to
 * every `rua` of its `_smtp._tls` record, by mail through intake and the queue (mailto:) or by
 * HTTPS POST (https:).
 * Standards: RFC 8460 §3 (discovery), §5.3 (mail), §5.4 (HTTPS POST of application/tlsrpt+gzip,
 *   a 2xx is success).
 * Security: the POST checks the server certificate (system CAs plus `delivery.mta_sts_ca`);
 *   the report mail is an internal submission, sent from postmaster of the first local domain.
 * Limitations: run the command once a day (cron) for the day before; a domain whose every
 *   destination failed is tried again at the next run for that day; no timer inside serve.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { formatListenAddress, type Config } from '../config/index.js';
import { channels, type TlsSessionResult } from '../core/index.js';
import { parseMailbox } from '../address/index.js';
import { DnsResolver } from '../dns/index.js';
import { internalSession } from '../delivery/index.js';
import { ReportStore, buildTlsReport, tlsReportFile, tlsReportMessage, tlsRptDestinations, postReport, utcDay } from '../policy/index.js';
import type { Backends } from './backends.js';

export function reportStoreFile(config: Config): string {
  return join(config.dataDir, 'reports.sqlite');
}

/** Starts counting outbound TLS sessions; returns the function that stops it. */
export function recordTlsResults(config: Config): () => void {
  let store: ReportStore | undefined;
  const onResult = (message: unknown): void => {
    try {
      store ??= ReportStore.open(reportStoreFile(config));
      store.recordTls(message as TlsSessionResult);
    } catch {
      // a report that misses a session is better than a delivery that fails for it
    }
  };
  subscribe(channels.tlsResult, onResult);
  return () => {
    unsubscribe(channels.tlsResult, onResult);
    store?.close();
  };
}

/** Extra CAs trusted for report POSTs (`delivery.mta_sts_ca`), as for MTA-STS policy hosts. */
function extraCa(config: Config): string[] {
  const file = config.delivery.mtaStsCa;
  return file === undefined ? [] : [readFileSync(file, 'utf8')];
}

/** Submits one message from postmaster through intake (the queue delivers it). */
export async function submitReport(b: Backends, from: string, to: string, message: Buffer): Promise<void> {
  const sender = parseMailbox(from);
  const rcpt = parseMailbox(to);
  const mail = { body: '7BIT' as const };
  await b.intake.checkSender(internalSession, sender, mail);
  const accepted = await b.intake.checkRecipient(internalSession, sender, rcpt, {});
  await b.intake.receive({ session: internalSession, sender, mail, recipients: [accepted] }, message);
}

/** `correio tls-report send`: one line per domain saying what was sent where. */
export async function sendTlsReports(config: Config, b: Backends, day: string): Promise<string[]> {
  const store = ReportStore.open(reportStoreFile(config));
  const dns = new DnsResolver({ servers: config.delivery.dnsServers.map(formatListenAddress) });
  const from = `postmaster@${config.localDomains[0]}`;
  const out: string[] = [];
  try {
    for (const domain of store.tlsDomains(day)) {
      if (store.wasSent('tls', domain, day)) {
        out.push(`${domain}: the report for ${day} was sent already`);
        continue;
      }
      const txt = await dns.findTxt(`_smtp._tls.${domain}`);
      if (txt.kind === 'temporary') {
        out.push(`${domain}: TLS-RPT lookup failed (${txt.error}); run again later`);
        continue;
      }
      const rua = txt.kind === 'found' ? tlsRptDestinations(txt.records) : undefined;
      if (!rua) {
        out.push(`${domain}: no TLS-RPT record, nothing sent`);
        continue;
      }
      const meta = { domain, day, submitter: config.hostname, organization: config.hostname, contact: from };
      const report = buildTlsReport(store.tlsRows(day, domain), meta);
      let sent = 0;
      for (const uri of rua) {
        try {
          if (uri.toLowerCase().startsWith('mailto:')) {
            const to = decodeURIComponent(uri.slice('mailto:'.length));
            await submitReport(b, from, to, tlsReportMessage(report, meta, from, to));
          } else {
            await postReport(uri, tlsReportFile(report, meta).data, 'application/tlsrpt+gzip', extraCa(config));
          }
          sent++;
          out.push(`${domain}: report for ${day} sent to ${uri}`);
        } catch (err) {
          out.push(`${domain}: report to ${uri} failed: ${(err as Error).message}`);
        }
      }
      if (sent > 0) store.markSent('tls', domain, day);
    }
    store.pruneBefore(utcDay(Date.parse(`${day}T00:00:00Z`) - 30 * 86_400_000));
  } finally {
    store.close();
    dns.cancel();
  }
  if (out.length === 0) out.push(`no outbound TLS sessions recorded for ${day}`);
  return out;
}
