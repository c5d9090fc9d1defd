/**
 * @module dmarc-report
 * DMARC aggregate reports: what one evaluation contributes (a row), the XML report of one policy
 * domain and day, the check that a report destination outside the domain agreed to receive
 * it, and the report as a mail message.
 * Standards: RFC 7489 §7.1 (external destinations: `<domain>._report._dmarc.<dest-domain>` must
 *   hold a v=DMARC1 record), §7.2 (aggregate reports), §7.2.1.1 (the mail: Subject "Report
 *   Domain: … Submitter: … Report-ID: <…>", the gzip attachment named
 *   receiver!policy-domain!begin!end!id), appendix C (the XML: report_metadata,
 *   policy_published, record rows with policy_evaluated, identifiers, auth_results).
 * Security: every value written into the XML is escaped; rua addresses come from the sender's
 *   DNS and are used only after the §7.1 check.
 * Limitations: no size limits ("!10m") honoured beyond dropping them; no failure reports (ruf).
 */
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { composeMessage } from '../../protocol/mime/compose-message.js';
import { organizationalDomain, type DmarcOutcome, type TxtLookup } from './dmarc.js';

/** One evaluation as the report counts it (identical rows are counted together). */
export interface DmarcReportRow {
  readonly sourceIp: string;
  readonly headerFrom: string;
  /** policy_evaluated */
  readonly disposition: 'none' | 'quarantine' | 'reject';
  readonly dkim: 'pass' | 'fail';
  readonly spf: 'pass' | 'fail';
  /** auth_results */
  readonly dkimResults: readonly { readonly domain: string; readonly selector: string; readonly result: string }[];
  readonly spfResult: { readonly domain: string; readonly scope: 'mfrom' | 'helo'; readonly result: string };
}

/** The policy as published (policy_published). */
export interface PublishedPolicy {
  readonly domain: string;
  readonly adkim: 'r' | 's';
  readonly aspf: 'r' | 's';
  readonly p: string;
  readonly sp: string;
  readonly pct: number;
  readonly rua: readonly string[];
}

/** What the recorder is given for each evaluated From domain whose record asks for reports. */
export interface DmarcEvaluation {
  readonly at: number;
  readonly policy: PublishedPolicy;
  readonly row: DmarcReportRow;
}

/** The evaluation of `o` for the report, or undefined when its record asks for no reports. */
export function dmarcEvaluation(
  o: DmarcOutcome,
  applied: DmarcReportRow['disposition'],
  ids: { sourceIp: string; spf: DmarcReportRow['spfResult']; dkim: DmarcReportRow['dkimResults'] },
  at: number,
): DmarcEvaluation | undefined {
  const r = o.record;
  if (!r || r.rua.length === 0 || (o.result !== 'pass' && o.result !== 'fail')) return undefined;
  return {
    at,
    policy: { domain: o.policyDomain ?? o.domain, adkim: r.adkim, aspf: r.aspf, p: r.p, sp: r.sp, pct: r.pct, rua: r.rua },
    row: {
      sourceIp: ids.sourceIp,
      headerFrom: o.domain,
      disposition: applied,
      dkim: o.dkimAligned ? 'pass' : 'fail',
      spf: o.spfAligned ? 'pass' : 'fail',
      dkimResults: ids.dkim,
      spfResult: ids.spf,
    },
  };
}

/**
 * RFC 7489 §7.1: may the report for `policyDomain` go to `address`? Yes within the same
 * organizational domain; else only when `<policyDomain>._report._dmarc.<its domain>` holds a
 * v=DMARC1 record. A lookup failure is a no for now (the next run asks again).
 */
export async function destinationAllowed(policyDomain: string, address: string, txt: TxtLookup): Promise<boolean> {
  const dest = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  if (organizationalDomain(dest) === organizationalDomain(policyDomain)) return true;
  const r = await txt(`${policyDomain}._report._dmarc.${dest}`);
  return r.kind === 'found' && r.records.some((t) => /^\s*v\s*=\s*DMARC1\s*(;|$)/i.test(t));
}

const esc = (s: string | number): string => String(s).replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
const el = (name: string, value: string | number): string => `<${name}>${esc(value)}</${name}>`;

export interface DmarcReportMeta {
  /** "YYYY-MM-DD" UTC */
  readonly day: string;
  readonly orgName: string;
  readonly email: string;
  readonly reportId?: string;
}

/** RFC 7489 appendix C: the report of one policy domain and day. */
export function dmarcReportXml(policy: PublishedPolicy, rows: readonly { row: DmarcReportRow; count: number }[], m: DmarcReportMeta & { reportId: string }): string {
  const begin = Date.parse(`${m.day}T00:00:00Z`) / 1000;
  const records = rows.map(({ row, count }) =>
    [
      '<record><row>',
      el('source_ip', row.sourceIp),
      el('count', count),
      `<policy_evaluated>${el('disposition', row.disposition)}${el('dkim', row.dkim)}${el('spf', row.spf)}</policy_evaluated>`,
      '</row>',
      `<identifiers>${el('header_from', row.headerFrom)}</identifiers>`,
      '<auth_results>',
      ...row.dkimResults.map((d) => `<dkim>${el('domain', d.domain)}${d.selector ? el('selector', d.selector) : ''}${el('result', d.result)}</dkim>`),
      `<spf>${el('domain', row.spfResult.domain)}${el('scope', row.spfResult.scope)}${el('result', row.spfResult.result)}</spf>`,
      '</auth_results></record>',
    ].join(''),
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<feedback>',
    `<report_metadata>${el('org_name', m.orgName)}${el('email', m.email)}${el('report_id', m.reportId)}<date_range>${el('begin', begin)}${el('end', begin + 86_399)}</date_range></report_metadata>`,
    `<policy_published>${el('domain', policy.domain)}${el('adkim', policy.adkim)}${el('aspf', policy.aspf)}${el('p', policy.p)}${el('sp', policy.sp)}${el('pct', policy.pct)}</policy_published>`,
    ...records,
    '</feedback>',
    '',
  ].join('\n');
}

/** RFC 7489 §7.2.1.1: the report mail from `from` to `to`, the XML gzipped and attached. */
export function dmarcReportMessage(policy: PublishedPolicy, rows: readonly { row: DmarcReportRow; count: number }[], m: DmarcReportMeta, receiver: string, from: string, to: string): Buffer {
  const reportId = m.reportId ?? `${m.day}.${policy.domain}.${randomBytes(6).toString('hex')}`;
  const xml = dmarcReportXml(policy, rows, { ...m, reportId });
  const begin = Date.parse(`${m.day}T00:00:00Z`) / 1000;
  return composeMessage({
    from: [{ email: from }],
    to: [{ email: to }],
    subject: `Report Domain: ${policy.domain} Submitter: ${receiver} Report-ID: <${reportId}>`,
    text: `This is a DMARC aggregate report from ${receiver} for ${policy.domain}, ${m.day} (RFC 7489).\r\n`,
    attachments: [{ type: 'application/gzip', data: gzipSync(xml), name: `${receiver}!${policy.domain}!${begin}!${begin + 86_399}!${reportId}.xml.gz` }],
    domain: receiver,
  });
}
