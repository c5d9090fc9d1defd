/**
 * @module dane
 * DANE for outbound SMTP: the TLSA records of an MX host (`_PORT._tcp.HOST`), used only when
 * the resolver says they were DNSSEC-validated, and the check of the certificate chain an MX
 * presents against them.
 * Standards: RFC 7672 §2.2 (secure TLSA records make TLS mandatory, no fallback to plaintext;
 *   insecure ones are ignored; a failed TLSA lookup makes the host unusable), §2.2.1 (MX hosts
 *   from an insecure MX RRset may still use DANE), §3.1.1 (DANE-EE(3): the leaf matches, no
 *   name or expiry checks), §3.1.2 (DANE-TA(2): the chain from the leaf to a matching trust
 *   anchor the server sent, names and expiry checked), §3.1.3 (PKIX-TA(0)/PKIX-EE(1) are
 *   unusable in SMTP), §3.2.3 (reference identifier: the MX host name, the TLSA base domain),
 *   §2.2 and RFC 7671 §4 (only unusable records: TLS still required, not authenticated);
 *   RFC 6698 §2.1 (selectors 0 full certificate, 1 SubjectPublicKeyInfo; matching types 0
 *   exact, 1 SHA-256, 2 SHA-512).
 * Security: the AD bit is believed from the configured resolver only (`delivery.dane` says the
 *   operator runs a validating resolver on a trusted path, see secure-dns.ts). A TLSA record
 *   that does not parse, or of an unknown selector or matching type, is unusable, never a match.
 * Limitations: the address records of the MX host are not checked for validation (RFC 7672
 *   §2.2.2 skips the TLSA lookup for insecure ones; looking anyway can only defer more mail, not
 *   less safely); no CNAME expansion of the MX host (TLSA base domain = MX host name); no
 *   digest algorithm agility (RFC 7671 §9: every usable record is tried); a DANE-TA anchor must
 *   be sent by the server as a certificate (RFC 7672 §3.1.2 asks servers to).
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import { formatTlsa, type SecureResult, type TlsaRecord } from '../dns/index.js';

/** What DANE says about one MX host. */
export type DaneLookup =
  /** no TLSA records, or not validated ones: as without DANE (opportunistic TLS, MTA-STS) */
  | { readonly kind: 'none' }
  /** usable records: TLS required and the chain must match one */
  | { readonly kind: 'dane'; readonly name: string; readonly records: readonly TlsaRecord[] }
  /** validated records, none usable: TLS required, certificate not checked (RFC 7671 §4) */
  | { readonly kind: 'encrypt'; readonly name: string }
  /** the lookup failed: the host must not be used now (RFC 7672 §2.2) */
  | { readonly kind: 'unusable'; readonly error: string };

export interface DaneOptions {
  /** a resolver that reports DNSSEC validation (the AD bit) */
  readonly dns: { findTlsa(name: string): Promise<SecureResult<TlsaRecord>> };
  readonly now?: () => number;
}

/** RFC 7672 §3.1: usages 2 and 3, selectors 0 and 1, matching types 0, 1 and 2. */
export function usableTlsa(r: TlsaRecord): boolean {
  return (r.usage === 2 || r.usage === 3) && (r.selector === 0 || r.selector === 1) && r.matchingType >= 0 && r.matchingType <= 2;
}


/** RFC 6698 §2.1.2-§2.1.3: does `cert` carry the association data of `r`? */
export function tlsaMatches(r: TlsaRecord, cert: X509Certificate): boolean {
  const selected = r.selector === 0 ? cert.raw : r.selector === 1 ? cert.publicKey.export({ type: 'spki', format: 'der' }) : undefined;
  if (!selected) return false;
  const value = r.matchingType === 0 ? selected : r.matchingType === 1 ? createHash('sha256').update(selected).digest() : r.matchingType === 2 ? createHash('sha512').update(selected).digest() : undefined;
  return value !== undefined && value.equals(r.data);
}


/** The chain a TLS peer sent, leaf first. */
export function peerChain(socket: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (c && c.raw && out.length < 10) {
    const key = c.raw.toString('base64');
    if (seen.has(key)) break; // a self-signed certificate is its own issuer
    seen.add(key);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

function validAt(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}

/**
 * RFC 7672 §3.1: undefined when `chain` (leaf first) satisfies one of the usable `records` for
 * host `name`, else why not.
 */
export function verifyDane(chain: readonly X509Certificate[], records: readonly TlsaRecord[], name: string, now = Date.now()): string | undefined {
  const leaf = chain[0];
  if (!leaf) return 'the server sent no certificate';
  // §3.1.1 DANE-EE: the leaf itself, no name or validity checks
  if (records.some((r) => r.usage === 3 && tlsaMatches(r, leaf))) return undefined;
  // §3.1.2 DANE-TA: a certificate the server sent, reached from the leaf by valid signatures
  let why = `the certificate matches none of the TLSA records at ${name}`;
  for (let i = 0; i < chain.length; i++) {
    if (!records.some((r) => r.usage === 2 && tlsaMatches(r, chain[i]))) continue;
    let ok = true;
    for (let j = 0; j < i && ok; j++) ok = chain[j].checkIssued(chain[j + 1]) && chain[j].verify(chain[j + 1].publicKey);
    if (!ok) {
      why = 'the certificate chain does not lead to the trust anchor of the TLSA records';
      continue;
    }
    if (chain.slice(0, Math.max(i, 1)).some((c) => !validAt(c, now))) {
      why = 'a certificate under the TLSA trust anchor has expired or is not yet valid';
      continue;
    }
    const host = name.replace(/^_\d+\._tcp\./, '');
    if (leaf.checkHost(host) === undefined) {
      why = `the certificate is not valid for ${host}`;
      continue;
    }
    return undefined;
  }
  return why;
}

export class DanePolicies {
  constructor(private readonly o: DaneOptions) {}

  /** RFC 7672 §2.2: what DANE asks of a connection to `host` on `port`. Never throws. */
  async forHost(host: string, port: number): Promise<DaneLookup> {
    const name = `_${port}._tcp.${host.toLowerCase().replace(/\.$/, '')}`;
    const r = await this.o.dns.findTlsa(name);
    if (r.kind === 'temporary') return { kind: 'unusable', error: `DANE: TLSA lookup for ${name} failed: ${r.error}` };
    // §2.2: records that were not validated are as no records
    if (r.kind === 'not-found' || !r.secure) return { kind: 'none' };
    const records = r.records.filter(usableTlsa);
    return records.length > 0 ? { kind: 'dane', name, records } : { kind: 'encrypt', name };
  }

  /** The check to run on the TLS session with a host, for SmtpClient's `verifyTls`. */
  verifier(lookup: DaneLookup & { kind: 'dane' }): (socket: TLSSocket) => string | undefined {
    const now = this.o.now ?? Date.now;
    return (socket) => {
      const why = verifyDane(peerChain(socket), lookup.records, lookup.name, now());
      return why === undefined ? undefined : `${why} (${lookup.records.map(formatTlsa).map((t) => (t.length > 30 ? `${t.slice(0, 30)}…` : t)).join(', ')})`;
    };
  }
}
