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
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    const addr = mapped ? mapped[1] : ip;
    const family = isIP(addr);
    if (family === 0) return false;
    return this.list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
  }
}
