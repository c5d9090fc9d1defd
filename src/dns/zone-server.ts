/**
 * @module zone-server
 * A small authoritative DNS server built on dns-packet: UDP and TCP on one loopback port,
 * answering from a zone given as a plain object. `correio lab` answers its sites' MX records
 * with it, and the tests their DNS scenarios (SERVFAIL, timeouts, null MX, TXT records).
 * Standards: RFC 1035 §4 (messages; §4.2.2 TCP length prefix), RFC 7505 (null MX "0 ."),
 *   RFC 6698 (TLSA); RFC 6840 §5.7 (the AD bit, set for names marked secure, as a validating
 *   resolver would: the tests' stand-in for unbound, not a DNSSEC signer).
 * Security: binds a loopback address only (the caller's choice is checked); a malformed query
 *   is dropped; it answers for its zone and nothing else (no recursion).
 * Limitations: CNAMEs followed within the zone only, no signatures (RRSIG), EDNS only read for DO, no wildcards; answers are never truncated.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { DnsZone, DnsZoneEntry } from './dns-zone.js';

export { mxZone, type DnsZone, type DnsZoneEntry } from './dns-zone.js';

export interface ZoneServer {
  readonly port: number;
  /** "127.0.0.1:port", the form DnsResolver and node's setServers take */
  readonly server: string;
  /** queries received, "TYPE name", in order */
  readonly queries: string[];
  /** replace or add zone entries while running */
  zone: DnsZone;
  close(): Promise<void>;
}

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

function answerFor(zone: DnsZone, query: dnsPacket.Packet): Buffer | undefined {
  const q = query.questions?.[0];
  const asked = query.flags ?? 0;
  let flagsBase = dnsPacket.AUTHORITATIVE_ANSWER | (asked & dnsPacket.RECURSION_DESIRED);
  const base = { id: query.id, type: 'response' as const, questions: query.questions ?? [] };
  if (!q) return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.REFUSED });
  const find = (n: string): DnsZoneEntry | undefined => Object.entries(zone).find(([k]) => k.toLowerCase().replace(/\.$/, '') === n.toLowerCase().replace(/\.$/, ''))?.[1];
  let entry = find(q.name);
  if (!entry) return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.NXDOMAIN });
  const answers: dnsPacket.Answer[] = [];
  // RFC 1034 §3.6.2: an alias answers with its CNAME and then the target's records (a recursive
  // resolver's view); the answer is secure only when every link is
  let secure = entry.secure === true;
  let owner = q.name;
  for (let hops = 0; entry.cname !== undefined && q.type !== 'CNAME' && hops < 8; hops++) {
    answers.push({ type: 'CNAME', name: owner, ttl: entry.ttl ?? 300, class: 'IN', data: entry.cname });
    owner = entry.cname;
    const next = find(owner);
    if (!next) return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.NXDOMAIN, answers });
    entry = next;
    secure &&= entry.secure === true;
  }
  if (entry.timeout) return undefined;
  // RFC 6840 §5.7: a validating resolver sets AD when the query asked for it with DO or AD
  const dnssecOk = (query.additionals ?? []).some((a) => a.type === 'OPT' && ((a.flags ?? 0) & dnsPacket.DNSSEC_OK) !== 0);
  if (secure && (dnssecOk || (asked & dnsPacket.AUTHENTIC_DATA) !== 0)) flagsBase |= dnsPacket.AUTHENTIC_DATA;
  if (entry.servfail) return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.SERVFAIL });
  if (entry.refused) return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.REFUSED });
  const ttl = entry.ttl ?? 300;
  if (q.type === 'MX' && entry.mx !== undefined) {
    const mx = entry.mx === 'null' ? [{ preference: 0, exchange: '.' }] : entry.mx;
    for (const m of mx) answers.push({ type: 'MX', name: owner, ttl, class: 'IN', data: m });
  }
  if (q.type === 'A') for (const a of entry.a ?? []) answers.push({ type: 'A', name: owner, ttl, class: 'IN', data: a });
  if (q.type === 'AAAA') {
    for (const a of entry.aaaa ?? []) answers.push({ type: 'AAAA', name: owner, ttl, class: 'IN', data: a });
  }
  // RFC 1035 §3.3.14: a character-string holds at most 255 octets, so a longer record (an RSA
  // DKIM key) is sent as several strings, which readers join (RFC 7208 §3.3, RFC 6376 §3.6.2.2)
  if (q.type === 'TXT') for (const t of entry.txt ?? []) answers.push({ type: 'TXT', name: owner, ttl, class: 'IN', data: splitTxt(t) });
  if (q.type === 'CNAME' && entry.cname !== undefined) answers.push({ type: 'CNAME', name: owner, ttl, class: 'IN', data: entry.cname });
  if (q.type === 'TLSA') {
    for (const t of entry.tlsa ?? []) {
      answers.push({ type: 'TLSA', name: owner, ttl, class: 'IN', data: { usage: t.usage, selector: t.selector, matchingType: t.matchingType, certificate: Buffer.from(t.data, 'hex') } });
    }
  }
  // An existing name without records of the asked type is NODATA: NOERROR with no answers.
  return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.NOERROR, answers });
}

function splitTxt(t: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < t.length; i += 255) parts.push(t.slice(i, i + 255));
  return parts.length > 0 ? parts : [''];
}

export interface ZoneServerOptions {
  /** a loopback address; default 127.0.0.1 */
  readonly host?: string;
  /** default 0: a random free port (the same for UDP and TCP) */
  readonly port?: number;
}

/** Starts the server: UDP and TCP on the same port of a loopback address. */
export async function startZoneServer(zone: DnsZone, options: ZoneServerOptions = {}): Promise<ZoneServer> {
  const host = options.host ?? '127.0.0.1';
  if (!/^127\./.test(host) && host !== '::1') throw new Error(`the DNS server binds loopback addresses only, not ${host}`);
  for (let attempt = 0; ; attempt++) {
    try {
      return await tryStart(zone, host, options.port ?? 0);
    } catch (err) {
      // a random UDP port may be taken on TCP by someone else; pick another
      if (attempt >= 5 || options.port) throw err;
    }
  }
}

async function tryStart(zone: DnsZone, host: string, wantPort: number): Promise<ZoneServer> {
  const udp = dgram.createSocket(host === '::1' ? 'udp6' : 'udp4');
  const queries: string[] = [];
  const state: { zone: DnsZone } = { zone };
  const handle = (msg: Buffer): Buffer | undefined => {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const q = query.questions?.[0];
    if (q) queries.push(`${q.type} ${q.name}`);
    return answerFor(state.zone, query);
  };
  udp.on('message', (msg, rinfo) => {
    const out = handle(msg);
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(wantPort, host, () => resolve());
  });
  const port = udp.address().port;
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // RFC 1035 §4.2.2: each message is prefixed with a two-byte length
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const out = handle(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        if (out) {
          const pre = Buffer.alloc(2);
          pre.writeUInt16BE(out.length);
          sock.write(Buffer.concat([pre, out]));
        }
      }
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => resolve());
    });
  } catch (err) {
    udp.close();
    throw err;
  }
  return {
    port,
    server: host === '::1' ? `[::1]:${port}` : `${host}:${port}`,
    queries,
    get zone() {
      return state.zone;
    },
    set zone(z: DnsZone) {
      state.zone = z;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    },
  };
}
