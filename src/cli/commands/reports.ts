/**
 * @module reports-command
 * `correio tls-report send [--day YYYY-MM-DD]`: the daily TLS reports (RFC 8460) of the
 * outbound sessions recorded on a day (default yesterday, UTC), to each policy domain's
 * `_smtp._tls` destinations: mail through the queue, or HTTPS POST. `correio dmarc-report send
 * [--day …]`: the DMARC aggregate reports (RFC 7489 §7.2) of the mail received that day, to the
 * `rua` of each sender domain. Meant for a daily cron job.
 * Standards: RFC 8460 §3, §5; RFC 7489 §7.1, §7.2 (see app/daily-reports.ts).
 * Security: an internal submission; the queue delivers the reports as any mail.
 * `correio dmarc report [--days N] [--records]` (also `correio dmarc-report list`) and
 * `correio tls-report list [--days N]`: the reports other sites sent to the `[reports] receive`
 * addresses (app/report-inbox.ts): DMARC aggregate reports, then DMARC failure reports.
 * Limitations: a report already sent for a domain and day is not sent again.
 */
import type { Command } from 'commander';
import { sendDmarcReports, sendTlsReports, receivedReportsFile } from '../../app/index.js';
import { ReceivedReportStore, type ReceivedDmarcFailure, type ReceivedDmarcReport, type ReceivedTlsReport, type Stored } from '../../policy/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';
import { wake, withBackends } from './sendmail-runtime.js';

