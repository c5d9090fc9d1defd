/**
 * @module dns-resolver
 * MX, A/AAAA and TXT lookups with three outcome classes: found, not found (NXDOMAIN or NODATA),
 * temporary failure (SERVFAIL, timeout, refused, network). A temporary failure is never turned
 * into "not found": mail to a domain whose DNS is down is deferred, not bounced.
 * Standards: RFC 5321 §5.1 (MX, implicit MX), RFC 7505 (null MX), RFC 2308 (negative caching),
 *   RFC 1035 (TTLs).
 * Security: answers are untrusted; MX host names are returned as given (lower-cased, no dot).
 * Limitations: MX and TXT answers carry no TTL in node's API, so their cache entries use
 *   `cache.mxTtlMs`; no DNSSEC (the AD bit for DANE is read by secure-dns.ts).
 */
import diagnostics from 'node:diagnostics_channel';
import { Resolver } from 'node:dns/promises';
import { channels } from '../core/events.js';

export interface MxHost {
  readonly exchange: string;
  readonly preference: number;
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Why a lookup found nothing: the name does not exist, or it has no records of that type. */
export type NotFoundReason = 'nxdomain' | 'nodata';

export type MxResult =
  | { readonly kind: 'found'; readonly hosts: readonly MxHost[] }
  | { readonly kind: 'null-mx' }
  | { readonly kind: 'not-found'; readonly reason: NotFoundReason }
  | { readonly kind: 'temporary'; readonly error: string };

export type AddressResult =
  | { readonly kind: 'found'; readonly addresses: readonly ResolvedAddress[] }
  | { readonly kind: 'not-found'; readonly reason: NotFoundReason }
  | { readonly kind: 'temporary'; readonly error: string };

export type TxtResult =
  | { readonly kind: 'found'; readonly records: readonly string[] }
  | { readonly kind: 'not-found'; readonly reason: NotFoundReason }
  | { readonly kind: 'temporary'; readonly error: string };

export interface DnsResolverOptions {
  /** "ip", "ip:port" or "[ipv6]:port"; empty or absent = the system's servers */
  servers?: readonly string[];
  /** per-try timeout in ms (c-ares doubles it on each retry); default 5000 */
  timeoutMs?: number;
  /** attempts per server; default 2 */
  tries?: number;
  /** optional cache; absent = no caching */
  cache?: {
    /** upper bound on any positive entry's lifetime */
    maxTtlMs?: number;
    /** lifetime of NXDOMAIN/NODATA entries (RFC 2308); default 60 s */
    negativeTtlMs?: number;
    /** lifetime of MX and TXT entries (node gives no TTL for them); default 300 s */
    mxTtlMs?: number;
  };
  /** clock for the cache, ms since epoch */
  now?: () => number;
}

type Classified = { kind: 'not-found'; reason: NotFoundReason } | { kind: 'temporary'; error: string };

/** Maps a c-ares error code to an outcome class. Anything unknown is temporary. */
export function classifyDnsError(err: unknown): Classified {
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === 'ENOTFOUND') return { kind: 'not-found', reason: 'nxdomain' };
  if (code === 'ENODATA') return { kind: 'not-found', reason: 'nodata' };
  const names: Record<string, string> = {
    ESERVFAIL: 'SERVFAIL',
    ETIMEOUT: 'timeout',
    EREFUSED: 'REFUSED',
    ECONNREFUSED: 'connection refused',
    EBADRESP: 'bad response',
    EFORMERR: 'FORMERR',
    ECANCELLED: 'cancelled',
  };
  return { kind: 'temporary', error: names[code] ?? (code || String(err)) };
}

function normalizeName(n: string): string {
  return n.toLowerCase().replace(/\.$/, '');
}

interface CacheEntry<T> {
  value: T;
  expires: number;
}

export class DnsResolver {
  private readonly resolver: Resolver;
  private readonly cache = new Map<string, CacheEntry<unknown>>();
  private readonly now: () => number;

  constructor(private readonly options: DnsResolverOptions = {}) {
    this.resolver = new Resolver({ timeout: options.timeoutMs ?? 5000, tries: options.tries ?? 2 });
    if (options.servers && options.servers.length > 0) this.resolver.setServers([...options.servers]);
    this.now = options.now ?? Date.now;
  }

