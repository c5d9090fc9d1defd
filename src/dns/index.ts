/**
 * @module dns
 * DNS lookups for delivery: MX, A/AAAA, TXT with found / not found / null MX / temporary
 * outcome classes, optional TTL-respecting cache, configurable servers.
 * Standards: RFC 5321 §5.1, RFC 7505, RFC 2308.
 * Security: answers are untrusted input; the AD bit (secure-dns.ts) is believed from a
 *   configured validating resolver only. Limitations: no DNSSEC validation of our own.
 */
export * from './dns-resolver.js';
// zone-server.ts (the lab's and the tests' DNS server) is imported from its file: the server
// process needs none of it, and dns-packet would load at every start
export { SecureDns, type SecureDnsOptions, type SecureResult } from './secure-dns.js';
export { formatTlsa, tlsaRecordFor, type TlsaRecord } from './tlsa-record.js';
