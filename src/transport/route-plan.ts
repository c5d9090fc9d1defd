/**
 * @module route-plan
 * Where a delivery's next hop leads (RFC 5321 §5.1): a static route ("[ip]:port", "host:port",
 * "unix:/path") or a domain's MX hosts by preference, equal preferences shuffled, each with its
 * addresses; or an outcome decided for every recipient (null MX, no such domain, a loop back to
 * ourselves, a temporary DNS failure, an invalid route). DNS is injected; nothing is dialled here.
 * Standards: RFC 5321 §5.1 (MX order, implicit MX, only hosts more preferred than ourselves),
 *   RFC 7505 (null MX → 5.1.10), RFC 3463 (5.4.4, 5.4.6, 4.4.3, 5.1.2); RFC 8461 §4.1 (under an
 *   enforce policy only matching MX hosts).
 * Security: an MX that points back at this host is a loop (5.4.6), never a connection to
 *   ourselves; temporary DNS failures defer, never bounce.
 * Limitations: at most 20 MX hosts are looked at.
 */
import { isIP } from 'node:net';
import { replies, reply, type EnhancedStatus, type SmtpReply } from '../core/index.js';
import type { DnsResolver, MxHost } from '../dns/index.js';
import { mxMatches, type StsPolicy } from './mta-sts.js';

/** Where a route leads: hosts to try, or a decided outcome for every recipient. */
export type Plan =
  | { kind: 'hosts'; hosts: { name: string; addresses: string[] }[]; port: number; dnsTemporary?: string; socket?: boolean }
  | { kind: 'outcome'; action: 'failed' | 'delayed'; status: EnhancedStatus; reply?: SmtpReply; error: string };

/** What planning needs: DNS, our name and addresses (loops), the port to dial, LMTP or not. */
export interface RouteContext {
  readonly dns: DnsResolver;
  readonly hostname: string;
  /** port dialled on MX hosts */
  readonly port: number;
  /** this machine's addresses: "ip", "ip:port" / "[ip]:port", "unix:/path" */
  readonly ownAddresses?: readonly string[];
  /** LMTP: a bare name is a host on `port`, never an MX lookup */
  readonly lmtp: boolean;
  /** order of equal-preference MX hosts; default a random shuffle */
  readonly shuffle?: <T>(items: T[]) => T[];
}

/** Fisher–Yates: equal-preference MX hosts in random order. */
function randomShuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** RFC 8461 §4.1: under an enforce policy, the hosts whose names match it; none is a deferral. */
export function stsHosts(plan: Plan, sts: StsPolicy | undefined, domain: string): Plan {
  if (!sts || plan.kind !== 'hosts') return plan;
  const hosts = plan.hosts.filter((h) => mxMatches(h.name, sts.mx));
  if (hosts.length > 0) return { ...plan, hosts };
  const error = `MTA-STS policy of ${domain} (enforce): no MX host matches ${sts.mx.join(', ')}`;
  return { kind: 'outcome', action: 'delayed', status: '4.7.5', error };
}

