/**
 * @module report-inbox
 * Reports other sites send us (`[reports] receive`): the local transport is wrapped so that a
 * message delivered to one of those addresses is also read for DMARC aggregate reports (RFC
 * 7489 §7.2), DMARC failure reports (§7.3, RFC 6591) and TLS reports (RFC 8460), which are
 * kept in `<data_dir>/received-reports.sqlite` for `correio dmarc report` and
 * `correio tls-report list`. The message stays in the
 * mailbox as delivered.
 * Standards: RFC 7489 §7.2.1.1, §7.3, RFC 8460 §5.3 (see policy/trust/received-reports.ts).
 * Security: the message is read after it was delivered and only up to `MAX_MESSAGE` (10 MiB);
 *   reading or storing never changes the delivery's outcome (a bad report is skipped).
 * Limitations: parts that do not parse are skipped silently (the mail is still in the mailbox);
 *   the addresses are compared as written in the config (lower case), after alias expansion.
 */
import { join } from 'node:path';
import { addressToString, type DeliveryRequest, type DeliveryStatus, type Transport } from '../core/index.js';
import type { Config } from '../config/index.js';
import { ReceivedReportStore, readReports } from '../policy/index.js';
import { readWhole } from '../util/index.js';

const MAX_MESSAGE = 10 * 1024 * 1024;

export function receivedReportsFile(config: Config): string {
  return join(config.dataDir, 'received-reports.sqlite');
}

/** Reads and keeps the reports of `raw`; returns what was kept. Never throws. */
export async function keepReports(config: Config, raw: Buffer, now = Date.now()): Promise<{ dmarc: number; failures: number; tls: number; problems: string[] }> {
  try {
    const found = await readReports(raw);
    const store = ReceivedReportStore.open(receivedReportsFile(config));
    try {
      for (const r of found.dmarc) store.addDmarc(r, now);
      for (const r of found.failures) store.addFailure(r, now);
      for (const r of found.tls) store.addTls(r, now);
    } finally {
      store.close();
    }
    return { dmarc: found.dmarc.length, failures: found.failures.length, tls: found.tls.length, problems: found.problems };
  } catch (err) {
    return { dmarc: 0, failures: 0, tls: 0, problems: [(err as Error).message] };
  }
}

export class ReportInbox implements Transport {
  readonly name: string;

  constructor(
    private readonly inner: Transport,
    private readonly config: () => Config,
  ) {
    this.name = inner.name;
  }

  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]> {
    const results = await this.inner.deliver(req, signal);
    const c = this.config();
    const wanted = c.reports.receive;
    if (wanted.length === 0 || req.size > MAX_MESSAGE) return results;
    const hit = req.envelopes.some((e, i) => results[i]?.action === 'delivered' && (wanted.includes(e.route.nextHop.toLowerCase()) || wanted.includes(addressToString(e.recipient).toLowerCase())));
    if (hit) {
      try {
        await keepReports(c, await readWhole(await req.openMessage()));
      } catch {
        // the mail is delivered; a report that cannot be read is no delivery failure
      }
    }
    return results;
  }
}
