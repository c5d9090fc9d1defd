/**
 * @module reports-command
 * `correio tls-report send [--day YYYY-MM-DD]`: the daily TLS reports (RFC 8460) of the
 * outbound sessions recorded on a day (default yesterday, UTC), to each policy domain's
 * `_smtp._tls` destinations: mail through the queue, or HTTPS POST. `correio dmarc-report send
 * [--day …]`: the DMARC aggregate reports (RFC 7489 §7.2) of the mail received that day, to the
 * `rua` of each sender domain. Meant for a daily cron job.
 * Standards: RFC 8460 §3, §5; RFC 7489 §7.1, §7.2 (see app/daily-reports.ts).
 * Security: an internal submission; the queue delivers the reports as any mail.
 * Limitations: a report already sent for a domain and day is not sent again.
 */
import type { Command } from 'commander';
import { sendDmarcReports, sendTlsReports } from '../../app/index.js';
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

export function register(program: Command, ctx: CliContext): void {
  // the reports go through the spool; a running server is woken to deliver them at once
  const sendAction = (send: typeof sendTlsReports) => async (opts: { day?: string }, cmd: Command) => {
    const config = ctx.config(cmd);
    const day = reportDay(opts.day);
    for (const l of await withBackends(config, (b) => send(config, b, day))) ctx.print(l);
    await wake(config);
  };
  program
    .command('tls-report')
    .description('SMTP TLS reports (RFC 8460; docs/trust.md)')
    .command('send')
    .description('send the TLS reports of a day (default yesterday, UTC) to the domains that ask for them')
    .option('--day <day>', 'the day, YYYY-MM-DD (UTC)')
    .action(sendAction(sendTlsReports));
  program
    .command('dmarc-report')
    .description('DMARC aggregate reports (RFC 7489; docs/trust.md)')
    .command('send')
    .description('send the DMARC aggregate reports of a day (default yesterday, UTC) to the sender domains that ask for them')
    .option('--day <day>', 'the day, YYYY-MM-DD (UTC)')
    .action(sendAction(sendDmarcReports));
}
