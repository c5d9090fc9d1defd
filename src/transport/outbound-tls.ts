/**
 * @module outbound-tls
 * How the SMTP transport secures the connection to one MX host: DANE when the host has
 * validated TLSA records, else the domain's MTA-STS `enforce` policy, else opportunistic TLS.
 * Standards: RFC 8461 §2 (a host with DANE TLSA records is checked by DANE, not MTA-STS),
 *   §4.2 (enforce: STARTTLS and a certificate valid for the MX name); RFC 7672 §2.2 (secure
 *   TLSA records: TLS mandatory, no fallback to plaintext; a failed lookup makes the host
 *   unusable); RFC 7435 (opportunistic TLS otherwise); RFC 3463 (4.7.5 cryptographic failure).
 * Security: under DANE and MTA-STS a TLS failure never falls back to plaintext; the label goes
 *   into the deferral's reason, which `queue show` prints.
 * Limitations: see dane.ts and mta-sts.ts.
 */
import { channel } from 'node:diagnostics_channel';
import { rootCertificates, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { channels, type TlsSessionResult } from '../core/index.js';
import { formatTlsa } from '../dns/index.js';
import type { DaneLookup, DanePolicies } from './dane.js';
import type { StsPolicy } from './mta-sts.js';

/** The TLS part of a connection to one host, or why the host is skipped. */
export type HostTls =
  | {
      readonly kind: 'connect';
      readonly tls?: 'opportunistic' | 'required' | 'none';
      readonly tlsOptions?: ConnectionOptions;
      readonly verifyTls?: (socket: TLSSocket) => string | undefined;
      /** which policy asked for TLS (prefixes TLS failures; they become 4.7.5) */
      readonly label?: string;
      /** the policy that applied, for TLS reports (RFC 8460 §4.3 policy-type, policy-string) */
      readonly policy: TlsSessionResult['policyType'];
      readonly policyStrings?: readonly string[];
    }
  | { readonly kind: 'skip'; readonly error: string; readonly status: '4.4.3' };

export interface OutboundTlsOptions {
  readonly tls?: 'opportunistic' | 'required' | 'none';
  readonly tlsOptions?: ConnectionOptions;
  /** CAs trusted besides Node's store for MTA-STS (PEM) */
  readonly ca?: readonly string[];
  readonly dane?: DanePolicies;
}

/** TLS options that verify the peer: Node's CA store plus the extra CAs. */
export function verifiedTls(base: ConnectionOptions | undefined, extra: readonly string[] = []): ConnectionOptions {
  return { ...base, rejectUnauthorized: true, ...(extra.length > 0 ? { ca: [...rootCertificates, ...extra] } : {}) };
}

/**
 * The connection's TLS for MX host `host` of `domain` on `port`. `mx` is false for static
 * routes and LMTP, where neither DANE nor MTA-STS applies.
 */
export async function hostTls(o: OutboundTlsOptions, q: { host: string; port: number; domain: string; mx: boolean; sts?: StsPolicy }): Promise<HostTls> {
  const plain: HostTls = { kind: 'connect', tls: o.tls, tlsOptions: o.tlsOptions, policy: 'no-policy-found' };
  if (!q.mx) return plain;
  const dane: DaneLookup = o.dane ? await o.dane.forHost(q.host, q.port) : { kind: 'none' };
  if (dane.kind === 'unusable') return { kind: 'skip', error: dane.error, status: '4.4.3' };
  if (dane.kind === 'dane' || dane.kind === 'encrypt') {
    const label = `DANE for ${q.host}`;
    const tlsOptions = { ...o.tlsOptions, rejectUnauthorized: false };
    if (dane.kind === 'encrypt') return { kind: 'connect', tls: 'required', tlsOptions, label, policy: 'tlsa', policyStrings: [] };
    // RFC 7672 §8.1: the SNI is the TLSA base domain (the CNAME-expanded MX name, when it is one)
    return { kind: 'connect', tls: 'required', tlsOptions: { ...tlsOptions, servername: dane.base }, verifyTls: o.dane?.verifier(dane), label, policy: 'tlsa', policyStrings: dane.records.map(formatTlsa) };
  }
  if (q.sts) {
    const s = q.sts;
    const policyStrings = ['version: STSv1', `mode: ${s.mode}`, ...s.mx.map((m) => `mx: ${m}`), `max_age: ${s.maxAge}`];
    return { kind: 'connect', tls: 'required', tlsOptions: verifiedTls(o.tlsOptions, o.ca), label: `MTA-STS policy of ${q.domain} (enforce)`, policy: 'sts', policyStrings };
  }
  return plain;
}

const resultChannel = channel(channels.tlsResult);

/** RFC 8460 §4.3.2: the result type of a failed TLS session, from the error and its cause. */
export function tlsResultType(message: string, code: string | undefined): string {
  if (/STARTTLS (not offered|refused)/.test(message)) return 'starttls-not-supported';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /not valid for/.test(message)) return 'certificate-host-mismatch';
  if (code === 'CERT_HAS_EXPIRED' || /expired/.test(message)) return 'certificate-expired';
  if (code && /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF|CERT_UNTRUSTED/.test(code)) return 'certificate-not-trusted';
  return 'validation-failure';
}

/**
 * Tells the TLS reports (RFC 8460) how a session with an MX host went: a TLS session is a
 * success; a TLS failure or an unusable TLSA lookup is a failure; a plain session without a
 * policy is not counted (nothing was expected of it).
 */
export function publishTlsResult(
  domain: string,
  mxHost: string,
  ht: HostTls,
  outcome: { readonly ip?: string; readonly secure?: boolean; readonly error?: { message: string; code?: string } },
): void {
  if (!resultChannel.hasSubscribers) return;
  const base = { domain, mxHost, at: Date.now(), ...(outcome.ip ? { receivingIp: outcome.ip } : {}) };
  if (ht.kind === 'skip') {
    resultChannel.publish({ ...base, policyType: 'tlsa', policyStrings: [], result: 'dnssec-invalid', info: ht.error } satisfies TlsSessionResult);
    return;
  }
  const policy = { policyType: ht.policy, policyStrings: ht.policyStrings ?? [] };
  if (outcome.error) {
    resultChannel.publish({ ...base, ...policy, result: tlsResultType(outcome.error.message, outcome.error.code), info: outcome.error.message } satisfies TlsSessionResult);
  } else if (outcome.secure) {
    resultChannel.publish({ ...base, ...policy, result: 'success' } satisfies TlsSessionResult);
  }
}
