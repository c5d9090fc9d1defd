/**
 * @module received-store
 * The reports other sites sent us, kept in SQLite at `<data_dir>/received-reports.sqlite` for
 * `correio dmarc report` and `correio tls-report list`: one row per report (who, which id,
 * which period) and its records (DMARC) or policies (TLS-RPT); one row per DMARC failure report.
 * Standards: RFC 7489 §7.2 and appendix C, §7.3 (RFC 6591); RFC 8460 §4.4 (see received-reports.ts).
 * Security: holds what the reporters wrote (addresses, domains, counts), cut to 255 characters
 *   each (a failure report: its fields and the failed message's From, Subject and Message-ID,
 *   never its body); the same report (reporter and report id) sent twice is kept once.
 * Limitations: no pruning (an operator deletes the file to start again).
 */
import type Database from 'better-sqlite3';
import { openSmallStore } from '../../directory/index.js';
import type { ReceivedDmarcFailure, ReceivedDmarcReport, ReceivedTlsReport } from './received-reports.js';

const schema = `CREATE TABLE IF NOT EXISTS dmarc_reports (
  org TEXT NOT NULL, report_id TEXT NOT NULL, domain TEXT NOT NULL, policy TEXT NOT NULL,
  begin INTEGER NOT NULL, end INTEGER NOT NULL, received_at INTEGER NOT NULL, records TEXT NOT NULL,
  PRIMARY KEY (org, report_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tls_reports (
  org TEXT NOT NULL, report_id TEXT NOT NULL, begin INTEGER NOT NULL, end INTEGER NOT NULL,
  received_at INTEGER NOT NULL, policies TEXT NOT NULL,
  PRIMARY KEY (org, report_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dmarc_failures (
  reporter TEXT NOT NULL, report_id TEXT NOT NULL, arrival INTEGER NOT NULL, received_at INTEGER NOT NULL, report TEXT NOT NULL,
  PRIMARY KEY (reporter, report_id)
) WITHOUT ROWID;`;

export interface Stored<T> {
  readonly receivedAt: number;
  readonly report: T;
}

export class ReceivedReportStore {
  private constructor(private readonly db: Database.Database) {}

  static open(file: string): ReceivedReportStore {
    return new ReceivedReportStore(openSmallStore(file, schema));
  }

  /** Keeps a DMARC report; false when the reporter sent this report id before. */
  addDmarc(r: ReceivedDmarcReport, at: number): boolean {
    const res = this.db
      .prepare('INSERT OR IGNORE INTO dmarc_reports (org, report_id, domain, policy, begin, end, received_at, records) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(r.org, r.reportId, r.domain, r.policy, r.begin, r.end, at, JSON.stringify(r.records));
    return res.changes > 0;
  }

  /** Keeps a TLS report; false when the reporter sent this report id before. */
  addTls(r: ReceivedTlsReport, at: number): boolean {
    const res = this.db
      .prepare('INSERT OR IGNORE INTO tls_reports (org, report_id, begin, end, received_at, policies) VALUES (?, ?, ?, ?, ?, ?)')
      .run(r.org, r.reportId, r.begin, r.end, at, JSON.stringify(r.policies));
    return res.changes > 0;
  }

  /** Keeps a DMARC failure report; false when the reporter sent this report before. */
  addFailure(r: ReceivedDmarcFailure, at: number): boolean {
    const res = this.db
      .prepare('INSERT OR IGNORE INTO dmarc_failures (reporter, report_id, arrival, received_at, report) VALUES (?, ?, ?, ?, ?)')
      .run(r.reporter, r.reportId, r.arrival, at, JSON.stringify(r));
    return res.changes > 0;
  }

  /** DMARC failure reports received at or after `since` (seconds), oldest first. */
  failuresSince(since: number): Stored<ReceivedDmarcFailure>[] {
    const rows = this.db.prepare('SELECT received_at, report FROM dmarc_failures WHERE received_at >= ? ORDER BY received_at, arrival').all(since * 1000) as { received_at: number; report: string }[];
    return rows.map((r) => ({ receivedAt: r.received_at, report: JSON.parse(r.report) as ReceivedDmarcFailure }));
  }

  /** DMARC reports whose period ends at or after `since` (seconds), oldest first. */
  dmarcSince(since: number): Stored<ReceivedDmarcReport>[] {
    const rows = this.db.prepare('SELECT * FROM dmarc_reports WHERE end >= ? ORDER BY begin, org').all(since) as {
      org: string; report_id: string; domain: string; policy: string; begin: number; end: number; received_at: number; records: string;
    }[];
    return rows.map((r) => ({ receivedAt: r.received_at, report: { org: r.org, reportId: r.report_id, domain: r.domain, policy: r.policy, begin: r.begin, end: r.end, records: JSON.parse(r.records) as ReceivedDmarcReport['records'] } }));
  }

  /** TLS reports whose period ends at or after `since` (seconds), oldest first. */
  tlsSince(since: number): Stored<ReceivedTlsReport>[] {
    const rows = this.db.prepare('SELECT * FROM tls_reports WHERE end >= ? ORDER BY begin, org').all(since) as {
      org: string; report_id: string; begin: number; end: number; received_at: number; policies: string;
    }[];
    return rows.map((r) => ({ receivedAt: r.received_at, report: { org: r.org, reportId: r.report_id, begin: r.begin, end: r.end, policies: JSON.parse(r.policies) as ReceivedTlsReport['policies'] } }));
  }

  close(): void {
    this.db.close();
  }
}
