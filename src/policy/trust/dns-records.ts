/**
 * @module dns-records
 * Every DNS record a local domain needs, from the live configuration: MX, SPF, one DKIM
 * record per key given (the keyring's: data directory or PostgreSQL), TLSA for the SMTP certificate, MTA-STS and TLS-RPT,
 * and a DMARC suggestion. `correio dns records`
 * prints them as zone-file lines; the admin API returns them as values (each with its zone
 * line, for the console's copy button).
 * Standards: RFC 5321 §5.1 (MX), RFC 7208 §3 (SPF TXT), RFC 6376 §3.6.2.1
 *   (SELECTOR._domainkey), RFC 8463 (Ed25519 keys), RFC 7489 §6.3 (DMARC record), RFC 1035 §5.1
 *   (zone file syntax; a TXT value longer than 255 octets is written as several quoted strings),
 *   RFC 8461 §3.1-§3.2 (MTA-STS TXT and policy file), RFC 8460 §3 (TLS-RPT TXT), RFC 7672 §3.1.1
 *   and RFC 7671 §5.1 (TLSA 3 1 1 for the SMTP certificate's key).
 * Security: prints public keys only.
 * Limitations: the records are given, not published; the MTA-STS policy file is printed for the
 *   operator's HTTPS host (correio does not serve mta-sts.DOMAIN).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Config } from '../../config/index.js';
import { formatTlsa, tlsaRecordFor } from '../../dns/index.js';
import { keyRecordName, keyRecordValue } from './dkim-keys.js';
import type { SigningKey } from './dkim-sign.js';

export interface DnsRecord {
  /** what the record is for, one line */
  readonly comment: string;
  /** owner name without the final dot */
  readonly name: string;
  readonly type: 'MX' | 'TXT' | 'TLSA';
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

/** "3 1 1 <hex>" for the SMTP certificate, when one is configured and readable. */
function tlsaOf(config: Config): string | undefined {
  if (config.smtp.tlsCert === undefined) return undefined;
  try {
    return formatTlsa(tlsaRecordFor(readFileSync(config.smtp.tlsCert)));
  } catch {
    return undefined; // `correio check` reports an unreadable certificate
  }
}

/** RFC 8461 §3.2: the policy file a domain served by `host` publishes, in testing mode to start. */
export function mtaStsPolicy(host: string): string {
  return `version: STSv1\nmode: testing\nmx: ${host}\nmax_age: 604800\n`;
}

/** The records DOMAIN needs (the domain lower-cased, without a final dot). */
export function dnsRecords(config: Config, domain: string, keys: ReadonlyMap<string, readonly SigningKey[]>): DnsRecord[] {
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
  for (const k of keys.get(d) ?? []) {
    const rfc = `RFC 6376${k.algorithm === 'ed25519-sha256' ? ', RFC 8463' : ''}`;
    out.push(txt(`DKIM (${rfc}) selector ${k.selector}, ${k.algorithm}`, keyRecordName(d, k.selector), keyRecordValue(k.privateKey)));
  }
  const tlsa = tlsaOf(config);
  if (tlsa) {
    // RFC 7672 §3.1.1; the name is the MX host's, in the zone that holds it, which must be DNSSEC-signed
    const name = `_25._tcp.${host}`;
    out.push({ comment: `DANE (RFC 7672) for ${host}: publish in its DNSSEC-signed zone; renew the certificate with the same key, or publish the new record first`, name, type: 'TLSA', value: tlsa, zone: `${name}. IN TLSA ${tlsa}` });
  }
  // RFC 8461 §3.1, §3.2: the id changes with the policy, so senders fetch the new one
  const policy = mtaStsPolicy(host);
  const id = createHash('sha256').update(policy).digest('hex').slice(0, 20);
  out.push(
    txt(`MTA-STS (RFC 8461): only with an HTTPS host mta-sts.${d} (its certificate valid for that name) serving https://mta-sts.${d}/.well-known/mta-sts.txt as: ${policy.trim().split('\n').join(' / ')} (one field per line; enforce once the TLS reports are clean)`, `_mta-sts.${d}`, `v=STSv1; id=${id}`),
    txt('TLS-RPT (RFC 8460): senders mail a daily report of their TLS results with this host', `_smtp._tls.${d}`, `v=TLSRPTv1; rua=mailto:postmaster@${d}`),
  );
  out.push(txt('DMARC (RFC 7489): start with p=none and read the reports, then move to quarantine and reject', `_dmarc.${d}`, `v=DMARC1; p=none; rua=mailto:postmaster@${d}`));
  return out;
}

/** Every record DOMAIN needs, as zone-file lines with comments (`correio dns records`). */
export function domainRecords(config: Config, domain: string, keys: ReadonlyMap<string, readonly SigningKey[]>): string[] {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const records = dnsRecords(config, d, keys);
  const out = [`; DNS records for ${d} (correio, from ${config.file ?? 'the built-in configuration'})`];
  for (const r of records) {
    // the DMARC comment comes after the hint about a missing key, as before
    if (r.name === `_dmarc.${d}` && !records.some((x) => x.comment.startsWith('DKIM'))) out.push(`; DKIM: no key yet: correio dkim keygen ${d}`);
    out.push(`; ${r.comment}`, r.zone);
  }
  return out;
}