export async function planRoute(nextHop: string, o: RouteContext): Promise<Plan> {
const dns = o.dns;
  if (nextHop.startsWith('unix:')) {
    // a local store's UNIX socket (LMTP mostly, e.g. "lmtp:unix:/run/dovecot/lmtp")
    const path = nextHop.slice('unix:'.length);
    if (!path.startsWith('/') || path.includes('\0')) return badRoute(nextHop);
    if ((o.ownAddresses ?? []).includes(nextHop)) return loop(nextHop);
    return { kind: 'hosts', hosts: [{ name: nextHop, addresses: [path] }], port: 0, socket: true };
  }
  const literal = /^\[(?:IPv6:)?([^\]]+)\](?::(\d+))?$/i.exec(nextHop);
  if (literal) {
    if (isIP(literal[1]) === 0) return badRoute(nextHop);
    const port = literal[2] ? Number(literal[2]) : o.port;
    if (isOwn(o, literal[1], port)) return loop(nextHop);
    return { kind: 'hosts', hosts: [{ name: literal[1], addresses: [literal[1]] }], port };
  }
  const hostPort = /^([^\s:[\]]+):(\d+)$/.exec(nextHop);
  if (hostPort) {
    // a static route: the host itself, no MX lookup
    const port = Number(hostPort[2]);
    if (isIP(hostPort[1])) return { kind: 'hosts', hosts: [{ name: hostPort[1], addresses: [hostPort[1]] }], port };
    const a = await dns.findAddresses(hostPort[1]);
    if (a.kind === 'temporary') return dnsTemporary(hostPort[1], a.error);
    if (a.kind === 'not-found') return unroutable(hostPort[1], 'host not found');
    return { kind: 'hosts', hosts: [{ name: hostPort[1], addresses: a.addresses.map((x) => x.address) }], port };
  }
  const domain = nextHop.toLowerCase().replace(/\.$/, '');
  if (!/^[a-z0-9._-]+$/i.test(domain)) return badRoute(nextHop);
  if (o.lmtp) return planRoute(`${domain}:${o.port}`, o);
  const mx = await dns.findMx(domain);
  if (mx.kind === 'temporary') return dnsTemporary(domain, mx.error);
  if (mx.kind === 'null-mx') {
    // RFC 7505 §3: the domain accepts no mail
    return { kind: 'outcome', action: 'failed', status: '5.1.10', reply: reply(556, '5.1.10', 'Recipient address has null MX'), error: `${domain} has a null MX` };
  }
  let hosts: MxHost[];
  if (mx.kind === 'not-found') {
    if (mx.reason === 'nxdomain') {
      return { kind: 'outcome', action: 'failed', status: '5.1.2', reply: replies.badDestinationSystem(), error: `${domain}: no such domain` };
    }
    hosts = [{ exchange: domain, preference: 0 }]; // RFC 5321 §5.1: the implicit MX
  } else hosts = mx.hosts.slice(0, 20);

  // equal preferences in random order (RFC 5321 §5.1)
  const shuffle = o.shuffle ?? randomShuffle;
  const byPref = new Map<number, MxHost[]>();
  for (const h of hosts) byPref.set(h.preference, [...(byPref.get(h.preference) ?? []), h]);
  const ordered = [...byPref.keys()].sort((a, b) => a - b).flatMap((p) => shuffle(byPref.get(p) ?? []));

  const lookups = await Promise.all(ordered.map(async (h) => ({ h, r: await dns.findAddresses(h.exchange) })));
  // RFC 5321 §5.1: when we are one of the MX hosts, only hosts more preferred than us count.
  const me = o.hostname.toLowerCase();
  let ourPref = Infinity;
  for (const { h, r } of lookups) {
    const own = h.exchange === me || (r.kind === 'found' && r.addresses.some((a) => isOwn(o, a.address, o.port)));
    if (own) ourPref = Math.min(ourPref, h.preference);
  }
  const usable = lookups.filter(({ h }) => h.preference < ourPref);
  if (usable.length === 0) return loop(domain);
  const out: { name: string; addresses: string[] }[] = [];
  let temporary: string | undefined;
  for (const { h, r } of usable) {
    if (r.kind === 'found') out.push({ name: h.exchange, addresses: r.addresses.map((a) => a.address) });
    else if (r.kind === 'temporary') temporary ??= `${h.exchange}: ${r.error}`;
  }
  if (out.length === 0) {
    if (temporary) return dnsTemporary(domain, temporary);
    return unroutable(domain, mx.kind === 'found' ? 'no MX host has an address' : 'no MX and no address');
  }
  return { kind: 'hosts', hosts: out, port: o.port, ...(temporary ? { dnsTemporary: temporary } : {}) };
}

function isOwn(o: RouteContext, ip: string, port: number): boolean {
for (const own of o.ownAddresses ?? []) {
    const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(own);
    const v6port = /^\[([^\]]+)\]:(\d+)$/.exec(own);
    const addr = v6port ? v6port[1] : isIP(own) ? own : (m?.[1] ?? own);
    const p = v6port ? Number(v6port[2]) : isIP(own) ? undefined : m?.[2] ? Number(m[2]) : undefined;
    if (addr === ip && (p === undefined || p === port)) return true;
  }
  return false;
}

function loop(where: string): Plan {
  return { kind: 'outcome', action: 'failed', status: '5.4.6', reply: replies.mailLoop(), error: `mail for ${where} loops back to myself` };
}
function dnsTemporary(name: string, error: string): Plan {
  return { kind: 'outcome', action: 'delayed', status: '4.4.3', reply: replies.directoryFailure(), error: `DNS lookup for ${name} failed: ${error}` };
}
function unroutable(name: string, why: string): Plan {
  return { kind: 'outcome', action: 'failed', status: '5.4.4', reply: reply(550, '5.4.4', 'Unable to route'), error: `${name}: ${why}` };
}
function badRoute(nextHop: string): Plan {
  return { kind: 'outcome', action: 'failed', status: '5.4.4', reply: reply(550, '5.4.4', 'Unable to route'), error: `invalid next hop ${JSON.stringify(nextHop)}` };
}
