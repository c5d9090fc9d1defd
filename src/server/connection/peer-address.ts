/**
 * @module peer-address
 * The peer's address as limits, throttles and logs count it: an IPv4 client reached through an
 * IPv6 socket ("::ffff:192.0.2.1") is the IPv4 address, so one client has one address.
 * Standards: RFC 4291 §2.5.5.2 (IPv4-mapped IPv6 addresses).
 * Security: a client cannot double its per-address allowance by connecting both ways.
 * Limitations: other IPv6 forms are kept as the socket gives them.
 */
/** "::ffff:192.0.2.1" is 192.0.2.1: one client, one address for limits and logs. */
export function normalizeIp(ip: string | undefined): string {
  if (ip === undefined) return '';
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1] : ip;
}
