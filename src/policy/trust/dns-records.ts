/**
 * @module dns-records
 * Every DNS record a local domain needs, from the live configuration: MX, SPF, one DKIM
 * record per key under the data directory, and a DMARC suggestion. `correio dns records`
 * prints them as zone-file lines; the admin API returns them as values (each with its zone
 * line, for the console's copy button).
 * Standards: RFC 5321 §5.1 (MX), RFC 7208 §3 (SPF TXT), RFC 6376 §3.6.2.1
 *   (SELECTOR._domainkey), RFC 8463 (Ed25519 keys), RFC 7489 §6.3 (DMARC record), RFC 1035 §5.1
 *   (zone file syntax; a TXT value longer than 255 octets is written as several quoted strings).
 * Security: reads public keys only; the private key never leaves its file.
 * Limitations: the records are given, not published (MTA-STS and TLS-RPT come when those exist).
 */
import type { Config } from '../../config/index.js';
import { keyRecordName, keyRecordValue, loadDkimKeys } from './dkim-keys.js';

export interface DnsRecord {
  /** what the record is for, one line */
  readonly comment: string;
  /** owner name without the final dot */
  readonly name: string;
  readonly type: 'MX' | 'TXT';
  /** the record's data as published (TXT: the unquoted text) */
  readonly value: string;
  /** the zone-file line */
  readonly zone: string;
}

/** RFC 1035 §5.1: a TXT value as quoted strings of at most 255 octets each. */
export function zoneTxt(name: string, value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255).replace(/(["\\])/g, '\\$1')}"`);
  return parts.length === 1 ? `${name}. IN TXT ${parts[0]}` : `${name}. IN TXT ( ${parts.join(' ')} )`;
}

function txt(comment: string, name: string, value: string): DnsRecord {
  return { comment, name, type: 'TXT', value, zone: zoneTxt(name, value) };
}

/** A selector named after the month (s202612): a new one each rotation sorts after the old. */
export function defaultSelector(now = new Date()): string {
  return `s${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The records DOMAIN needs (the domain lower-cased, without a final dot). */
export function dnsRecords(config: Config, domain: string): DnsRecord[] {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const host = config.hostname.replace(/\.$/, '');
  const out: DnsRecord[] = [
    {
      comment: `mail for ${d} goes to this host (RFC 5321 §5.1); ${host} needs A/AAAA records of its public addresses`,
      name: d,
      type: 'MX',
      value: `10 ${host}.`,
      zone: `${d}. IN MX 10 ${host}.`,
    },
    txt('SPF (RFC 7208): only the MX host sends for the domain', d, 'v=spf1 mx -all'),
  ];
  for (const k of loadDkimKeys(config.dataDir).keys.get(d) ?? []) {
    const rfc = `RFC 6376${k.algorithm === 'ed25519-sha256' ? ', RFC 8463' : ''}`;
    out.push(txt(`DKIM (${rfc}) selector ${k.selector}, ${k.algorithm}`, keyRecordName(d, k.selector), keyRecordValue(k.privateKey)));
  }
  out.push(txt('DMARC (RFC 7489): start with p=none and read the reports, then move to quarantine and reject', `_dmarc.${d}`, `v=DMARC1; p=none; rua=mailto:postmaster@${d}`));
  return out;
}

/** Every record DOMAIN needs, as zone-file lines with comments (`correio dns records`). */
export function domainRecords(config: Config, domain: string): string[] {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const records = dnsRecords(config, d);
  const out = [`; DNS records for ${d} (correio, from ${config.file ?? 'the built-in configuration'})`];
  for (const r of records) {
    // the DMARC comment comes after the hint about a missing key, as before
    if (r.name === `_dmarc.${d}` && !records.some((x) => x.comment.startsWith('DKIM'))) out.push(`; DKIM: no key yet: correio dkim keygen ${d}`);
    out.push(`; ${r.comment}`, r.zone);
  }
  return out;
}
