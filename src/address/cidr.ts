/**
 * @module cidr
 * Matching client IP addresses against a list of networks ("127.0.0.0/8", "::1/128", "10.1.2.3").
 * Standards: RFC 4632 (CIDR notation), RFC 4291 §2.3 (IPv6 prefixes), §2.5.5.2 (IPv4-mapped
 *   IPv6 addresses, matched as IPv4).
 * Security: an invalid entry is an error at construction (a typo must not open a relay).
 * Limitations: none.
 */
import { isIP } from 'node:net';

/** One network: its first address as eight 16-bit groups (IPv4 as ::ffff:a.b.c.d) and its prefix length over 128 bits. */
interface Network {
  readonly groups: Uint16Array;
  readonly prefix: number;
}

/**
 * A fixed set of networks; `contains(ip)` is false for anything that is not an IP address.
 * Matched in JavaScript, as node's BlockList matches (an IPv4 address is the IPv4-mapped IPv6
 * address, RFC 4291 §2.5.5.2, so an IPv4 network also holds "::ffff:7f00:1" and "::/0" holds
 * every IPv4 address), without the native address object BlockList.check makes for each
 * address asked (the SMTP server asks once per connection).
 */
export class CidrList {
  readonly #networks: Network[] = [];
  /** the address being matched, reused (contains is synchronous) */
  readonly #scratch = new Uint16Array(8);
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
      const groups = new Uint16Array(8);
      toGroups(addr, family, groups);
      this.#networks.push({ groups, prefix: family === 4 ? prefix + 96 : prefix });
    }
  }

  contains(ip: string): boolean {
    if (this.#networks.length === 0) return false;
    const addr = unmapIpv4(ip);
    const family = isIP(addr);
    if (family === 0) return false;
    const a = this.#scratch;
    toGroups(addr, family, a);
    return this.#networks.some((n) => inNetwork(a, n));
  }
}

/** `addr` (an IPv4 or IPv6 address, as isIP says) as eight 16-bit groups into `out`; IPv4 as ::ffff:a.b.c.d. */
function toGroups(addr: string, family: number, out: Uint16Array): void {
  if (family === 6) {
    out.set(ipv6Groups(addr));
    return;
  }
  out.fill(0, 0, 5);
  out[5] = 0xffff;
  // isIP said four decimal octets: a.b.c.d
  let octet = 0;
  let word = 0;
  let k = 0;
  for (let i = 0; i <= addr.length; i++) {
    const c = i < addr.length ? addr.charCodeAt(i) : 0x2e;
    if (c !== 0x2e) {
      octet = octet * 10 + (c - 0x30);
      continue;
    }
    word = (word << 8) | octet;
    octet = 0;
    if (++k === 2) out[6] = word;
    else if (k === 4) out[7] = word & 0xffff;
  }
}

function inNetwork(a: Uint16Array, n: Network): boolean {
  let bits = n.prefix;
  for (let i = 0; bits > 0; i++, bits -= 16) {
    const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((a[i] & mask) !== (n.groups[i] & mask)) return false;
  }
  return true;
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
