/**
 * @module received-reports
 * Reports other sites send us, read from a message: DMARC aggregate reports (the XML of RFC
 * 7489 appendix C, gzipped, zipped or plain), DMARC failure reports (RFC 6591 auth-failure
 * feedback reports) and SMTP TLS reports (the JSON of RFC 8460 §4.4, application/tlsrpt+gzip
 * or +json), as values for the store and `correio dmarc report` / `tls-report list`.
 * Standards: RFC 7489 §7.2.1.1 (the report as an attachment: .xml, .xml.gz, .zip), appendix C
 *   (feedback, report_metadata, policy_published, record/row/identifiers); RFC 8460 §4.4
 *   (organization-name, date-range, report-id, policies, summary, failure-details), §5.3
 *   (application/tlsrpt+gzip, application/tlsrpt+json); RFC 2046 (MIME parts, by postal-mime);
 *   RFC 7489 §7.3, RFC 6591 §3, RFC 5965 §3 (failure reports: protocol/mime/parse-arf.ts).
 * Security: untrusted input: parts are unpacked with caps (report-files.ts); numbers are
 *   checked (non-negative counts, timestamps as seconds); strings are cut to 255 characters; a
 *   part that does not parse is named in `problems` and skipped, the others kept.
 * Limitations: the whole message is parsed in memory (callers cap its size); of a failure
 *   report only its fields and a few of the reported message's header fields are kept (never
 *   its body); feedback reports of other types (abuse, fraud …) and non-report parts are ignored.
 */
import PostalMime from 'postal-mime';
import { createHash } from 'node:crypto';
import { originalField, parseArf } from '../../protocol/mime/index.js';
import { child, parseXml, textAt, unpack } from './report-files.js';

export interface ReceivedDmarcRecord {
  readonly sourceIp: string;
  readonly count: number;
  readonly disposition: string;
  readonly dkim: string;
  readonly spf: string;
  readonly headerFrom: string;
}

export interface ReceivedDmarcReport {
  readonly org: string;
  readonly reportId: string;
  /** the policy domain: ours */
  readonly domain: string;
  readonly policy: string;
  /** seconds since the epoch */
  readonly begin: number;
  readonly end: number;
  readonly records: readonly ReceivedDmarcRecord[];
}

/** RFC 6591: one failure report (a message that failed DMARC, as the receiver saw it). */
export interface ReceivedDmarcFailure {
  /** the address the report came from */
  readonly reporter: string;
  /** the report's Message-ID (or a digest of its fields when it has none) */
  readonly reportId: string;
  /** Reported-Domain: the From domain of the failed message (ours) */
  readonly domain: string;
  readonly sourceIp: string;
  /** Arrival-Date in seconds since the epoch; 0 when absent or unreadable */
  readonly arrival: number;
  /** Auth-Failure: dmarc, dkim, spf, adsp, bodyhash, revoked, signature */
  readonly authFailure: string;
  /** Delivery-Result: delivered, spam, policy, reject, other */
  readonly delivery: string;
  readonly mailFrom: string;
  readonly authResults: string;
  /** Identity-Alignment (RFC 7489 §7.3.1): none, spf, dkim, or both */
  readonly alignment: string;
  /** the failed message's From, Subject and Message-ID, when the report has its header */
  readonly from: string;
  readonly subject: string;
  readonly messageId: string;
}

export interface ReceivedTlsPolicy {
  readonly type: string;
  readonly domain: string;
  readonly success: number;
  readonly failure: number;
  /** result type → sessions */
  readonly failures: Readonly<Record<string, number>>;
}

export interface ReceivedTlsReport {
  readonly org: string;
  readonly reportId: string;
  readonly begin: number;
  readonly end: number;
  readonly policies: readonly ReceivedTlsPolicy[];
}

export interface ReceivedReports {
  readonly dmarc: ReceivedDmarcReport[];
  readonly failures: ReceivedDmarcFailure[];
  readonly tls: ReceivedTlsReport[];
  /** one line per part that looked like a report and did not parse */
  readonly problems: string[];
}

const cut = (s: unknown): string => (typeof s === 'string' ? s : typeof s === 'number' ? String(s) : '').slice(0, 255);
const count = (s: unknown, what: string): number => {
  const n = typeof s === 'number' ? s : Number(String(s).trim());
  if (!Number.isFinite(n) || n < 0) throw new Error(`${what} is not a count: ${cut(s)}`);
  return Math.floor(n);
};

/** RFC 7489 appendix C: one aggregate report. Throws on a document without its required parts. */
export function parseDmarcReport(xml: string): ReceivedDmarcReport {
  const root = parseXml(xml);
  if (root.name !== 'feedback') throw new Error(`DMARC report: root element <${root.name}>, not <feedback>`);
  const meta = child(root, 'report_metadata');
  const published = child(root, 'policy_published');
  const domain = textAt(published, 'domain').toLowerCase();
  if (!meta || !domain) throw new Error('DMARC report: no report_metadata or policy_published domain');
  const records = root.children
    .filter((c) => c.name === 'record')
    .map((r) => ({
      sourceIp: cut(textAt(r, 'row', 'source_ip')),
      count: count(textAt(r, 'row', 'count'), 'row count'),
      disposition: cut(textAt(r, 'row', 'policy_evaluated', 'disposition')),
      dkim: cut(textAt(r, 'row', 'policy_evaluated', 'dkim')),
      spf: cut(textAt(r, 'row', 'policy_evaluated', 'spf')),
      headerFrom: cut(textAt(r, 'identifiers', 'header_from').toLowerCase()),
    }));
  return {
    org: cut(textAt(meta, 'org_name')),
    reportId: cut(textAt(meta, 'report_id')),
    domain: cut(domain),
    policy: cut(textAt(published, 'p')),
    begin: count(textAt(meta, 'date_range', 'begin'), 'date_range begin'),
    end: count(textAt(meta, 'date_range', 'end'), 'date_range end'),
    records,
  };
}

