/**
 * @module cidr
 * Matching client IP addresses against a list of networks ("127.0.0.0/8", "::1/128", "10.1.2.3").
 * Standards: RFC 4632 (CIDR notation), RFC 4291 §2.3 (IPv6 prefixes), §2.5.5.2 (IPv4-mapped
 *   IPv6 addresses, matched as IPv4).
 * Security: an invalid entry is an error at construction (a typo must not open a relay).
 * Limitations: none.
 */
import { BlockList, isIP } from 'node:net';

/** A fixed set of networks; `contains(ip)` is false for anything that is not an IP address. */
export class CidrList {
  private readonly list = new BlockList();
  readonly entries: readonly string[];

  /** Throws Error naming the bad entry. */
  constructor(entries: readonly string[]) {
    this.entries = [...entries];
    for (const e of entries) {
      const [addr, len, extra] = e.trim().split('/');
      const family = isIP(addr);
      const max = family === 4 ? 32 : 128;
      if (family === 0 || extra !== undefined) throw new Error(`invalid network "${e}"`);
      const prefix = len === undefined ? max : Number(len);
      if (len !== undefined && !/^\d{1,3}$/.test(len)) throw new Error(`invalid prefix length in "${e}"`);
      if (prefix > max) throw new Error(`prefix length over ${max} in "${e}"`);
      this.list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
  }

  contains(ip: string): boolean {
    const addr = unmapIpv4(ip);
    const family = isIP(addr);
    if (family === 0) return false;
    return this.list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** RFC 4291 §2.5.5.2: an IPv4-mapped IPv6 address ("::ffff:192.0.2.1", how a dual-stack socket gives IPv4 clients) as IPv4. */
export function unmapIpv4(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? m[1] : ip;
}

/** RFC 4291 §2.2: the eight 16-bit groups of an IPv6 address ("::" expanded, an IPv4 tail converted), as numbers. */
export function ipv6Groups(ip: string): number[] {
  let s = ip.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    s = s.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = s.split('::', 2) as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16) || 0);
}
