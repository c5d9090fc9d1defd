/**
 * @module secure-dns
 * Queries that tell whether the answer was DNSSEC-validated: the AD bit of a validating
 * resolver's answer, which Node's `dns` module (c-ares) never shows. DANE (RFC 7672) needs it
 * for TLSA records. A query asks with the DO bit (RFC 3225) and EDNS0 (RFC 6891), over UDP and
 * again over TCP when the answer is truncated (RFC 1035 §4.2.2, RFC 7766).
 * Standards: RFC 4035 §3.2.3 and RFC 6840 §5.7 (the AD bit of a security-aware resolver),
 *   RFC 3225 (DO), RFC 6891 (OPT), RFC 6698 §2.1 (TLSA RDATA), RFC 2308 (NXDOMAIN/NODATA).
 * Security: the answer is trusted exactly as far as the resolver is: correio does not validate
 *   signatures itself, as Postfix with smtp_dns_support_level=dane. The operator names a
 *   validating resolver on a trusted path (loopback: unbound, systemd-resolved with DNSSEC)
 *   as `delivery.dns_servers` and turns DANE on; an AD bit from anything else means nothing.
 *   Replies must come from the server asked, carry the query's random id and echo its
 *   question; anything else is ignored (UDP) or an error (TCP). Answers are capped at 64 KiB.
 *   dns-packet is loaded at the first query (the server process starts without it).
 *   A CNAME chain in an answer is followed (at most 8 links) and the final name reported.
 * Limitations: the first server that answers is believed (others are tried on timeout or
 *   network error only); no cache (each delivery asks again; the resolver caches).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { Resolver } from 'node:dns';
import type dnsPacket from 'dns-packet';
import type { NotFoundReason } from './dns-resolver.js';
import type { TlsaRecord } from './tlsa-record.js';


/** found / not found (with whether the absence was validated) / temporary failure. */
export type SecureResult<T> =
  /** `name`: where the records were found, after the CNAME chain of the answer (RFC 1034 §3.6.2) */
  | { readonly kind: 'found'; readonly secure: boolean; readonly records: readonly T[]; readonly name?: string }
  | { readonly kind: 'not-found'; readonly secure: boolean; readonly reason: NotFoundReason }
  | { readonly kind: 'temporary'; readonly error: string };

export interface SecureDnsOptions {
  /** "ip", "ip:port" or "[ipv6]:port"; empty or absent = the system's servers */
  readonly servers?: readonly string[];
  /** per server, ms; default 5000 */
  readonly timeoutMs?: number;
}

type Packet = typeof dnsPacket;
let packetModule: Promise<Packet> | undefined;
const loadPacket = (): Promise<Packet> => (packetModule ??= import('dns-packet').then((m) => m.default));

const RCODE_NOERROR = 0;
const RCODE_NXDOMAIN = 3;

function parseServer(s: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { host: v6[1], port: Number(v6[2] ?? 53) };
  if (net.isIPv6(s)) return { host: s, port: 53 };
  const [host, port] = s.split(':');
  return { host, port: Number(port ?? 53) };
}

export class SecureDns {
  private readonly servers: { host: string; port: number }[];
  private readonly timeoutMs: number;

