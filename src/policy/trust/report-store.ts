/**
 * @module report-store
 * What the daily reports are made from, in SQLite at `<data_dir>/reports.sqlite`: outbound TLS
 * session results (TLS-RPT) counted per day, policy domain, MX host and result; inbound DMARC
 * evaluations counted per day, policy domain and identical row; and which reports were sent,
 * so that sending again the same day sends nothing twice.
 * Standards: RFC 8460 §4.3-§4.4 (what a TLS report counts: per policy, successful and failed
 *   sessions, failures by result type, sending and receiving addresses); RFC 7489 §7.2 (a DMARC
 *   aggregate report counts identical evaluations in one row).
 * Security: holds domains, host names, addresses and failure reasons, no message content.
 *   Days are UTC ("YYYY-MM-DD").
 * Limitations: one file per node (several nodes report separately); rows older than 30 days
 *   are pruned when a report is made.
 */
import type Database from 'better-sqlite3';
import type { TlsSessionResult } from '../../core/index.js';
import { openSmallStore } from '../../directory/index.js';
import type { DmarcEvaluation, DmarcReportRow, PublishedPolicy } from './dmarc-report.js';

const schema = `CREATE TABLE IF NOT EXISTS tls_results (
  day TEXT NOT NULL, domain TEXT NOT NULL, policy_type TEXT NOT NULL, policy_strings TEXT NOT NULL,
  mx_host TEXT NOT NULL, receiving_ip TEXT NOT NULL, result TEXT NOT NULL, info TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (day, domain, policy_type, policy_strings, mx_host, receiving_ip, result, info)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dmarc_results (
  day TEXT NOT NULL, domain TEXT NOT NULL, row TEXT NOT NULL, count INTEGER NOT NULL,
  PRIMARY KEY (day, domain, row)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dmarc_policies (
  day TEXT NOT NULL, domain TEXT NOT NULL, policy TEXT NOT NULL, PRIMARY KEY (day, domain)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sent_reports (
  kind TEXT NOT NULL, domain TEXT NOT NULL, day TEXT NOT NULL, sent_at INTEGER NOT NULL,
  PRIMARY KEY (kind, domain, day)
) WITHOUT ROWID;`;

/** One counted row of TLS results. */
export interface TlsResultRow {
  readonly domain: string;
  readonly policyType: TlsSessionResult['policyType'];
  readonly policyStrings: readonly string[];
  readonly mxHost: string;
  readonly receivingIp: string;
  readonly result: string;
  readonly info: string;
  readonly count: number;
}

/** "YYYY-MM-DD" of a time, UTC. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export class ReportStore {
  private constructor(private readonly db: Database.Database) {}

  /** Opens (or creates) the file; ":memory:" for tests. Throws MailError 451 on failure. */
  static open(file: string): ReportStore {
    return new ReportStore(openSmallStore(file, schema));
  }

  recordTls(r: TlsSessionResult): void {
    // info is cut to one short line: reasons vary little, and rows must aggregate
    const info = (r.info ?? '').replace(/\s+/g, ' ').slice(0, 300);
    this.db
      .prepare(
        `INSERT INTO tls_results (day, domain, policy_type, policy_strings, mx_host, receiving_ip, result, info, count)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)
         ON CONFLICT DO UPDATE SET count = count + 1`,
      )
      .run(utcDay(r.at), r.domain.toLowerCase(), r.policyType, JSON.stringify(r.policyStrings), r.mxHost.toLowerCase(), r.receivingIp ?? '', r.result, info);
  }

  /** The policy domains with TLS results on `day`. */
  tlsDomains(day: string): string[] {
    return (this.db.prepare('SELECT DISTINCT domain FROM tls_results WHERE day = ? ORDER BY domain').all(day) as { domain: string }[]).map((r) => r.domain);
  }

  tlsRows(day: string, domain: string): TlsResultRow[] {
    const rows = this.db
      .prepare('SELECT domain, policy_type, policy_strings, mx_host, receiving_ip, result, info, count FROM tls_results WHERE day = ? AND domain = ? ORDER BY mx_host, result')
      .all(day, domain) as { domain: string; policy_type: TlsSessionResult['policyType']; policy_strings: string; mx_host: string; receiving_ip: string; result: string; info: string; count: number }[];
    return rows.map((r) => ({
      domain: r.domain,
      policyType: r.policy_type,
      policyStrings: JSON.parse(r.policy_strings) as string[],
      mxHost: r.mx_host,
      receivingIp: r.receiving_ip,
      result: r.result,
      info: r.info,
      count: r.count,
    }));
  }

  /** RFC 7489 §7.2: one DMARC evaluation; the policy as last published that day is kept. */
  recordDmarc(e: DmarcEvaluation): void {
    const day = utcDay(e.at);
    const domain = e.policy.domain.toLowerCase();
    this.db.transaction(() => {
      this.db.prepare('INSERT INTO dmarc_results (day, domain, row, count) VALUES (?, ?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1').run(day, domain, JSON.stringify(e.row));
      this.db.prepare('INSERT OR REPLACE INTO dmarc_policies (day, domain, policy) VALUES (?, ?, ?)').run(day, domain, JSON.stringify(e.policy));
    })();
  }

  /** The policy domains with DMARC evaluations on `day`. */
  dmarcDomains(day: string): string[] {
    return (this.db.prepare('SELECT domain FROM dmarc_policies WHERE day = ? ORDER BY domain').all(day) as { domain: string }[]).map((r) => r.domain);
  }

  dmarcReport(day: string, domain: string): { policy: PublishedPolicy; rows: { row: DmarcReportRow; count: number }[] } | undefined {
    const p = this.db.prepare('SELECT policy FROM dmarc_policies WHERE day = ? AND domain = ?').get(day, domain) as { policy: string } | undefined;
    if (!p) return undefined;
    const rows = this.db.prepare('SELECT row, count FROM dmarc_results WHERE day = ? AND domain = ? ORDER BY row').all(day, domain) as { row: string; count: number }[];
    return { policy: JSON.parse(p.policy) as PublishedPolicy, rows: rows.map((r) => ({ row: JSON.parse(r.row) as DmarcReportRow, count: r.count })) };
  }

  wasSent(kind: string, domain: string, day: string): boolean {
    return this.db.prepare('SELECT 1 FROM sent_reports WHERE kind = ? AND domain = ? AND day = ?').get(kind, domain, day) !== undefined;
  }

  markSent(kind: string, domain: string, day: string, at = Date.now()): void {
    this.db.prepare('INSERT OR REPLACE INTO sent_reports (kind, domain, day, sent_at) VALUES (?, ?, ?, ?)').run(kind, domain, day, at);
  }

  /** Forgets results and sent marks of days before `day`. */
  pruneBefore(day: string): void {
    this.db.prepare('DELETE FROM tls_results WHERE day < ?').run(day);
    this.db.prepare('DELETE FROM dmarc_results WHERE day < ?').run(day);
    this.db.prepare('DELETE FROM dmarc_policies WHERE day < ?').run(day);
    this.db.prepare('DELETE FROM sent_reports WHERE day < ?').run(day);
  }

  close(): void {
    this.db.close();
  }
}
