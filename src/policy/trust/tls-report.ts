/**
 * @module tls-report
 * SMTP TLS reports (TLS-RPT): the report JSON of one policy domain and day, made from the
 * counted session results, the `_smtp._tls` record that says where it goes, and the report as
 * a mail message.
 * Standards: RFC 8460 §3 (the TXT record: v=TLSRPTv1, rua with mailto: and https: URIs; not
 *   exactly one record means no reports), §4.3-§4.4 (the JSON: date-range, policies with
 *   policy-type, policy-string, policy-domain, mx-host, summary counts, failure-details),
 *   §5.1 (the gzip file name), §5.3 (the mail: multipart/report; report-type="tlsrpt",
 *   application/tlsrpt+gzip, the Subject, TLS-Report-Domain and TLS-Report-Submitter fields);
 *   RFC 6522 (multipart/report).
 * Security: the record is untrusted input: only mailto: and https: URIs are kept, at most 10.
 * Limitations: the report's sending-mta-ip is left out (a node may send from several).
 */
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { composeMessage } from '../../protocol/mime/compose-message.js';
import type { TlsResultRow } from './report-store.js';

/** RFC 8460 §3: the rua URIs of the one v=TLSRPTv1 record, or undefined. */
export function tlsRptDestinations(records: readonly string[]): string[] | undefined {
  const rpt = records.filter((r) => /^v=TLSRPTv1\s*(;|$)/.test(r.trim()));
  if (rpt.length !== 1) return undefined;
  const rua = /(?:^|;)\s*rua=([^;]*)/.exec(rpt[0])?.[1];
  if (!rua) return undefined;
  const uris = rua
    .split(',')
    .map((u) => u.trim())
    .filter((u) => /^mailto:[^\s@]+@[^\s@]+$/i.test(u) || /^https:\/\/\S+$/i.test(u))
    .slice(0, 10);
  return uris.length > 0 ? uris : undefined;
}

export interface TlsReportMeta {
  readonly domain: string;
  /** "YYYY-MM-DD" UTC */
  readonly day: string;
  /** who reports: our host name */
  readonly submitter: string;
  readonly organization: string;
  readonly contact: string;
  readonly reportId?: string;
}

export interface TlsReport {
  readonly 'organization-name': string;
  readonly 'date-range': { readonly 'start-datetime': string; readonly 'end-datetime': string };
  readonly 'contact-info': string;
  readonly 'report-id': string;
  readonly policies: readonly unknown[];
}

/** RFC 8460 §4.4: the report of one domain and day; one entry per policy seen. */
export function buildTlsReport(rows: readonly TlsResultRow[], m: TlsReportMeta): TlsReport {
  const groups = new Map<string, TlsResultRow[]>();
  for (const r of rows) {
    const key = JSON.stringify([r.policyType, r.policyStrings]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const policies = [...groups.values()].map((g) => {
    const ok = g.filter((r) => r.result === 'success');
    const failed = g.filter((r) => r.result !== 'success');
    return {
      policy: {
        'policy-type': g[0].policyType,
        ...(g[0].policyStrings.length > 0 ? { 'policy-string': g[0].policyStrings } : {}),
        'policy-domain': m.domain,
        'mx-host': [...new Set(g.map((r) => r.mxHost).filter((h) => h !== ''))],
      },
      summary: {
        'total-successful-session-count': ok.reduce((n, r) => n + r.count, 0),
        'total-failure-session-count': failed.reduce((n, r) => n + r.count, 0),
      },
      ...(failed.length > 0
        ? {
            'failure-details': failed.map((r) => ({
              'result-type': r.result,
              // a policy failure (sts-policy-fetch-error …) concerns no MX host
              ...(r.mxHost ? { 'receiving-mx-hostname': r.mxHost } : {}),
              ...(r.receivingIp ? { 'receiving-ip': r.receivingIp } : {}),
              'failed-session-count': r.count,
              ...(r.info ? { 'failure-reason-code': r.info } : {}),
            })),
          }
        : {}),
    };
  });
  return {
    'organization-name': m.organization,
    'date-range': { 'start-datetime': `${m.day}T00:00:00Z`, 'end-datetime': `${m.day}T23:59:59Z` },
    'contact-info': m.contact,
    'report-id': m.reportId ?? `${m.day}.${m.domain}.${randomBytes(6).toString('hex')}@${m.submitter}`,
    policies,
  };
}

/** RFC 8460 §5.1, §5.2: the gzipped JSON and its file name sender!domain!begin!end.json.gz. */
export function tlsReportFile(report: TlsReport, m: TlsReportMeta): { name: string; data: Buffer } {
  const begin = Date.parse(report['date-range']['start-datetime']) / 1000;
  const end = Date.parse(report['date-range']['end-datetime']) / 1000;
  return { name: `${m.submitter}!${m.domain}!${begin}!${end}.json.gz`, data: gzipSync(JSON.stringify(report)) };
}

/** RFC 8460 §5.3: the report as a message from `from` to `to` (CRLF line ends). */
export function tlsReportMessage(report: TlsReport, m: TlsReportMeta, from: string, to: string): Buffer {
  const file = tlsReportFile(report, m);
  return composeMessage({
    from: [{ email: from }],
    to: [{ email: to }],
    subject: `Report Domain: ${m.domain} Submitter: ${m.submitter} Report-ID: <${report['report-id']}>`,
    fields: [
      ['TLS-Report-Domain', m.domain],
      ['TLS-Report-Submitter', m.submitter],
    ],
    multipart: 'report; report-type="tlsrpt"',
    text: `This is an aggregate TLS report from ${m.submitter} for ${m.domain}, ${m.day} (RFC 8460).\r\n`,
    attachments: [{ type: 'application/tlsrpt+gzip', data: file.data, name: file.name }],
    domain: m.submitter,
  });
}
