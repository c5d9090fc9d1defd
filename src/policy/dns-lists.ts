/**
 * @module dns-lists
 * DNS blocklists and allowlists of client addresses (DNSBL/DNSWL): the client's address,
 * reversed, queried as an A record under each configured zone; an answer in 127.0.0.0/8 means
 * listed. The blocklist is a named connect check (`dnsbl`); the allowlist lets a listed-good
 * client skip the blocklist, the rate limits and greylisting.
 * Standards: RFC 5782 §2.1 (IPv4: octets reversed; a listing is an A record, 127.0.0.2 and up),
 *   §2.4 (IPv6: 32 nibbles reversed), §5 (127.0.0.1 is never a listing: it is the test entry's
 *   non-answer); RFC 5321 §3.1 (554 as the greeting: no service), §4.2.5 (4xx: try later).
 * Security: a lookup failure (timeout, SERVFAIL) and an answer outside 127.0.0.0/8 count as
 *   "not listed": a broken or hijacked list cannot refuse all mail (fail open). Answers in
 *   127.255.255.0/24 (list operators' "your resolver is blocked" codes) are not listings either.
 *   Lookups go through the configured resolver (delivery.dns_servers).
 * Limitations: answers are cached in memory for `cacheMs` per address (bounded); the TXT reason a
 *   list publishes is not fetched (the reply names the zone instead).
 */
import { isIP } from 'node:net';
import { replies, type SessionInfo } from '../core/index.js';
import type { Check } from './check.js';
import type { ConnectFacts, RcptFacts } from './checks.js';
import { ipv6Groups, unmapIpv4 } from '../address/index.js';

/** An A lookup in node's dns.resolve shape (dns/ DnsResolver.rawLookup). */
export type ALookup = (name: string, rrtype: string) => Promise<unknown>;

/** RFC 5782 §2.1, §2.4: the name to query for `ip` under `zone`; undefined for a non-address. */
export function dnsListName(ip: string, zone: string): string | undefined {
  const a = unmapIpv4(ip);
  if (isIP(a) === 4) return `${a.split('.').reverse().join('.')}.${zone}`;
  if (isIP(a) !== 6) return undefined;
  const hex = ipv6Groups(a).map((g) => g.toString(16).padStart(4, '0')).join('');
  return `${hex.split('').reverse().join('.')}.${zone}`;
}

/** RFC 5782 §2.1, §5: an answer that means "listed". */
function isListing(address: string): boolean {
  return address.startsWith('127.') && address !== '127.0.0.1' && !address.startsWith('127.255.255.');
}

/** The zones of one list kind and their cached answers: which zone lists an address, if any. */
export class DnsList {
  private readonly cache = new Map<string, { zone: string | undefined; at: number }>();

  constructor(
    private readonly zones: readonly string[],
    private readonly lookup: ALookup,
    private readonly cacheMs = 300_000,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get empty(): boolean {
    return this.zones.length === 0;
  }

  /** The first zone that lists `ip`, or undefined (also on any lookup failure). */
  async listedBy(ip: string): Promise<string | undefined> {
    if (this.zones.length === 0 || ip === '') return undefined;
    const hit = this.cache.get(ip);
    if (hit && this.now() - hit.at < this.cacheMs) return hit.zone;
    const answers = await Promise.all(this.zones.map((z) => this.query(ip, z)));
    const zone = this.zones.find((_, i) => answers[i]);
    if (this.cache.size >= this.maxEntries) this.cache.clear();
    this.cache.set(ip, { zone, at: this.now() });
    return zone;
  }

  private async query(ip: string, zone: string): Promise<boolean> {
    const name = dnsListName(ip, zone);
    if (name === undefined) return false;
    try {
      const r = await this.lookup(name, 'A');
      return Array.isArray(r) && r.some((a) => typeof a === 'string' && isListing(a));
    } catch {
      return false;
    }
  }
}

/** Whether a session's client is exempt from the abuse checks: it may relay, or an allowlist lists it. */
export async function exempt(session: SessionInfo, allow: DnsList | undefined): Promise<boolean> {
  if (session.mayRelay) return true;
  return allow !== undefined && (await allow.listedBy(session.remoteAddress ?? '')) !== undefined;
}

/**
 * `dnsbl`: a client listed by a blocklist zone is answered at connect with 554 5.7.1 (`reject`)
 * or 421 4.7.1 (`defer`), naming the zone; trusted and allowlisted clients are not looked up.
 */
export function dnsBlocklist(block: DnsList, allow: DnsList | undefined, action: 'reject' | 'defer'): Check<ConnectFacts> {
  return {
    name: 'dnsbl',
    check: async (f) => {
      if (await exempt(f.session, allow)) return undefined;
      const ip = unmapIpv4(f.session.remoteAddress ?? '');
      const zone = await block.listedBy(ip);
      if (zone === undefined) return undefined;
      return action === 'reject' ? replies.clientBlocklisted(ip, zone) : replies.clientBlocklistedTemporarily(ip, zone);
    },
  };
}

/**
 * `dnsbl` at RCPT (`dnsbl_stage = "rcpt"`): a listed client's recipients are refused 550 5.7.1
 * (`reject`) or 450 4.7.1 (`defer`), except those whose local part is in `allowRecipients`
 * (postmaster: RFC 5321 §4.5.1; abuse: RFC 2142), so a listed site can still reach them.
 */
export function dnsBlocklistAtRcpt(block: DnsList, allow: DnsList | undefined, action: 'reject' | 'defer', allowRecipients: readonly string[]): Check<RcptFacts> {
  const open = new Set(allowRecipients.map((l) => l.toLowerCase()));
  return {
    name: 'dnsbl-rcpt',
    check: async (f) => {
      if (open.has(f.recipient.local.toLowerCase()) || (await exempt(f.session, allow))) return undefined;
      const ip = unmapIpv4(f.session.remoteAddress ?? '');
      const zone = await block.listedBy(ip);
      if (zone === undefined) return undefined;
      return action === 'reject' ? replies.recipientRefusedForBlocklist(ip, zone) : replies.recipientDeferredForBlocklist(ip, zone);
    },
  };
}
