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
 *   RFC 8461 §5 (testing: deliver as without a policy, report what enforce would have found);
 *   RFC 8460 §4.3.2 (result types).
 * Limitations: see dane.ts and mta-sts.ts. Under `testing`, a kept session is reused without
 *   being counted again.
 */
import { channel } from 'node:diagnostics_channel';
import { checkServerIdentity, rootCertificates, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { channels, type TlsSessionResult } from '../core/index.js';
import { formatTlsa } from '../dns/index.js';
import type { DaneLookup, DanePolicies } from './dane.js';
import { mxMatches, type StsFailure, type StsPolicy } from './mta-sts.js';

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
      /**
       * an MTA-STS `testing` policy (RFC 8461 §5): nothing is enforced, but what enforce would
       * have found is reported; `verifyTls` fills `found` and never fails the session
       */
      readonly testing?: { readonly mxMatches: boolean; found?: { readonly result: string; readonly info?: string } };
      /** the domain publishes MTA-STS but its policy could not be had: the session counts as that failure */
      readonly stsFailure?: { readonly failure: StsFailure; readonly note?: string };
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
export async function hostTls(
  o: OutboundTlsOptions,
  q: { host: string; port: number; domain: string; mx: boolean; sts?: StsPolicy; testing?: StsPolicy; stsFailure?: { failure: StsFailure; note?: string } },
): Promise<HostTls> {
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
    return { kind: 'connect', tls: 'required', tlsOptions: verifiedTls(o.tlsOptions, o.ca), label: `MTA-STS policy of ${q.domain} (enforce)`, policy: 'sts', policyStrings: stsPolicyStrings(q.sts) };
  }
  if (q.testing && o.tls !== 'none') return testingTls(o, q.host, q.testing);
  // RFC 8460 §4.3.2.2: delivered as without MTA-STS (RFC 8461 §8.3), reported as the policy failure
  if (q.stsFailure) return { ...plain, policy: 'sts', policyStrings: [], stsFailure: q.stsFailure };
  return plain;
}

/** RFC 8460 §4.3: the policy-string of an MTA-STS policy, its lines as published. */
export function stsPolicyStrings(s: StsPolicy): string[] {
  return ['version: STSv1', `mode: ${s.mode}`, ...s.mx.map((m) => `mx: ${m}`), `max_age: ${s.maxAge}`];
}

/**
 * RFC 8461 §5 `testing`: opportunistic TLS as without a policy, with the checks of §4 (MX
 * pattern, a certificate chain to a trusted CA, valid for the MX host name) run on the session
 * for the report only. Node computes `authorized` against the CAs given even when it does not
 * reject the peer.
 */
function testingTls(o: OutboundTlsOptions, host: string, policy: StsPolicy): HostTls {
  const testing: { mxMatches: boolean; found?: { result: string; info?: string } } = { mxMatches: mxMatches(host, policy.mx) };
  const verifyTls = (socket: TLSSocket): undefined => {
    if (!testing.mxMatches) return undefined;
    const cert = socket.getPeerCertificate();
    const code = socket.authorizationError instanceof Error ? ((socket.authorizationError as NodeJS.ErrnoException).code ?? socket.authorizationError.message) : socket.authorizationError;
    if (!socket.authorized) testing.found = { result: tlsResultType(String(code ?? ''), String(code ?? '')), info: `certificate: ${String(code ?? 'not trusted')}` };
    else if (cert && checkServerIdentity(host, cert) !== undefined) testing.found = { result: 'certificate-host-mismatch', info: `the certificate is not valid for ${host}` };
    else testing.found = { result: 'success' };
    return undefined;
  };
  return { kind: 'connect', tls: o.tls, tlsOptions: { ...verifiedTls(o.tlsOptions, o.ca), ca: [...rootCertificates, ...(o.ca ?? [])], rejectUnauthorized: false }, verifyTls, policy: 'sts', policyStrings: stsPolicyStrings(policy), testing };
}

const resultChannel = channel(channels.tlsResult);

/** RFC 8460 §4.3.2: the result type of a failed TLS session, from the error and its cause. */
export function tlsResultType(message: string, code: string | undefined): string {
  if (/STARTTLS (not offered|refused)/.test(message)) return 'starttls-not-supported';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /not valid for/.test(message)) return 'certificate-host-mismatch';
  if (code === 'CERT_HAS_EXPIRED' || /expired/.test(message)) return 'certificate-expired';
  if (code && /SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF|CERT_UNTRUSTED|CERT_CHAIN_TOO_LONG|CERT_REJECTED/.test(code)) return 'certificate-not-trusted';
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
  if (ht.stsFailure) {
    resultChannel.publish({ ...base, ...policy, result: ht.stsFailure.failure, ...(ht.stsFailure.note ? { info: ht.stsFailure.note } : {}) } satisfies TlsSessionResult);
    return;
  }
  const t = ht.testing;
  if (t && !t.mxMatches) {
    // RFC 8461 §4.1: enforce would not have used this host (RFC 8460 has no narrower type)
    resultChannel.publish({ ...base, ...policy, result: 'validation-failure', info: `${mxHost} matches no mx pattern of the policy` } satisfies TlsSessionResult);
    return;
  }
  if (t && !outcome.error && !outcome.secure) {
    resultChannel.publish({ ...base, ...policy, result: 'starttls-not-supported', info: 'STARTTLS not offered' } satisfies TlsSessionResult);
    return;
  }
  if (t?.found && !outcome.error) {
    resultChannel.publish({ ...base, ...policy, result: t.found.result, ...(t.found.info ? { info: t.found.info } : {}) } satisfies TlsSessionResult);
    return;
  }
  if (outcome.error) {
    resultChannel.publish({ ...base, ...policy, result: tlsResultType(outcome.error.message, outcome.error.code), info: outcome.error.message } satisfies TlsSessionResult);
  } else if (outcome.secure) {
    resultChannel.publish({ ...base, ...policy, result: 'success' } satisfies TlsSessionResult);
  }
}

/**
 * RFC 8461 §4.1, RFC 8460 §4.3: under `enforce`, none of the domain's MX hosts matches the
 * policy, so no session is possible: one validation-failure per host.
 */
export function publishStsMismatch(domain: string, policy: StsPolicy, hosts: readonly string[]): void {
  if (!resultChannel.hasSubscribers) return;
  const at = Date.now();
  for (const mxHost of hosts) {
    resultChannel.publish({ domain, mxHost, at, policyType: 'sts', policyStrings: stsPolicyStrings(policy), result: 'validation-failure', info: `${mxHost} matches no mx pattern of the policy` } satisfies TlsSessionResult);
  }
}
