/**
 * @module dmarc-failures
 * DMARC failure reports sent (`[reports] dmarc_failure`, off by default): each failure the
 * inbound check hands over (policy/trust/dmarc-failure.ts) is mailed through intake to the
 * domain's `ruf` addresses that pass the external-destination check, at most
 * `dmarc_failure_per_hour` per policy domain.
 * Standards: RFC 7489 §7.3 (failure reports), §7.1 (a destination outside the domain's
 *   organizational domain must publish DOMAIN._report._dmarc.DESTINATION), RFC 6591.
 * Security: reports carry the failed message's header only; the hourly limit per domain stops a
 *   flood of forged mail from making us flood the domain's reporting address; a report that
 *   cannot be sent is dropped, never retried, and never affects the mail it is about.
 * Limitations: the counters are in memory and per process (a restart, or each acceptor
 *   process, starts again); reports go from postmaster of the first local domain.
 */
import { formatListenAddress, type Config } from '../config/index.js';
import { DnsResolver } from '../dns/index.js';
import { destinationAllowed, dmarcFailureMessage, type DmarcFailure } from '../policy/index.js';
import type { Backends } from './backends.js';
import { submitReport } from './daily-reports.js';

const HOUR = 3_600_000;

/** The failure reporter the inbound check is given, or undefined when failure reports are off. */
export function dmarcFailureReporter(config: () => Config, backends: Backends, now: () => number = Date.now): ((f: DmarcFailure) => void) | undefined {
  const windows = new Map<string, { start: number; sent: number }>();
  return (f) => {
    const c = config();
    if (!c.reports.dmarcFailure) return;
    const t = now();
    const w = windows.get(f.domain);
    const win = w && t - w.start < HOUR ? w : { start: t, sent: 0 };
    if (win.sent >= c.reports.dmarcFailurePerHour) return;
    win.sent++;
    windows.set(f.domain, win);
    if (windows.size > 10_000) for (const [k, v] of windows) if (t - v.start >= HOUR) windows.delete(k);
    void send(c, backends, f).catch(() => undefined);
  };
}

async function send(c: Config, backends: Backends, f: DmarcFailure): Promise<void> {
  const from = `postmaster@${c.localDomains[0]}`;
  const dns = new DnsResolver({ servers: c.delivery.dnsServers.map(formatListenAddress) });
  try {
    for (const uri of f.ruf) {
      const to = decodeURIComponent(uri.slice('mailto:'.length));
      // RFC 7489 §7.1: a destination outside the domain must have agreed
      if (!(await destinationAllowed(f.domain, to, (n) => dns.findTxt(n)))) continue;
      await submitReport(backends, from, to, dmarcFailureMessage(f, c.hostname, from, to)).catch(() => undefined);
    }
  } finally {
    dns.cancel();
  }
}