  /**
   * Any record type through the same servers, in node's dns.resolve shapes (TXT as string[][]):
   * the resolver function mailauth's SPF and DKIM take (policy/trust). Errors keep their c-ares
   * codes (ENOTFOUND, ENODATA, ETIMEOUT …), which mailauth maps to void lookups and temperror.
   * With a cache, answers and NXDOMAIN/NODATA are kept like findTxt's (node gives no TTL here;
   * a temporary failure is never kept) and a query already under way is shared: SPF's limits
   * (RFC 7208 §4.6.4) are counted by mailauth per lookup it asks for, answered from here or not. A name that cannot
   * be put in a query at all (EBADNAME: a label over 63 octets, characters c-ares refuses) is
   * answered as not existing (ENOTFOUND), a permanent answer: RFC 7208 §4.3, §4.8 treat such
   * names as non-existent, and a temporary error would defer the mail for ever.
   */
  readonly rawLookup = (name: string, rrtype: string): Promise<unknown> => {
    if (!this.options.cache) return this.rawQuery(name, rrtype).then(rawValue);
    const key = `raw ${rrtype} ${normalizeName(name)}`;
    const hit = this.fromCache<Promise<RawAnswer>>(key) ?? this.inFlight.get(key);
    if (hit) return hit.then(rawValue);
    const run = this.rawQuery(name, rrtype).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, run);
    return run
      .then((r) => {
        // stored as the settled promise: a hit costs no new query and no new error object
        this.store(key, Promise.resolve(r), this.options.cache?.mxTtlMs ?? 300_000, r.kind);
        return r;
      })
      .then(rawValue);
  };

  /** Queries under way for rawLookup, shared by callers asking the same at once. */
  private readonly inFlight = new Map<string, Promise<RawAnswer>>();

  private rawQuery(name: string, rrtype: string): Promise<RawAnswer> {
    return timed(rrtype, () =>
      this.resolver.resolve(name, rrtype).then(
        (records): RawAnswer => ({ kind: 'found', records }),
        (err: unknown): RawAnswer => {
          if ((err as { code?: string } | null)?.code === 'EBADNAME') return { kind: 'not-found', error: Object.assign(new Error(`bad name ${name}`), { code: 'ENOTFOUND' }) };
          return { kind: classifyDnsError(err).kind, error: err };
        },
      ),
    );
  }

  /** Cancels outstanding queries; they reject and are classified temporary. */
  cancel(): void {
    this.resolver.cancel();
  }

  /**
   * MX records sorted by preference (RFC 5321 §5.1). Equal preferences keep DNS order here;
   * the caller shuffles them. A lone "0 ." record is a null MX (RFC 7505 §3).
   */
  async findMx(domain: string): Promise<MxResult> {
    const name = normalizeName(domain);
    return this.cached(`MX ${name}`, this.options.cache?.mxTtlMs ?? 300_000, () => timed('MX', async (): Promise<MxResult> => {
      try {
        const recs = await this.resolver.resolveMx(name);
        const hosts = recs.map((r) => ({ exchange: normalizeName(r.exchange), preference: r.priority }));
        // RFC 7505 §3: a null MX is a single record with an empty exchange ("."); node gives "".
        if (hosts.some((h) => h.exchange === '')) {
          return hosts.length === 1 || hosts.every((h) => h.exchange === '')
            ? { kind: 'null-mx' }
            : { kind: 'found', hosts: sortMx(hosts.filter((h) => h.exchange !== '')) };
        }
        if (hosts.length === 0) return { kind: 'not-found', reason: 'nodata' };
        return { kind: 'found', hosts: sortMx(hosts) };
      } catch (err) {
        return classifyDnsError(err);
      }
    }));
  }

  /**
   * A and AAAA records. Found when either family has addresses (IPv6 first is not assumed:
   * A first, then AAAA). Temporary when nothing was found and one lookup failed temporarily.
   */
  async findAddresses(host: string): Promise<AddressResult> {
    const name = normalizeName(host);
    const [a, aaaa] = await Promise.all([this.lookup(name, 4), this.lookup(name, 6)]);
    const addresses = [...(a.kind === 'found' ? a.addresses : []), ...(aaaa.kind === 'found' ? aaaa.addresses : [])];
    if (addresses.length > 0) return { kind: 'found', addresses };
    if (a.kind === 'temporary') return a;
    if (aaaa.kind === 'temporary') return aaaa;
    // both not found: the name is absent when either says NXDOMAIN
    const nx = (a.kind === 'not-found' && a.reason === 'nxdomain') || (aaaa.kind === 'not-found' && aaaa.reason === 'nxdomain');
    return { kind: 'not-found', reason: nx ? 'nxdomain' : 'nodata' };
  }

  /** TXT records, each one joined from its character-strings (RFC 7208 §3.3). */
  async findTxt(name: string): Promise<TxtResult> {
    const n = normalizeName(name);
    return this.cached(`TXT ${n}`, this.options.cache?.mxTtlMs ?? 300_000, () => timed('TXT', async (): Promise<TxtResult> => {
      try {
        const recs = await this.resolver.resolveTxt(n);
        if (recs.length === 0) return { kind: 'not-found', reason: 'nodata' };
        return { kind: 'found', records: recs.map((r) => r.join('')) };
      } catch (err) {
        return classifyDnsError(err);
      }
    }));
  }

  private async lookup(name: string, family: 4 | 6): Promise<AddressResult> {
    const key = `${family === 4 ? 'A' : 'AAAA'} ${name}`;
    const hit = this.fromCache<AddressResult>(key);
    if (hit) return hit;
    let ttlMs = 0;
    const result = await timed(family === 4 ? 'A' : 'AAAA', async (): Promise<AddressResult> => {
      try {
        const recs =
          family === 4 ? await this.resolver.resolve4(name, { ttl: true }) : await this.resolver.resolve6(name, { ttl: true });
        if (recs.length === 0) return { kind: 'not-found', reason: 'nodata' };
        ttlMs = Math.min(...recs.map((r) => r.ttl)) * 1000;
        return { kind: 'found', addresses: recs.map((r) => ({ address: r.address, family })) };
      } catch (err) {
        return classifyDnsError(err);
      }
    });
    this.store(key, result, ttlMs);
    return result;
  }

  private async cached<T extends { kind: string }>(key: string, positiveTtlMs: number, run: () => Promise<T>): Promise<T> {
    const hit = this.fromCache<T>(key);
    if (hit) return hit;
    const value = await run();
    this.store(key, value, positiveTtlMs);
    return value;
  }

  private fromCache<T>(key: string): T | undefined {
    if (!this.options.cache) return undefined;
    const e = this.cache.get(key);
    if (!e) return undefined;
    if (e.expires <= this.now()) {
      this.cache.delete(key);
      return undefined;
    }
    return e.value as T;
  }

  /** Keeps `value` (its outcome class is `kind`: a result's own, or a stored promise's). */
  private store(key: string, value: unknown, positiveTtlMs: number, kind = (value as { kind: string }).kind): void {
    const c = this.options.cache;
    if (!c) return;
    // temporary failures are never cached: the next attempt asks again
    if (kind === 'temporary') return;
    const ttl =
      kind === 'not-found'
        ? (c.negativeTtlMs ?? 60_000)
        : Math.min(positiveTtlMs, c.maxTtlMs ?? 3_600_000);
    if (ttl <= 0) return;
    if (this.cache.size > 10_000) this.cache.clear(); // bound memory; a cache miss is harmless
    this.cache.set(key, { value, expires: this.now() + ttl });
  }
}

/** A rawLookup answer: node's records, or the error it rejects with, classified. */
type RawAnswer = { readonly kind: 'found'; readonly records: unknown } | { readonly kind: 'not-found' | 'temporary'; readonly error: unknown };

function rawValue(r: RawAnswer): unknown {
  if (r.kind === 'found') return r.records;
  throw r.error;
}

function sortMx(hosts: MxHost[]): MxHost[] {
  return [...hosts].sort((x, y) => x.preference - y.preference);
}

const lookupChannel = diagnostics.channel(channels.dnsLookup);

/** Runs one query asked of a server and tells the metrics how long it took and how it ended. */
async function timed<T extends { kind: string }>(type: string, run: () => Promise<T>): Promise<T> {
  if (!lookupChannel.hasSubscribers) return run();
  const start = process.hrtime.bigint();
  const result = await run();
  lookupChannel.publish({ type, outcome: result.kind, seconds: Number(process.hrtime.bigint() - start) / 1e9 });
  return result;
}