/** "YYYY-MM-DD" of a valid calendar day, else a usage error naming the option. */
export function reportDay(day: string | undefined, now = Date.now()): string {
  if (day === undefined) return new Date(now - 86_400_000).toISOString().slice(0, 10);
  const t = Date.parse(`${day}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== day) {
    throw new CliError(`--day: expected a date as YYYY-MM-DD (UTC), not ${JSON.stringify(day)}`, exitCodes.usage);
  }
  return day;
}

/** `--days N`: a whole number of days, 1 to 3660. */
export function daysOption(v: string | undefined): number {
  if (v === undefined) return 30;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 3660) throw new CliError(`--days: expected a number of days from 1 to 3660, not ${JSON.stringify(v)}`, exitCodes.usage);
  return n;
}

const day = (seconds: number): string => new Date(seconds * 1000).toISOString().slice(0, 10);

/** One line per DMARC report: period, reporter, our domain, messages that passed and failed DMARC. */
export function dmarcLines(reports: readonly Stored<ReceivedDmarcReport>[], records: boolean): string[] {
  const out: string[] = [];
  for (const { report: r } of reports) {
    // RFC 7489 §3: a message passes DMARC when DKIM or SPF passed aligned
    const pass = r.records.filter((x) => x.dkim === 'pass' || x.spf === 'pass').reduce((n, x) => n + x.count, 0);
    const all = r.records.reduce((n, x) => n + x.count, 0);
    out.push(`${day(r.begin)}..${day(r.end)} ${r.domain} from ${r.org || '?'}: ${all} messages, ${pass} pass, ${all - pass} fail (p=${r.policy || '?'}) report ${r.reportId}`);
    if (records) for (const x of r.records) out.push(`  ${x.sourceIp} ×${x.count} ${x.disposition || '?'} dkim=${x.dkim || '?'} spf=${x.spf || '?'} from ${x.headerFrom || '?'}`);
  }
  return out;
}

/** One line per DMARC failure report: when, our domain, reporter, source, what failed and was done, the message. */
export function failureLines(reports: readonly Stored<ReceivedDmarcFailure>[]): string[] {
  return reports.map(({ receivedAt, report: f }) => {
    const when = f.arrival > 0 ? new Date(f.arrival * 1000).toISOString().slice(0, 16).replace('T', ' ') : new Date(receivedAt).toISOString().slice(0, 16).replace('T', ' ');
    const what = [f.authFailure ? `${f.authFailure} failed` : 'failed', f.delivery || '?', f.alignment ? `unaligned ${f.alignment}` : ''].filter((x) => x !== '').join(', ');
    const msg = [f.mailFrom ? `mail from ${f.mailFrom}` : '', f.from ? `From: ${f.from}` : '', f.subject ? `Subject: ${f.subject}` : ''].filter((x) => x !== '').join(' ');
    return `${when} ${f.domain || '?'} failure from ${f.reporter || '?'}: ${f.sourceIp || '?'} ${what}${msg ? ` ${msg}` : ''}`;
  });
}

/** One line per policy of each TLS report: period, reporter, domain, policy type, counts, failures by type. */
export function tlsLines(reports: readonly Stored<ReceivedTlsReport>[]): string[] {
  const out: string[] = [];
  for (const { report: r } of reports) {
    for (const p of r.policies) {
      const types = Object.entries(p.failures).map(([t, n]) => `${t} ${n}`).join(', ');
      out.push(`${day(r.begin)} ${p.domain} from ${r.org || '?'}: ${p.type} ${p.success} successful, ${p.failure} failed${types ? ` (${types})` : ''} report ${r.reportId}`);
    }
  }
  return out;
}

export function register(program: Command, ctx: CliContext): void {
  // the reports go through the spool; a running server is woken to deliver them at once
  const sendAction = (send: typeof sendTlsReports) => async (opts: { day?: string }, cmd: Command) => {
    const config = ctx.config(cmd);
    const day = reportDay(opts.day);
    for (const l of await withBackends(config, (b) => send(config, b, day))) ctx.print(l);
    await wake(config);
  };
  // the reports others sent us, read from <data_dir>/received-reports.sqlite (no server needed)
  const listAction = (lines: (store: ReceivedReportStore, since: number, opts: { records?: boolean }) => string[], none: string) => (opts: { days?: string; records?: boolean }, cmd: Command) => {
    const config = ctx.config(cmd);
    const since = Math.floor(Date.now() / 1000) - daysOption(opts.days) * 86_400;
    const store = ReceivedReportStore.open(receivedReportsFile(config));
    try {
      const out = lines(store, since, opts);
      for (const l of out.length > 0 ? out : [none]) ctx.print(l);
    } finally {
      store.close();
    }
  };
  const days = '--days <n>';
  const daysHelp = 'reports of the last N days (default 30)';
  const tls = program.command('tls-report').description('SMTP TLS reports (RFC 8460; docs/trust.md)');
  tls
    .command('send')
    .description('send the TLS reports of a day (default yesterday, UTC) to the domains that ask for them')
    .option('--day <day>', 'the day, YYYY-MM-DD (UTC)')
    .action(sendAction(sendTlsReports));
  tls
    .command('list')
    .description('the TLS reports other sites sent to the [reports] receive addresses')
    .option(days, daysHelp)
    .action(listAction((s, since) => tlsLines(s.tlsSince(since)), 'no TLS reports received in that time'));
  // RFC 7489 §7.2, §7.3: the aggregate reports, then the failure reports, sent to us
  const dmarcReceived = listAction((s, since, o) => [...dmarcLines(s.dmarcSince(since), o.records === true), ...failureLines(s.failuresSince(since))], 'no DMARC reports received in that time');
  const recordsHelp = 'one line per record (source address, count, disposition, results)';
  program
    .command('dmarc')
    .description('DMARC (RFC 7489; docs/trust.md)')
    .command('report')
    .description('the DMARC aggregate and failure reports other sites sent to the [reports] receive addresses')
    .option(days, daysHelp)
    .option('--records', recordsHelp)
    .action(dmarcReceived);
  const dmarc = program.command('dmarc-report').description('DMARC aggregate reports (RFC 7489; docs/trust.md)');
  dmarc
    .command('send')
    .description('send the DMARC aggregate reports of a day (default yesterday, UTC) to the sender domains that ask for them')
    .option('--day <day>', 'the day, YYYY-MM-DD (UTC)')
    .action(sendAction(sendDmarcReports));
  dmarc
    .command('list')
    .description('the same as `correio dmarc report`')
    .option(days, daysHelp)
    .option('--records', recordsHelp)
    .action(dmarcReceived);
}
