/**
 * @module mta-sts
 * MTA-STS for outbound SMTP: a domain's policy (TXT discovery at `_mta-sts.DOMAIN`, the policy
 * file fetched over HTTPS from `mta-sts.DOMAIN`, kept for its max_age) and the MX host matching
 * it. The SMTP transport asks before each delivery to a domain's MX hosts; under `enforce` it
 * tries only matching hosts, with STARTTLS and a certificate valid for the MX name.
 * Standards: RFC 8461 §3.1 (the TXT record: v=STSv1, id), §3.2 (the policy: version, mode,
 *   mx, max_age up to 31557600), §3.3 (HTTPS, a certificate valid for mta-sts.DOMAIN, no
 *   redirects, a 2xx only), §4.1 (MX patterns: "*." matches exactly one left-most label),
 *   §4.2 (enforce: no delivery without a validated TLS session to a matching MX), §5.1 (a cached
 *   policy is used until it expires; a new id fetches again; a fetch that fails keeps the cached
 *   policy), §8.3 (no policy and no way to fetch one: deliver as without MTA-STS); RFC 8460
 *   §4.3.2.2 (why a published policy could not be had, for the TLS reports).
 * Security: the policy host's certificate is checked against Node's CA store plus the
 *   configured extra CAs (`ca`); the body is capped at 64 KiB and the fetch at `timeoutMs`. The
 *   TXT lookup goes through the configured resolver. A policy that does not parse is no policy.
 * Limitations: the cache is in memory unless one is given (`serve` gives the SQLite one,
 *   sqlite-sts-cache.ts). The policy file is parsed by mailauth's parsePolicy; the
 *   MX match is ours (mailauth's validateMx lets "*." match any depth, §4.1 allows one label).
 */
import https from 'node:https';
import tls from 'node:tls';
import type { DnsResolver } from '../dns/index.js';

export type StsMode = 'enforce' | 'testing' | 'none';

export interface StsPolicy {
  readonly id: string;
  readonly mode: StsMode;
  readonly mx: readonly string[];
  /** seconds */
  readonly maxAge: number;
}

export interface MtaStsOptions {
  readonly dns: Pick<DnsResolver, 'findTxt' | 'findAddresses'>;
  /** the HTTPS port of policy hosts (443; tests use another) */
  readonly port?: number;
  /** PEM certificates trusted besides Node's CA store (a test CA, a private CA) */
  readonly ca?: readonly string[];
  readonly timeoutMs?: number;
  readonly now?: () => number;
  /** where policies are kept (sqlite-sts-cache.ts survives restarts); default in memory */
  readonly cache?: StsCache;
}

/** RFC 8461 §5.1: fetched policies by domain, with their expiry (ms since epoch). */
export interface StsCache {
  get(domain: string): { policy: StsPolicy; expires: number } | undefined;
  set(domain: string, entry: { policy: StsPolicy; expires: number }): void;
}

const MAX_POLICY = 64 * 1024;

/** RFC 8461 §4.1: does MX host `host` match one of the policy's `mx` patterns? */
export function mxMatches(host: string, patterns: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => {
    const q = p.toLowerCase().replace(/\.$/, '');
    if (!q.startsWith('*.')) return h === q;
    const dot = h.indexOf('.');
    return dot > 0 && h.slice(dot + 1) === q.slice(2);
  });
}

/** RFC 8461 §3.1: the id of the one v=STSv1 record, or undefined (none, several, or bad). */
export function stsRecordId(records: readonly string[]): string | undefined {
  const sts = records.filter((r) => /^v=STSv1\s*(;|$)/.test(r.trim()));
  if (sts.length !== 1) return undefined;
  const id = /(?:^|;)\s*id=([A-Za-z0-9]{1,32})\s*(;|$)/.exec(sts[0]);
  return id?.[1];
}

/**
 * RFC 8461 §3.2: the policy file, parsed by mailauth (version STSv1, mode, mx, max_age within
 * bounds, mx present unless mode none); undefined when it is not a valid policy.
 */