/** RFC 8460 §4.4: one TLS report. Throws on JSON without its required members. */
export function parseTlsReport(json: string): ReceivedTlsReport {
  const r = JSON.parse(json) as Record<string, unknown>;
  const range = (r['date-range'] ?? {}) as Record<string, unknown>;
  if (!Array.isArray(r.policies)) throw new Error('TLS report: no policies');
  const seconds = (v: unknown, what: string): number => {
    const t = Date.parse(String(v));
    if (Number.isNaN(t)) throw new Error(`TLS report: ${what} is not a date-time`);
    return Math.floor(t / 1000);
  };
  const policies = (r.policies as Record<string, unknown>[]).map((p) => {
    const policy = (p.policy ?? {}) as Record<string, unknown>;
    const summary = (p.summary ?? {}) as Record<string, unknown>;
    const failures: Record<string, number> = {};
    for (const f of Array.isArray(p['failure-details']) ? (p['failure-details'] as Record<string, unknown>[]) : []) {
      const type = cut(f['result-type']);
      failures[type] = (failures[type] ?? 0) + count(f['failed-session-count'], 'failed-session-count');
    }
    return {
      type: cut(policy['policy-type']),
      domain: cut(policy['policy-domain']).toLowerCase(),
      success: count(summary['total-successful-session-count'], 'total-successful-session-count'),
      failure: count(summary['total-failure-session-count'], 'total-failure-session-count'),
      failures,
    };
  });
  return { org: cut(r['organization-name']), reportId: cut(r['report-id']), begin: seconds(range['start-datetime'], 'start-datetime'), end: seconds(range['end-datetime'], 'end-datetime'), policies };
}

/**
 * RFC 6591: the DMARC failure report in `raw` (an auth-failure feedback report), or undefined
 * when `raw` is no such report; `reporter` and `messageId` are the report message's own.
 */
export function parseDmarcFailure(raw: Buffer, reporter: string, messageId: string): ReceivedDmarcFailure | undefined {
  const arf = parseArf(raw);
  if (!arf || arf.feedbackType !== 'auth-failure') return undefined;
  const f = (name: string): string => cut(arf.fields[name] ?? '');
  const arrival = Date.parse(f('arrival-date'));
  return {
    reporter: cut(reporter.toLowerCase()),
    reportId: cut(messageId) || createHash('sha256').update(JSON.stringify(arf.fields)).digest('hex').slice(0, 32),
    domain: f('reported-domain').toLowerCase(),
    sourceIp: f('source-ip'),
    arrival: Number.isNaN(arrival) ? 0 : Math.floor(arrival / 1000),
    authFailure: f('auth-failure').toLowerCase(),
    delivery: f('delivery-result').toLowerCase(),
    mailFrom: f('original-mail-from').replace(/^<(.*)>$/, '$1'),
    authResults: f('authentication-results'),
    alignment: f('identity-alignment').toLowerCase(),
    from: cut(originalField(arf, 'from')),
    subject: cut(originalField(arf, 'subject')),
    messageId: cut(originalField(arf, 'message-id')),
  };
}

/** What a part is, by its type and file name (RFC 7489 §7.2.1.1, RFC 8460 §5.3). */
function kindOf(type: string, name: string): 'dmarc' | 'tls' | undefined {
  const t = type.toLowerCase();
  const n = name.toLowerCase();
  if (t.startsWith('application/tlsrpt') || /\.json(\.gz)?$/.test(n)) return 'tls';
  if (/xml|zip|gzip/.test(t) || /\.(xml|xml\.gz|zip|gz)$/.test(n)) return 'dmarc';
  return undefined;
}

/** The reports in one message (`raw`, as received). */
export async function readReports(raw: Buffer): Promise<ReceivedReports> {
  const mail = await PostalMime.parse(raw);
  const out: ReceivedReports = { dmarc: [], failures: [], tls: [], problems: [] };
  const failure = parseDmarcFailure(raw, mail.from?.address ?? '', mail.messageId ?? '');
  if (failure) {
    out.failures.push(failure);
    return out;
  }
  for (const a of mail.attachments) {
    const name = a.filename ?? '';
    const kind = kindOf(a.mimeType, name);
    if (!kind) continue;
    try {
      const c = a.content;
      const content = typeof c === 'string' ? Buffer.from(c) : c instanceof ArrayBuffer ? Buffer.from(c) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      for (const f of unpack(content)) {
        const text = f.data.toString('utf8');
        if (kind === 'tls') out.tls.push(parseTlsReport(text));
        else out.dmarc.push(parseDmarcReport(text));
      }
    } catch (err) {
      out.problems.push(`${name || a.mimeType}: ${(err as Error).message}`);
    }
  }
  return out;
}
