/**
 * @module dane
 * DANE for outbound SMTP: the TLSA records of an MX host (`_PORT._tcp.HOST`), used only when
 * the resolver says they and the host's addresses were DNSSEC-validated, and the check of the
 * certificate chain an MX presents against them.
 * Standards: RFC 7672 §2.2 (secure TLSA records make TLS mandatory, no fallback to plaintext;
 *   insecure ones are ignored; a failed TLSA lookup makes the host unusable), §2.2.1 (MX hosts
 *   from an insecure MX RRset may still use DANE), §2.2.2 (the MX host's address records must
 *   be secure, else no TLSA lookup; a secure CNAME chain makes the expanded name the TLSA base
 *   domain, asked first, the MX name second), §3.1.1 (DANE-EE(3): the leaf matches, no
 *   name or expiry checks), §3.1.2 (DANE-TA(2): the chain from the leaf to a matching trust
 *   anchor the server sent, names and expiry checked), §3.1.3 (PKIX-TA(0)/PKIX-EE(1) are
 *   unusable in SMTP), §3.2.2-§3.2.3 (reference identifiers: the TLSA base domain and the MX
 *   host name), §8.1 (SNI: the TLSA base domain), §2.2 and RFC 7671 §4 (only unusable records:
 *   TLS still required, not authenticated); RFC 7671 §9 (digest algorithm agility: per usage
 *   and selector, Full(0) records and those of the strongest digest present; SHA2-512 over
 *   SHA2-256); RFC 6698 §2.1 (selectors 0 full certificate, 1 SubjectPublicKeyInfo; matching
 *   types 0 exact, 1 SHA-256, 2 SHA-512).
 * Security: the AD bit is believed from the configured resolver only (`delivery.dane` says the
 *   operator runs a validating resolver on a trusted path, see secure-dns.ts). A TLSA record
 *   that does not parse, or of an unknown selector or matching type, is unusable, never a match;
 *   a digest record of the wrong length is discarded before the strongest digest is chosen, so
 *   it cannot hide a good SHA2-256 record (nor be the only one left).
 * Limitations: the MX RRset's own validation is not asked (§2.2.1 lets an insecure MX RRset use
 *   DANE); a DANE-TA anchor must be sent by the server as a certificate (RFC 7672 §3.1.2 asks
 *   servers to).
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import { formatTlsa, type SecureResult, type TlsaRecord } from '../dns/index.js';

/** What DANE says about one MX host. */
export type DaneLookup =
  /** no TLSA records, or not validated ones: as without DANE (opportunistic TLS, MTA-STS) */
  | { readonly kind: 'none' }
  /**
   * usable records: TLS required and the chain must match one. `name` is where they were found
   * (`_25._tcp.BASE`), `base` the TLSA base domain (sent as SNI), `hosts` the names a DANE-TA
   * certificate may be issued to (the base domain and the MX host name).
   */
  | { readonly kind: 'dane'; readonly name: string; readonly base: string; readonly hosts: readonly string[]; readonly records: readonly TlsaRecord[] }
  /** validated records, none usable: TLS required, certificate not checked (RFC 7671 §4) */
  | { readonly kind: 'encrypt'; readonly name: string }
  /** the lookup failed: the host must not be used now (RFC 7672 §2.2) */
  | { readonly kind: 'unusable'; readonly error: string };

export interface DaneOptions {
  /** a resolver that reports DNSSEC validation (the AD bit) */
  readonly dns: { findTlsa(name: string): Promise<SecureResult<TlsaRecord>>; findAddresses(host: string): Promise<SecureResult<string>> };
  readonly now?: () => number;
}

/** RFC 6698 §2.1.3: the length a digest matching type gives (undefined: any length). */
const DIGEST_LENGTH: Record<number, number | undefined> = { 1: 32, 2: 64 };

/** RFC 7672 §3.1: usages 2 and 3, selectors 0 and 1, matching types 0, 1 and 2 (a digest of its right length). */
export function usableTlsa(r: TlsaRecord): boolean {
  if (!((r.usage === 2 || r.usage === 3) && (r.selector === 0 || r.selector === 1) && r.matchingType >= 0 && r.matchingType <= 2)) return false;
  const len = DIGEST_LENGTH[r.matchingType];
  return len === undefined ? r.data.length > 0 : r.data.length === len;
}

/**
 * RFC 7671 §9: for each usage and selector, keep the Full(0) records and those of the strongest
 * digest among the ones published (SHA2-512 before SHA2-256): a server whose key matches only a
 * weaker "3 1 1" record while a "3 1 2" record exists for the same usage and selector fails.
 */
export function preferDigests(records: readonly TlsaRecord[]): TlsaRecord[] {
  const strongest = new Map<string, number>();
  for (const r of records) {
    const key = `${r.usage} ${r.selector}`;
    if (r.matchingType !== 0) strongest.set(key, Math.max(strongest.get(key) ?? 0, r.matchingType));
  }
  return records.filter((r) => r.matchingType === 0 || strongest.get(`${r.usage} ${r.selector}`) === r.matchingType);
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
 * RFC 7672 §3.1: undefined when `chain` (leaf first) satisfies one of the usable `records`
 * found at `name`, else why not. Under DANE-TA the leaf must be valid for one of `hosts`
 * (§3.2.2: the TLSA base domain and the MX host name; default the host in `name`).
 */
export function verifyDane(chain: readonly X509Certificate[], records: readonly TlsaRecord[], name: string, now = Date.now(), hosts?: readonly string[]): string | undefined {
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
    const names = hosts && hosts.length > 0 ? hosts : [name.replace(/^_\d+\._tcp\./, '')];
    if (names.every((h) => leaf.checkHost(h) === undefined)) {
      why = `the certificate is not valid for ${names.join(' or ')}`;
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
    const mx = host.toLowerCase().replace(/\.$/, '');
    // §2.2.2: DANE only for a host whose address records were validated; a bogus answer
    // (SERVFAIL from a validating resolver) makes the host unusable, as a failed TLSA lookup
    const addr = await this.o.dns.findAddresses(mx);
    if (addr.kind === 'temporary') return { kind: 'unusable', error: `DANE: address lookup for ${mx} failed: ${addr.error}` };
    if (addr.kind === 'not-found' || !addr.secure) return { kind: 'none' };
    // §2.2.2: a validated CNAME chain: the expanded name first, then the MX name
    const bases = addr.name && addr.name !== mx ? [addr.name, mx] : [mx];
    for (const base of bases) {
      const name = `_${port}._tcp.${base}`;
      const r = await this.o.dns.findTlsa(name);
      if (r.kind === 'temporary') return { kind: 'unusable', error: `DANE: TLSA lookup for ${name} failed: ${r.error}` };
      // §2.2: records that were not validated are as no records
      if (r.kind === 'not-found' || !r.secure) continue;
      const records = preferDigests(r.records.filter(usableTlsa));
      return records.length > 0 ? { kind: 'dane', name, base, hosts: [...new Set([base, mx])], records } : { kind: 'encrypt', name };
    }
    return { kind: 'none' };
  }

  /** The check to run on the TLS session with a host, for SmtpClient's `verifyTls`. */
  verifier(lookup: DaneLookup & { kind: 'dane' }): (socket: TLSSocket) => string | undefined {
    const now = this.o.now ?? Date.now;
    return (socket) => {
      const why = verifyDane(peerChain(socket), lookup.records, lookup.name, now(), lookup.hosts);
      return why === undefined ? undefined : `${why} (${lookup.records.map(formatTlsa).map((t) => (t.length > 30 ? `${t.slice(0, 30)}…` : t)).join(', ')})`;
    };
  }
}