export async function parseStsPolicy(text: string, id: string): Promise<StsPolicy | undefined> {
  const { parsePolicy } = await import('mailauth/lib/mta-sts.js');
  try {
    const p = parsePolicy(text);
    return { id, mode: p.mode, mx: p.mx ?? [], maxAge: p.maxAge ?? 0 };
  } catch {
    return undefined;
  }
}

/** RFC 8460 §4.3.2.2: why a domain that publishes MTA-STS has no usable policy. */
export type StsFailure = 'sts-policy-fetch-error' | 'sts-policy-invalid' | 'sts-webpki-invalid';

/**
 * What the transport is told: a policy, or none (no MTA-STS for this domain, as far as we
 * know); `failure` when the domain's TXT record says it has one and none could be had.
 */
export type StsLookup = { readonly policy?: StsPolicy; readonly note?: string; readonly failure?: StsFailure };

/** Node's codes for a certificate that does not validate (RFC 8460's sts-webpki-invalid). */
const WEBPKI = /CERT|SELF_SIGNED|UNABLE_TO_(GET_ISSUER|VERIFY_LEAF)|ERR_TLS_CERT_ALTNAME_INVALID/;

export class MtaStsPolicies {
  private readonly cache: StsCache;
  private readonly now: () => number;

  constructor(private readonly o: MtaStsOptions) {
    this.now = o.now ?? Date.now;
    this.cache = o.cache ?? new Map<string, { policy: StsPolicy; expires: number }>();
  }

  /** RFC 8461 §5.1: the domain's policy, from the cache or DNS and HTTPS. Never throws. */
  async policyFor(domain: string): Promise<StsLookup> {
    const d = domain.toLowerCase().replace(/\.$/, '');
    const cached = this.cache.get(d);
    const fresh = cached && cached.expires > this.now() ? cached.policy : undefined;
    const txt = await this.o.dns.findTxt(`_mta-sts.${d}`);
    if (txt.kind === 'temporary') return fresh ? { policy: fresh } : { note: `MTA-STS TXT lookup failed: ${txt.error}` };
    const id = txt.kind === 'found' ? stsRecordId(txt.records) : undefined;
    // §5.1: a policy stays valid until max_age passes even if the record is gone
    if (id === undefined) return fresh ? { policy: fresh } : {};
    if (fresh && fresh.id === id) return { policy: fresh };
    try {
      const policy = await parseStsPolicy(await this.fetch(d), id);
      if (!policy) return fresh ? { policy: fresh } : { note: `MTA-STS policy of ${d} does not parse`, failure: 'sts-policy-invalid' };
      this.cache.set(d, { policy, expires: this.now() + policy.maxAge * 1000 });
      return { policy };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      const failure: StsFailure = WEBPKI.test(code) ? 'sts-webpki-invalid' : 'sts-policy-fetch-error';
      return fresh ? { policy: fresh } : { note: `MTA-STS policy fetch for ${d} failed: ${(err as Error).message}`, failure };
    }
  }

  /** RFC 8461 §3.3: GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt, 2xx only, no redirects. */
  private async fetch(domain: string): Promise<string> {
    const host = `mta-sts.${domain}`;
    const a = await this.o.dns.findAddresses(host);
    if (a.kind !== 'found' || a.addresses.length === 0) throw new Error(`${host}: ${a.kind === 'temporary' ? a.error : 'no address'}`);
    const ca = this.o.ca && this.o.ca.length > 0 ? [...tls.rootCertificates, ...this.o.ca] : undefined;
    return new Promise<string>((resolve, reject) => {
      const req = https.request(
        {
          host: a.addresses[0].address,
          port: this.o.port ?? 443,
          path: '/.well-known/mta-sts.txt',
          method: 'GET',
          servername: host,
          headers: { host },
          rejectUnauthorized: true,
          ...(ca ? { ca } : {}),
          timeout: this.o.timeoutMs ?? 15_000,
          // the certificate must be valid for mta-sts.DOMAIN, whatever address we dialled
          checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert),
        },
        (res) => {
          if (!res.statusCode || res.statusCode < 200 || res.statusCode >= 300) {
            res.resume();
            reject(new Error(`HTTP status ${res.statusCode ?? '?'}`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_POLICY) req.destroy(new Error('policy over 64 KiB'));
            else chunks.push(c);
          });
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
  }
}