  constructor(options: SecureDnsOptions = {}) {
    const list = options.servers && options.servers.length > 0 ? options.servers : new Resolver().getServers();
    this.servers = list.map(parseServer);
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  /** TLSA records at `name` (e.g. "_25._tcp.mx.example.org") and whether they were validated. */
  async findTlsa(name: string): Promise<SecureResult<TlsaRecord>> {
    const r = await this.query(name, 'TLSA');
    if (r.kind !== 'found') return r;
    const records = r.records
      .filter((a): a is dnsPacket.TlsaAnswer => a.type === 'TLSA')
      .map((a) => ({ usage: a.data.usage, selector: a.data.selector, matchingType: a.data.matchingType, data: Buffer.from(a.data.certificate) }));
    if (records.length === 0) return { kind: 'not-found', secure: r.secure, reason: 'nodata' };
    return { kind: 'found', secure: r.secure, records, ...(r.name ? { name: r.name } : {}) };
  }

  /**
   * The A and AAAA records of `host`, whether both answers were validated, and the name they
   * were found at after CNAMEs (RFC 7672 §2.2.2 needs all three). One of the two failing while
   * the other answers counts as that answer; both failing is a temporary failure.
   */
  async findAddresses(host: string): Promise<SecureResult<string>> {
    const [a, aaaa] = await Promise.all([this.query(host, 'A'), this.query(host, 'AAAA')]);
    type Answered = Exclude<SecureResult<dnsPacket.Answer>, { kind: 'temporary' }>;
    const answered = [a, aaaa].filter((r): r is Answered => r.kind !== 'temporary');
    if (answered.length === 0) return a.kind === 'temporary' ? a : { kind: 'temporary', error: 'no answer' };
    const secure = answered.every((r) => r.secure);
    const found = answered.filter((r): r is Extract<Answered, { kind: 'found' }> => r.kind === 'found');
    if (found.length === 0) return { kind: 'not-found', secure, reason: answered.some((r) => r.kind === 'not-found' && r.reason === 'nxdomain') ? 'nxdomain' : 'nodata' };
    const records = found.flatMap((r) => r.records.map((x) => String((x as { data?: unknown }).data)));
    return { kind: 'found', secure, records, ...(found[0].name ? { name: found[0].name } : {}) };
  }

  /** One question, each server in turn until one answers. */
  async query(name: string, type: dnsPacket.RecordType): Promise<SecureResult<dnsPacket.Answer>> {
    const dnsPacket = await loadPacket();
    const qname = name.toLowerCase().replace(/\.$/, '');
    let lastError = 'no DNS server configured';
    for (const server of this.servers) {
      let packet: dnsPacket.Packet;
      try {
        packet = await this.ask(server, qname, type);
      } catch (err) {
        lastError = `${server.host}:${server.port}: ${(err as Error).message}`;
        continue;
      }
      const flags = packet.flags ?? 0;
      const secure = (flags & dnsPacket.AUTHENTIC_DATA) !== 0;
      const rcode = flags & 0xf;
      if (rcode === RCODE_NXDOMAIN) return { kind: 'not-found', secure, reason: 'nxdomain' };
      if (rcode !== RCODE_NOERROR) return { kind: 'temporary', error: rcodeName(rcode) };
      // RFC 1034 §3.6.2: the answer may start with the CNAME chain from the name asked
      const all = packet.answers ?? [];
      const norm = (n: string): string => n.toLowerCase().replace(/\.$/, '');
      let owner = qname;
      for (let hops = 0; hops < 8; hops++) {
        const alias = all.find((a) => a.type === 'CNAME' && norm(a.name) === owner);
        if (!alias || type === 'CNAME') break;
        owner = norm(String((alias as { data?: unknown }).data));
      }
      const answers = all.filter((a) => a.type === type && norm(a.name) === owner);
      if (answers.length === 0) return { kind: 'not-found', secure, reason: 'nodata' };
      return { kind: 'found', secure, records: answers, ...(owner !== qname ? { name: owner } : {}) };
    }
    return { kind: 'temporary', error: lastError };
  }

  private async ask(server: { host: string; port: number }, name: string, type: dnsPacket.RecordType): Promise<dnsPacket.Packet> {
    const dnsPacket = await loadPacket();
    const id = randomInt(0, 0x10000);
    const query = dnsPacket.encode({
      type: 'query',
      id,
      // RD, and AD to ask for the validation result (RFC 6840 §5.7)
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
      questions: [{ type, name, class: 'IN' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: dnsPacket.DNSSEC_OK, flag_do: true, options: [] }],
    });
    const matches = (p: dnsPacket.Packet): boolean =>
      p.id === id && p.type === 'response' && p.questions?.[0]?.name.toLowerCase().replace(/\.$/, '') === name && p.questions[0].type === type;
    const udp = await this.askUdp(dnsPacket, server, query, matches);
    // RFC 1035 §4.2.1: a truncated answer is asked again over TCP
    if (((udp.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) === 0) return udp;
    const tcp = await this.askTcp(dnsPacket, server, query);
    if (!matches(tcp)) throw new Error('answer does not match the question');
    return tcp;
  }

  private askUdp(dnsPacket: Packet, server: { host: string; port: number }, query: Buffer, matches: (p: dnsPacket.Packet) => boolean): Promise<dnsPacket.Packet> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
      const done = (err: Error | undefined, p?: dnsPacket.Packet): void => {
        clearTimeout(timer);
        sock.close();
        if (err) reject(err);
        else resolve(p as dnsPacket.Packet);
      };
      const timer = setTimeout(() => done(new Error('timeout')), this.timeoutMs);
      sock.on('error', (err) => done(err));
      sock.on('message', (msg, rinfo) => {
        // only the server asked may answer; a spoofed or stray datagram is dropped
        if (rinfo.address !== server.host || rinfo.port !== server.port) return;
        let p: dnsPacket.Packet;
        try {
          p = dnsPacket.decode(msg);
        } catch {
          return;
        }
        if (matches(p)) done(undefined, p);
      });
      sock.send(query, server.port, server.host, (err) => err && done(err));
    });
  }

  private askTcp(dnsPacket: Packet, server: { host: string; port: number }, query: Buffer): Promise<dnsPacket.Packet> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: server.host, port: server.port });
      let buf = Buffer.alloc(0);
      const done = (err: Error | undefined, p?: dnsPacket.Packet): void => {
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(p as dnsPacket.Packet);
      };
      const timer = setTimeout(() => done(new Error('timeout (TCP)')), this.timeoutMs);
      sock.on('error', (err) => done(err));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        try {
          done(undefined, dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        } catch (err) {
          done(new Error(`bad answer: ${(err as Error).message}`));
        }
      });
      sock.on('end', () => done(new Error('connection closed before the answer')));
    });
  }
}

function rcodeName(rcode: number): string {
  return ({ 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED' } as Record<number, string>)[rcode] ?? `RCODE ${rcode}`;
}
