/**
 * @module daily-reports
 * The site's daily reports, both kept in `<data_dir>/reports.sqlite`:
 * - TLS-RPT (RFC 8460): the recorder counting each outbound TLS session (subscribed to
 *   `channels.tlsResult` where the transports run), and `correio tls-report send`: each policy
 *   domain's report to every `rua` of its `_smtp._tls` record, by mail (mailto:) or HTTPS POST.
 * - DMARC aggregate reports (RFC 7489 §7.2): the recorder the inbound check calls for each
 *   evaluation whose record has a `rua`, and `correio dmarc-report send`: each policy domain's
 *   XML report to its `rua` addresses that pass the §7.1 external-destination check.
 * Mail goes through intake and the queue like any mail, from postmaster of the first local domain.
 * Standards: RFC 8460 §3, §5.3, §5.4 (POST of application/tlsrpt+gzip, a 2xx is success);
 *   RFC 7489 §7.1, §7.2.1.1.
 * Security: the POST checks the server certificate (system CAs plus `delivery.mta_sts_ca`);
 *   report destinations come from the DNS and are checked as above; a recorder failure never
 *   fails a delivery or a transaction.
 * Limitations: run once a day for the day before (cron, or `[reports]` in serve:
 *   report-timer.ts); a domain whose every destination failed is tried again at the next run
 *   for that day.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { formatListenAddress, type Config } from '../config/index.js';
import { channels, type TlsSessionResult } from '../core/index.js';
import { parseMailbox } from '../address/index.js';
import { DnsResolver } from '../dns/index.js';
import { internalSession } from '../delivery/index.js';
import {
  ReportStore,
  buildTlsReport,
  destinationAllowed,
  dmarcReportMessage,
  postReport,
  tlsReportFile,
  tlsReportMessage,
  tlsRptDestinations,
  utcDay,
  type DmarcEvaluation,
} from '../policy/index.js';
import type { Backends } from './backends.js';

export function reportStoreFile(config: Config): string {
  return join(config.dataDir, 'reports.sqlite');
}

/** A recorder on the report store, opened at first use; `stop` closes it. */
function recorder<T>(config: Config, record: (store: ReportStore, value: T) => void): { record: (value: T) => void; stop: () => void } {
  let store: ReportStore | undefined;
  return {
    record: (value) => {
      try {
        store ??= ReportStore.open(reportStoreFile(config));
        record(store, value);
      } catch {
        // a report that misses one event is better than mail that fails for it
      }
    },
    stop: () => store?.close(),
  };
}

/** Starts counting outbound TLS sessions; returns the function that stops it. */
export function recordTlsResults(config: Config): () => void {
  const r = recorder<TlsSessionResult>(config, (store, v) => store.recordTls(v));
  const onResult = (message: unknown): void => r.record(message as TlsSessionResult);
  subscribe(channels.tlsResult, onResult);
  return () => {
    unsubscribe(channels.tlsResult, onResult);
    r.stop();
  };
}

/** The DMARC evaluation recorder the inbound check is given (`dmarcReports` of the policy). */
export function dmarcRecorder(config: Config): { record: (e: DmarcEvaluation) => void; stop: () => void } {
  return recorder<DmarcEvaluation>(config, (store, e) => store.recordDmarc(e));
}

/** Extra CAs trusted for report POSTs (`delivery.mta_sts_ca`), as for MTA-STS policy hosts. */
function extraCa(config: Config): string[] {
  const file = config.delivery.mtaStsCa;
  return file === undefined ? [] : [readFileSync(file, 'utf8')];
}

/** Submits one message from `from` through intake (the queue delivers it). */
export async function submitReport(b: Backends, from: string, to: string, message: Buffer): Promise<void> {
  const sender = parseMailbox(from);
  const mail = { body: '7BIT' as const };
  await b.intake.checkSender(internalSession, sender, mail);
  const accepted = await b.intake.checkRecipient(internalSession, sender, parseMailbox(to), {});
  await b.intake.receive({ session: internalSession, sender, mail, recipients: [accepted] }, message);
}

interface ReportRun {
  readonly store: ReportStore;
  readonly dns: DnsResolver;
  readonly from: string;
}

