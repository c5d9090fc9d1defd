/**
 * @module tlsa-record
 * The TLSA record (RFC 6698 §2.1) as a value: what DANE lookups return, what `correio dns
 * records` prints for the site's own certificate, and its zone-file presentation.
 * Standards: RFC 6698 §2.1-§2.2 (fields, presentation), RFC 7671 §5.1 and RFC 7672 §3.1.1
 *   (publish DANE-EE(3) SPKI(1) SHA-256(1): it survives a certificate renewal with the same key).
 * Security: data only; reads public keys.
 * Limitations: none.
 */
import { createHash, X509Certificate } from 'node:crypto';

/** One TLSA record (RFC 6698 §2.1): usage, selector, matching type, association data. */
export interface TlsaRecord {
  readonly usage: number;
  readonly selector: number;
  readonly matchingType: number;
  readonly data: Buffer;
}

/** A record as a zone file shows it: "3 1 1 ab12…". */
export function formatTlsa(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.matchingType} ${r.data.toString('hex')}`;
}

/** The TLSA record that publishes `certPem` as DANE-EE, SPKI, SHA-256. */
export function tlsaRecordFor(certPem: string | Buffer): TlsaRecord {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return { usage: 3, selector: 1, matchingType: 1, data: createHash('sha256').update(spki).digest() };
}
