/**
 * @module dns-zone
 * A DNS zone as a plain object, what zone-server.ts answers from, and the zone of one MX per
 * domain that `correio lab` and the multi-site tests use. No dependencies: the lab's world is
 * built without loading the server.
 * Standards: RFC 1035 §3.3 (MX, A, TXT, CNAME), RFC 6698 (TLSA), RFC 7505 (null MX), RFC 5321 §5.1.
 * Security: data only.
 * Limitations: see zone-server.ts.
 */
export interface DnsZoneEntry {
  /** MX records; the string 'null' is a null MX (RFC 7505: "0 ."). */
  mx?: { preference: number; exchange: string }[] | 'null';
  a?: string[];
  aaaa?: string[];
  txt?: string[];
  /** an alias (RFC 1034 §3.6.2): queries of other types are answered with the CNAME and the target's records */
  cname?: string;
  /** TLSA records (RFC 6698), association data in hex */
  tlsa?: { usage: number; selector: number; matchingType: number; data: string }[];
  /** answers for this name carry the AD bit (as a validating resolver's would) when asked with DO or AD */
  secure?: boolean;
  /** answer every query for this name with SERVFAIL */
  servfail?: boolean;
  /** answer every query for this name with REFUSED */
  refused?: boolean;
  /** never answer queries for this name (the client times out) */
  timeout?: boolean;
  /** TTL of the records, seconds (default 300) */
  ttl?: number;
}

/** Names (case-insensitive, no trailing dot) to their records. Unknown names are NXDOMAIN. */
export type DnsZone = Record<string, DnsZoneEntry>;

/** A zone where each domain has one MX, mx.<domain> (preference 10), at the given IPv4 address. */
export function mxZone(hosts: readonly { readonly domain: string; readonly ip: string }[]): DnsZone {
  const zone: DnsZone = {};
  for (const { domain, ip } of hosts) {
    zone[domain] = { mx: [{ preference: 10, exchange: `mx.${domain}` }] };
    zone[`mx.${domain}`] = { a: [ip] };
  }
  return zone;
}

