/**
 * @module dns-server
 * A real authoritative DNS server for tests, built on dns-packet: UDP and TCP on 127.0.0.1 at a
 * random port, answering from a zone given as a plain object.
 * Standards: RFC 1035 §4 (messages; §4.2.2 TCP length prefix), RFC 7505 (null MX "0 .").
 * Security: test only; binds loopback only.
 * Limitations: no CNAME chasing, no EDNS, no wildcards; answers are never truncated.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';

export interface DnsZoneEntry {
  /** MX records; the string 'null' is a null MX (RFC 7505: "0 ."). */
  mx?: { preference: number; exchange: string }[] | 'null';
  a?: string[];
  aaaa?: string[];
  txt?: string[];
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

export interface DnsTestServer {
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
  const flagsBase = dnsPacket.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED);
  const base = { id: query.id, type: 'response' as const, questions: query.questions ?? [] };
  if (!q) return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.REFUSED });
  const name = q.name.toLowerCase().replace(/\.$/, '');
  const entry = Object.entries(zone).find(([k]) => k.toLowerCase().replace(/\.$/, '') === name)?.[1];
  if (!entry) return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.NXDOMAIN });
  if (entry.timeout) return undefined;
  if (entry.servfail) return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.SERVFAIL });
  if (entry.refused) return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.REFUSED });
  const ttl = entry.ttl ?? 300;
  const answers: dnsPacket.Answer[] = [];
  if (q.type === 'MX' && entry.mx !== undefined) {
    const mx = entry.mx === 'null' ? [{ preference: 0, exchange: '.' }] : entry.mx;
    for (const m of mx) answers.push({ type: 'MX', name: q.name, ttl, class: 'IN', data: m });
  }
  if (q.type === 'A') for (const a of entry.a ?? []) answers.push({ type: 'A', name: q.name, ttl, class: 'IN', data: a });
  if (q.type === 'AAAA') {
    for (const a of entry.aaaa ?? []) answers.push({ type: 'AAAA', name: q.name, ttl, class: 'IN', data: a });
  }
  // RFC 1035 §3.3.14: a character-string holds at most 255 octets, so a longer record (an RSA
  // DKIM key) is sent as several strings, which readers join (RFC 7208 §3.3, RFC 6376 §3.6.2.2)
  if (q.type === 'TXT') for (const t of entry.txt ?? []) answers.push({ type: 'TXT', name: q.name, ttl, class: 'IN', data: splitTxt(t) });
  // An existing name without records of the asked type is NODATA: NOERROR with no answers.
  return dnsPacket.encode({ ...base, flags: flagsBase | RCODE.NOERROR, answers });
}

function splitTxt(t: string): string[] {
  const parts: string[] = [];
  for (let i = 0; i < t.length; i += 255) parts.push(t.slice(i, i + 255));
  return parts.length > 0 ? parts : [''];
}

/** Starts the server on 127.0.0.1: UDP and TCP on the same random port. */
export async function startDnsServer(zone: DnsZone): Promise<DnsTestServer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await tryStart(zone);
    } catch (err) {
      // the UDP port may be taken on TCP by someone else; pick another
      if (attempt >= 5) throw err;
    }
  }
}

async function tryStart(zone: DnsZone): Promise<DnsTestServer> {
  const udp = dgram.createSocket('udp4');
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
    udp.bind(0, '127.0.0.1', () => resolve());
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
      tcp.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    udp.close();
    throw err;
  }
  return {
    port,
    server: `127.0.0.1:${port}`,
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