/**
 * The loop both commands share: each domain of the day not yet sent is given to `send`, which
 * returns its lines and whether anything went out; old rows are pruned after.
 */
async function runReports(config: Config, kind: 'tls' | 'dmarc', day: string, domains: (s: ReportStore) => string[], send: (run: ReportRun, domain: string) => Promise<{ lines: string[]; sent: boolean }>): Promise<string[]> {
  const store = ReportStore.open(reportStoreFile(config));
  const dns = new DnsResolver({ servers: config.delivery.dnsServers.map(formatListenAddress) });
  const run = { store, dns, from: `postmaster@${config.localDomains[0]}` };
  const out: string[] = [];
  try {
    for (const domain of domains(store)) {
      if (store.wasSent(kind, domain, day)) {
        out.push(`${domain}: the report for ${day} was sent already`);
        continue;
      }
      const r = await send(run, domain);
      out.push(...r.lines);
      if (r.sent) store.markSent(kind, domain, day);
    }
    store.pruneBefore(utcDay(Date.parse(`${day}T00:00:00Z`) - 30 * 86_400_000));
  } finally {
    store.close();
    dns.cancel();
  }
  if (out.length === 0) out.push(`no ${kind === 'tls' ? 'outbound TLS sessions' : 'DMARC evaluations asking for reports'} recorded for ${day}`);
  return out;
}

/** `correio tls-report send`: one line per domain saying what was sent where. */
export function sendTlsReports(config: Config, b: Backends, day: string): Promise<string[]> {
  return runReports(config, 'tls', day, (s) => s.tlsDomains(day), async ({ store, dns, from }, domain) => {
    const txt = await dns.findTxt(`_smtp._tls.${domain}`);
    if (txt.kind === 'temporary') return { lines: [`${domain}: TLS-RPT lookup failed (${txt.error}); run again later`], sent: false };
    const rua = txt.kind === 'found' ? tlsRptDestinations(txt.records) : undefined;
    if (!rua) return { lines: [`${domain}: no TLS-RPT record, nothing sent`], sent: false };
    const meta = { domain, day, submitter: config.hostname, organization: config.hostname, contact: from };
    const report = buildTlsReport(store.tlsRows(day, domain), meta);
    const lines: string[] = [];
    let sent = false;
    for (const uri of rua) {
      try {
        if (uri.toLowerCase().startsWith('mailto:')) {
          const to = decodeURIComponent(uri.slice('mailto:'.length));
          await submitReport(b, from, to, tlsReportMessage(report, meta, from, to));
        } else {
          await postReport(uri, tlsReportFile(report, meta).data, 'application/tlsrpt+gzip', extraCa(config));
        }
        sent = true;
        lines.push(`${domain}: report for ${day} sent to ${uri}`);
      } catch (err) {
        lines.push(`${domain}: report to ${uri} failed: ${(err as Error).message}`);
      }
    }
    return { lines, sent };
  });
}

/** `correio dmarc-report send`: one line per policy domain and destination. */
export function sendDmarcReports(config: Config, b: Backends, day: string): Promise<string[]> {
  return runReports(config, 'dmarc', day, (s) => s.dmarcDomains(day), async ({ store, dns, from }, domain) => {
    const report = store.dmarcReport(day, domain);
    if (!report) return { lines: [], sent: false };
    const lines: string[] = [];
    let sent = false;
    for (const uri of report.policy.rua) {
      const to = decodeURIComponent(uri.slice('mailto:'.length));
      try {
        // RFC 7489 §7.1: a destination outside the domain must have agreed
        if (!(await destinationAllowed(domain, to, (n) => dns.findTxt(n)))) {
          lines.push(`${domain}: ${to} has not agreed to receive reports for ${domain} (no ${domain}._report._dmarc record), skipped`);
          continue;
        }
        await submitReport(b, from, to, dmarcReportMessage(report.policy, report.rows, { day, orgName: config.hostname, email: from }, config.hostname, from, to));
        sent = true;
        lines.push(`${domain}: report for ${day} sent to ${uri}`);
      } catch (err) {
        lines.push(`${domain}: report to ${uri} failed: ${(err as Error).message}`);
      }
    }
    return { lines, sent };
  });
}
