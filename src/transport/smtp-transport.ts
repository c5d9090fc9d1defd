/**
 * @module smtp-transport
 * Delivers one message to the recipients of one route over SMTP: finds the next hop (MX by
 * preference, equal preferences shuffled, each MX's A and AAAA in turn; implicit MX; or a
 * static "[ip]:port" / "host:port" / "unix:/path" route), speaks to the first host that answers, and reports
 * per recipient, shaped like a DSN. Sessions are kept for a while and reused for the same route
 * (as many per route as deliveries may run to it at once), without an RSET after a clean
 * transaction.
 * Standards: RFC 5321 §5.1 (locating the target host, implicit MX, loops back to ourselves),
 *   §4.5.4.1 (try alternate addresses), §3.8 (421); RFC 7505 (null MX → 5.1.10); RFC 1870 (SIZE
 *   → 5.3.4 without sending); RFC 6152 §3 (no 8BITMIME: convert or 5.6.3); RFC 6531 §3.5
 *   (no SMTPUTF8 → 5.6.7); RFC 3461 §4.1-§4.2 (DSN parameters relayed; "relayed" action when the
 *   next hop cannot do DSN and NOTIFY=SUCCESS was asked); RFC 3463 codes; RFC 3464 §2.3.
 * Security: the remote side is untrusted (see client/). An MX that points back at this host is a
 *   loop (5.4.6), never a connection to ourselves. Temporary DNS failures defer (4.4.3), never
 *   bounce. Opportunistic TLS by default (RFC 7435).
 *   MTA-STS (RFC 8461, mta-sts.ts): under a domain's `enforce` policy only MX hosts matching it are
 *   tried, with STARTTLS required and the certificate verified for the MX name (Node's CA store
 *   plus the configured extra CAs); a failure defers with the reason, never falls back to plain.
 *   Kept sessions are not reused for such a domain (they may predate its policy).
 *   DANE (RFC 7672, dane.ts): an MX host with validated TLSA records is reached over TLS only,
 *   its certificate checked against them (outbound-tls.ts decides per host); a mismatch tries
 *   the next host and finally defers (4.7.5) with the reason.
 * Limitations: a kept session (30 s idle at most) opened before a host published TLSA records
 *   may carry one more message without DANE; BINARYMIME messages are sent as 8BITMIME; at most
 *   `maxAddresses` addresses are tried per delivery.
 */
import type { Readable } from 'node:stream';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import {
  replies,
  reply,
  type DeliveryRequest,
  type DeliveryStatus,
  type EnhancedStatus,
  type Envelope,
  type SmtpReply,
  type Transport,
  reversePathToString,
  addressToString,
} from '../core/index.js';
import type { DnsResolver, MxHost } from '../dns/index.js';
import { SmtpClient, SmtpClientError, type SmtpTimeouts, type TransactionResult } from '../client/index.js';
import { analyze8bit, To7bitStream, conversionNotSupported, type EightBitAnalysis } from '../protocol/mime/to-7bit.js';
import { mxMatches, type StsLookup, type StsPolicy } from './mta-sts.js';
import type { DanePolicies } from './dane.js';
import { hostTls, publishTlsResult, type OutboundTlsOptions } from './outbound-tls.js';

export interface SmtpTransportOptions {
  /** our name for EHLO, and to recognize an MX that points at us */
  hostname: string;
  dns: DnsResolver;
  /** port dialled on MX hosts (mx_port); default 25 */
  port?: number;
  /** this machine's addresses: "ip" (any port), "ip:port" / "[ip]:port" (that listener only), "unix:/path" (a listening socket) */
  ownAddresses?: readonly string[];
  timeouts?: Partial<SmtpTimeouts>;
  /** default 'opportunistic' */
  tls?: 'opportunistic' | 'required' | 'none';
  tlsOptions?: ConnectionOptions;
  /** MTA-STS (RFC 8461) for deliveries to a domain's MX hosts: its policies, and extra trusted CAs (PEM) */
  mtaSts?: { readonly policies: { policyFor(domain: string): Promise<StsLookup> }; readonly ca?: readonly string[] };
  /** DANE (RFC 7672) for MX hosts: TLSA records from a DNSSEC-validating resolver */
  dane?: DanePolicies;
  /** credentials for a route (smarthost), by next hop */
  auth?: (nextHop: string) => { user: string; password: string } | undefined;
  /** recipients per transaction; default 100 (RFC 5321 §4.5.3.1.8 minimum) */
  maxRecipients?: number;
  /** addresses tried per delivery; default 10 */
  maxAddresses?: number;
  /**
   * Idle sessions kept per route: how long (default 30 s, 0 = no reuse), for how many messages
   * (default 100), how many per route (default 20; match the per-route delivery concurrency,
   * at most 100) and how many in all (default 500).
   */
  reuse?: { idleMs?: number; maxMessages?: number; maxIdlePerRoute?: number; maxIdle?: number };
  /** order of equal-preference MX hosts; default a random shuffle */
  shuffle?: <T>(items: T[]) => T[];
  localAddress?: string;
}

/** Where a route leads: hosts to try, or a decided outcome for every recipient. */
type Plan =
  | { kind: 'hosts'; hosts: { name: string; addresses: string[] }[]; port: number; dnsTemporary?: string; socket?: boolean }
  | { kind: 'outcome'; action: 'failed' | 'delayed'; status: EnhancedStatus; reply?: SmtpReply; error: string };

interface Pooled {
  client: SmtpClient;
  host: string;
  ip: string;
  timer?: NodeJS.Timeout;
}

function randomShuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** The DSN status for a remote reply: its own enhanced code when of the right class, else X.0.0. */
function statusOf(r: SmtpReply): EnhancedStatus {
  const cls = Math.floor(r.code / 100);
  if (r.status && r.status.startsWith(`${cls}.`)) return r.status;
  return cls === 2 ? '2.0.0' : cls === 4 ? '4.0.0' : '5.0.0';
}

const nonAscii = /[^\x00-\x7f]/;

/** RFC 8461 §4.1: under an enforce policy, the hosts whose names match it; none is a deferral. */
function stsHosts(plan: Plan, sts: StsPolicy | undefined, domain: string): Plan {
  if (!sts || plan.kind !== 'hosts') return plan;
  const hosts = plan.hosts.filter((h) => mxMatches(h.name, sts.mx));
  if (hosts.length > 0) return { ...plan, hosts };
  const error = `MTA-STS policy of ${domain} (enforce): no MX host matches ${sts.mx.join(', ')}`;
  return { kind: 'outcome', action: 'delayed', status: '4.7.5', error };
}

export class SmtpTransport implements Transport {
  readonly name: string = 'smtp';
  protected readonly lmtp: boolean = false;
  private readonly pool = new Map<string, Pooled[]>();
  /** idle sessions in the pool, all routes */
  private idle = 0;
  private closed = false;
  private readonly port: number;

  constructor(protected readonly options: SmtpTransportOptions) {
    this.port = options.port ?? 25;
  }

  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]> {
    const results = new Map<string, DeliveryStatus>();
    const pending = [...req.envelopes];
    const ctx = { analysis: undefined as EightBitAnalysis | undefined };
    let last: { host?: string; ip?: string; error: string; status: EnhancedStatus; reply?: SmtpReply } | undefined;

    // RFC 8461 §5: a domain's MTA-STS policy, when it has one in enforce mode
    const sts = await this.enforcedPolicy(req.route.nextHop);

    // 1. a kept session for this route, when there is one (not under a policy it may predate)
    const kept = sts ? undefined : this.checkout(req.route.nextHop, signal);
    if (kept && (await this.useSession(kept, req, pending, results, ctx, signal))) return this.finish(req, results);

    // 2. the next hop's hosts (§4.1: under enforce, only those matching the policy)
    const plan = stsHosts(await this.plan(req.route.nextHop), sts, req.route.nextHop);
    if (plan.kind === 'outcome') {
      for (const e of pending) results.set(e.id, { envelopeId: e.id, action: plan.action, status: plan.status, ...(plan.reply ? { reply: plan.reply } : {}), error: plan.error });
      return this.finish(req, results);
    }
    let tried = 0;
    const mx = this.isMxRoute(req.route.nextHop);
    outer: for (const host of plan.hosts) {
      // RFC 7672 §2.2 / RFC 8461 §4.2: DANE, else MTA-STS enforce, else opportunistic TLS
      const ht = await hostTls(this.tlsPolicy, { host: host.name, port: plan.port, domain: req.route.nextHop, mx, sts });
      if (ht.kind === 'skip') {
        last = { host: host.name, error: ht.error, status: ht.status };
        if (mx) publishTlsResult(req.route.nextHop, host.name, ht, {});
        continue;
      }
      for (const ip of host.addresses) {
        if (signal.aborted || tried >= (this.options.maxAddresses ?? 10)) break outer;
        tried++;
        let client: SmtpClient;
        try {
          client = await SmtpClient.connect({
            host: ip,
            port: plan.port,
            // "unix:/path": the address is the socket's path
            ...(plan.socket ? { path: ip } : {}),
            hostname: host.name,
            helo: this.options.hostname,
            lmtp: this.lmtp,
            tls: ht.tls,
            tlsOptions: ht.tlsOptions,
            verifyTls: ht.verifyTls,
            timeouts: this.options.timeouts,
            signal,
            localAddress: this.options.localAddress,
          });
        } catch (err) {
          const d = this.describe(err);
          last = { host: host.name, ip, ...d };
          if (err instanceof SmtpClientError && err.kind === 'tls') {
            if (mx) publishTlsResult(req.route.nextHop, host.name, ht, { ip, error: { message: err.message, code: (err.cause as { code?: string } | undefined)?.code } });
            // RFC 3463 4.7.5: cryptographic failure; the reason is shown by `queue show`
            if (ht.label) last = { host: host.name, ip, error: `${ht.label}: ${d.error}`, status: '4.7.5' };
          }
          continue; // RFC 5321 §5.1: try the next address
        }
        if (mx) publishTlsResult(req.route.nextHop, host.name, ht, { ip, secure: client.secure });
        const creds = this.options.auth?.(req.route.nextHop);
        if (creds) {
          const a = await client.auth(creds.user, creds.password).catch((err: unknown) => err);
          if (!(a && typeof a === 'object' && 'code' in a && (a as SmtpReply).code === 235)) {
            const r = a instanceof SmtpClientError ? a.reply : (a as SmtpReply);
            last = { host: host.name, ip, error: 'authentication failed', status: r ? statusOf(r) : '4.7.0', reply: r };
            await client.quit();
            continue;
          }
        }
        const session: Pooled = { client, host: host.name, ip };
        const done = await this.useSession(session, req, pending, results, ctx, signal, (l) => (last = l));
        if (done) return this.finish(req, results);
      }
    }
    // nobody took the remaining recipients
    const fallback = last ?? { error: plan.dnsTemporary ?? 'no address to try', status: '4.4.1' as EnhancedStatus };
    const failed = fallback.reply !== undefined && fallback.reply.code >= 500;
    for (const e of pending) {
      if (results.has(e.id)) continue;
      results.set(e.id, {
        envelopeId: e.id,
        action: failed ? 'failed' : 'delayed',
        status: fallback.status,
        ...(fallback.reply ? { reply: fallback.reply } : {}),
        ...(fallback.host ? { remoteMta: fallback.host } : {}),
        ...(fallback.ip ? { ip: fallback.ip } : {}),
        error: fallback.error,
      });
    }
    return this.finish(req, results);
  }

  /** The domain's MTA-STS policy when it is `enforce` (testing and none change nothing here). */
  private async enforcedPolicy(nextHop: string): Promise<StsPolicy | undefined> {
    const mta = this.options.mtaSts;
    // static routes ("[ip]:port", "host:port") and LMTP are not MX deliveries (RFC 8461 §4)
    if (!mta || !this.isMxRoute(nextHop)) return undefined;
    const { policy } = await mta.policies.policyFor(nextHop);
    return policy?.mode === 'enforce' ? policy : undefined;
  }

  /** Static routes ("[ip]:port", "host:port", "unix:…") and LMTP are not MX deliveries (RFC 8461 §4, RFC 7672 §2.2). */
  private isMxRoute(nextHop: string): boolean {
    return !this.lmtp && !nextHop.includes(':') && !nextHop.startsWith('[');
  }

  private get tlsPolicy(): OutboundTlsOptions {
    const o = this.options;
    return { tls: o.tls, tlsOptions: o.tlsOptions, ca: o.mtaSts?.ca, dane: o.dane };
  }

  /** QUITs every kept session; sessions that come back from deliveries still running are QUIT too. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pool.values()].flat();
    this.pool.clear();
    this.idle = 0;
    await Promise.all(
      all.map(async (p) => {
        clearTimeout(p.timer);
        await p.client.quit();
      }),
    );
  }

  private finish(req: DeliveryRequest, results: Map<string, DeliveryStatus>): DeliveryStatus[] {
    return req.envelopes.map(
      (e) => results.get(e.id) ?? { envelopeId: e.id, action: 'delayed', status: '4.3.0', error: 'not attempted' },
    );
  }

  private describe(err: unknown): { error: string; status: EnhancedStatus; reply?: SmtpReply } {
    if (err instanceof SmtpClientError) {
      if (err.reply) return { error: err.message, status: statusOf(err.reply), reply: err.reply };
      // RFC 3463: 4.4.1 no answer from host, 4.4.2 bad connection
      const status: EnhancedStatus = err.kind === 'connect' || (err.kind === 'timeout' && /connect/.test(err.message)) ? '4.4.1' : err.kind === 'body' ? '4.3.0' : '4.4.2';
      return { error: err.message, status };
    }
    return { error: (err as Error)?.message ?? String(err), status: '4.3.0' };
  }

  /**
   * Runs as many transactions as needed on one session. Returns true when every recipient has
   * a result (or none should be tried elsewhere), false to try the next address.
   */
  private async useSession(
    s: Pooled,
    req: DeliveryRequest,
    pending: Envelope[],
    results: Map<string, DeliveryStatus>,
    ctx: { analysis: EightBitAnalysis | undefined },
    signal: AbortSignal,
    onFail?: (l: { host?: string; ip?: string; error: string; status: EnhancedStatus; reply?: SmtpReply }) => void,
  ): Promise<boolean> {
    const { client } = s;
    client.bindSignal(signal);
    const where = { remoteMta: s.host, ip: s.ip };
    const setAll = (envs: readonly Envelope[], r: Omit<DeliveryStatus, 'envelopeId'>): void => {
      for (const e of envs) results.set(e.id, { envelopeId: e.id, ...r });
      pending.splice(0, pending.length, ...pending.filter((e) => !results.has(e.id)));
    };
    const ext = client.extensions;

    // RFC 1870: do not send what the server has said it will refuse.
    if (ext.size !== undefined && ext.size > 0 && req.size > ext.size) {
      const r = replies.messageTooBig();
      setAll(pending, { action: 'failed', status: '5.3.4', reply: r, ...where, error: `message size ${req.size} exceeds the server's limit ${ext.size}` });
      this.checkin(req.route.nextHop, s);
      return true;
    }
    // RFC 6531 §3.5: non-ASCII addresses need SMTPUTF8.
    const utf8 = pending.some((e) => e.smtpUtf8) && [req.sender ? reversePathToString(req.sender) : '', ...pending.map((e) => addressToString(e.recipient))].some((a) => nonAscii.test(a));
    if (utf8 && !ext.smtpUtf8) {
      setAll(pending, { action: 'failed', status: '5.6.7', reply: replies.utf8NotPermitted(), ...where, error: 'the next hop does not support SMTPUTF8' });
      this.checkin(req.route.nextHop, s);
      return true;
    }
    // RFC 6152 §3: 8-bit content to a server without 8BITMIME is converted, or returned.
    const eightBit = pending.some((e) => e.body === '8BITMIME' || e.body === 'BINARYMIME');
    let convert = false;
    if (eightBit && !ext.eightBitMime) {
      try {
        ctx.analysis ??= await analyze8bit(await req.openMessage());
      } catch (err) {
        setAll(pending, { action: 'delayed', status: '4.3.0', ...where, error: `reading the message: ${(err as Error).message}` });
        this.checkin(req.route.nextHop, s);
        return true;
      }
      if (!ctx.analysis.convertible) {
        const r = conversionNotSupported().reply;
        setAll(pending, { action: 'failed', status: '5.6.3', reply: r, ...where, error: `cannot convert to 7 bits: ${ctx.analysis.reason ?? 'unknown'}` });
        this.checkin(req.route.nextHop, s);
        return true;
      }
      convert = ctx.analysis.has8bit;
    }
    const analysis = ctx.analysis;
    const body = async (): Promise<Readable> => {
      const m = await req.openMessage();
      return convert && analysis ? m.pipe(new To7bitStream(analysis)).once('error', () => m.destroy()) : m;
    };
    const first = pending[0];
    const params = {
      size: req.size,
      body: eightBit && ext.eightBitMime ? ('8BITMIME' as const) : undefined,
      smtpUtf8: utf8,
      ret: first?.dsn.ret,
      envid: first?.dsn.envid,
    };

    const max = Math.max(1, this.options.maxRecipients ?? 100);
    let queue = [...pending];
    while (queue.length > 0) {
      if (signal.aborted) {
        client.close();
        return true;
      }
      const batch = queue.slice(0, max);
      queue = queue.slice(max);
      let r: TransactionResult;
      try {
        r = await client.send({
          sender: req.sender ? reversePathToString(req.sender) : '',
          recipients: batch.map((e) => ({
            address: addressToString(e.recipient),
            dsn: { ...e.dsn, orcpt: e.dsn.orcpt ?? (e.originalRecipient ? `rfc822;${addressToString(e.originalRecipient)}` : undefined) },
          })),
          params,
          body,
        });
      } catch (err) {
        const d = this.describe(err);
        client.close();
        const afterData = client.phase === 'data' || client.phase === 'end';
        if (!(err instanceof SmtpClientError && err.kind === 'body') && results.size === 0 && !afterData) {
          // nothing was decided on this session (a kept one may have gone stale while idle):
          // another address, or a new session, may do better with every recipient
          onFail?.({ host: s.host, ip: s.ip, ...d });
          return false;
        }
        setAll(batch, { action: 'delayed', status: d.status, ...where, error: d.error });
        for (const e of queue) results.set(e.id, { envelopeId: e.id, action: 'delayed', status: d.status, ...where, error: d.error });
        return true;
      }
      // RFC 5321 §5.1: a temporary refusal of MAIL is worth another address
      if (r.mail.code >= 400 && r.mail.code < 500 && results.size === 0) {
        onFail?.({ host: s.host, ip: s.ip, error: `MAIL refused`, status: statusOf(r.mail), reply: r.mail });
        await client.quit();
        return false;
      }
      const accepted = r.recipients.some((x) => x.code >= 200 && x.code < 300);
      batch.forEach((e, i) => {
        const f = r.final[i];
        // RFC 5321 §4.5.3.1.10: 452 "too many recipients" → the rest go in a new transaction
        if (f.code === 452 && r.recipients[i].code === 452 && accepted && client.usable) {
          queue.push(e);
          return;
        }
        results.set(e.id, this.outcome(e, f, where, ext.dsn));
      });
      pending.splice(0, pending.length, ...pending.filter((e) => !results.has(e.id)));
      if (!client.usable && queue.length > 0) {
        for (const e of queue) results.set(e.id, { envelopeId: e.id, action: 'delayed', status: '4.4.2', ...where, error: 'connection closed by the server' });
        queue = [];
      }
    }
    if (client.usable) this.checkin(req.route.nextHop, s);
    return true;
  }

  private outcome(e: Envelope, r: SmtpReply, where: { remoteMta: string; ip: string }, remoteDsn: boolean): DeliveryStatus {
    const status = statusOf(r);
    if (r.code >= 200 && r.code < 300) {
      // RFC 3461 §4.1: a next hop without DSN cannot honour NOTIFY=SUCCESS: we report "relayed".
      const wantsSuccess = e.dsn.notify?.includes('SUCCESS') ?? false;
      if (!this.lmtp && !remoteDsn && wantsSuccess) return { envelopeId: e.id, action: 'relayed', status, reply: r, ...where, remoteDsn: false };
      return { envelopeId: e.id, action: 'delivered', status, reply: r, ...where, remoteDsn };
    }
    return { envelopeId: e.id, action: r.code >= 500 ? 'failed' : 'delayed', status, reply: r, ...where };
  }

  // --- routing (RFC 5321 §5.1) ---

  private async plan(nextHop: string): Promise<Plan> {
    const dns = this.options.dns;
    if (nextHop.startsWith('unix:')) {
      // a local store's UNIX socket (LMTP mostly, e.g. "lmtp:unix:/run/dovecot/lmtp")
      const path = nextHop.slice('unix:'.length);
      if (!path.startsWith('/') || path.includes('\0')) return this.badRoute(nextHop);
      if ((this.options.ownAddresses ?? []).includes(nextHop)) return this.loop(nextHop);
      return { kind: 'hosts', hosts: [{ name: nextHop, addresses: [path] }], port: 0, socket: true };
    }
    const literal = /^\[(?:IPv6:)?([^\]]+)\](?::(\d+))?$/i.exec(nextHop);
    if (literal) {
      if (isIP(literal[1]) === 0) return this.badRoute(nextHop);
      const port = literal[2] ? Number(literal[2]) : this.port;
      if (this.isOwn(literal[1], port)) return this.loop(nextHop);
      return { kind: 'hosts', hosts: [{ name: literal[1], addresses: [literal[1]] }], port };
    }
    const hostPort = /^([^\s:[\]]+):(\d+)$/.exec(nextHop);
    if (hostPort) {
      // a static route: the host itself, no MX lookup
      const port = Number(hostPort[2]);
      if (isIP(hostPort[1])) return { kind: 'hosts', hosts: [{ name: hostPort[1], addresses: [hostPort[1]] }], port };
      const a = await dns.findAddresses(hostPort[1]);
      if (a.kind === 'temporary') return this.dnsTemporary(hostPort[1], a.error);
      if (a.kind === 'not-found') return this.unroutable(hostPort[1], 'host not found');
      return { kind: 'hosts', hosts: [{ name: hostPort[1], addresses: a.addresses.map((x) => x.address) }], port };
    }
    const domain = nextHop.toLowerCase().replace(/\.$/, '');
    if (!/^[a-z0-9._-]+$/i.test(domain)) return this.badRoute(nextHop);
    if (this.lmtp) return this.plan(`${domain}:${this.port}`);
    const mx = await dns.findMx(domain);
    if (mx.kind === 'temporary') return this.dnsTemporary(domain, mx.error);
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
    const shuffle = this.options.shuffle ?? randomShuffle;
    const byPref = new Map<number, MxHost[]>();
    for (const h of hosts) byPref.set(h.preference, [...(byPref.get(h.preference) ?? []), h]);
    const ordered = [...byPref.keys()].sort((a, b) => a - b).flatMap((p) => shuffle(byPref.get(p) ?? []));

    const lookups = await Promise.all(ordered.map(async (h) => ({ h, r: await dns.findAddresses(h.exchange) })));
    // RFC 5321 §5.1: when we are one of the MX hosts, only hosts more preferred than us count.
    const me = this.options.hostname.toLowerCase();
    let ourPref = Infinity;
    for (const { h, r } of lookups) {
      const own = h.exchange === me || (r.kind === 'found' && r.addresses.some((a) => this.isOwn(a.address, this.port)));
      if (own) ourPref = Math.min(ourPref, h.preference);
    }
    const usable = lookups.filter(({ h }) => h.preference < ourPref);
    if (usable.length === 0) return this.loop(domain);
    const out: { name: string; addresses: string[] }[] = [];
    let temporary: string | undefined;
    for (const { h, r } of usable) {
      if (r.kind === 'found') out.push({ name: h.exchange, addresses: r.addresses.map((a) => a.address) });
      else if (r.kind === 'temporary') temporary ??= `${h.exchange}: ${r.error}`;
    }
    if (out.length === 0) {
      if (temporary) return this.dnsTemporary(domain, temporary);
      return this.unroutable(domain, mx.kind === 'found' ? 'no MX host has an address' : 'no MX and no address');
    }
    return { kind: 'hosts', hosts: out, port: this.port, ...(temporary ? { dnsTemporary: temporary } : {}) };
  }

  private isOwn(ip: string, port: number): boolean {
    for (const own of this.options.ownAddresses ?? []) {
      const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(own);
      const v6port = /^\[([^\]]+)\]:(\d+)$/.exec(own);
      const addr = v6port ? v6port[1] : isIP(own) ? own : (m?.[1] ?? own);
      const p = v6port ? Number(v6port[2]) : isIP(own) ? undefined : m?.[2] ? Number(m[2]) : undefined;
      if (addr === ip && (p === undefined || p === port)) return true;
    }
    return false;
  }

  private loop(where: string): Plan {
    return { kind: 'outcome', action: 'failed', status: '5.4.6', reply: replies.mailLoop(), error: `mail for ${where} loops back to myself` };
  }
  private dnsTemporary(name: string, error: string): Plan {
    return { kind: 'outcome', action: 'delayed', status: '4.4.3', reply: replies.directoryFailure(), error: `DNS lookup for ${name} failed: ${error}` };
  }
  private unroutable(name: string, why: string): Plan {
    return { kind: 'outcome', action: 'failed', status: '5.4.4', reply: reply(550, '5.4.4', 'Unable to route'), error: `${name}: ${why}` };
  }
  private badRoute(nextHop: string): Plan {
    return { kind: 'outcome', action: 'failed', status: '5.4.4', reply: reply(550, '5.4.4', 'Unable to route'), error: `invalid next hop ${JSON.stringify(nextHop)}` };
  }

  // --- session reuse ---

  /**
   * The most recently used idle session of a route. No RSET to probe it: after a completed
   * transaction the session is already reset (RFC 5321 §4.1.1.4), and one left open is reset
   * by the client in the same write as the next transaction (RFC 2920 §3.1). A session the
   * server closed while idle is seen as unusable here; one that fails on its first command
   * makes deliver() go on to a new connection (nothing was decided on it).
   */
  private checkout(key: string, signal: AbortSignal): Pooled | undefined {
    const list = this.pool.get(key);
    while (list && list.length > 0) {
      const p = list.pop() as Pooled;
      this.idle--;
      if (list.length === 0) this.pool.delete(key);
      clearTimeout(p.timer);
      if (p.client.usable && !signal.aborted) return p;
      p.client.close();
    }
    return undefined;
  }

  private checkin(key: string, p: Pooled): void {
    const reuse = this.options.reuse ?? {};
    const idleMs = reuse.idleMs ?? 30_000;
    const maxMessages = reuse.maxMessages ?? 100;
    // one idle session per delivery that may run at once to the route, within a sane bound
    const perRoute = Math.min(100, Math.max(0, Math.floor(reuse.maxIdlePerRoute ?? 20)));
    const total = Math.max(0, Math.floor(reuse.maxIdle ?? 500));
    p.client.bindSignal(undefined);
    const list = this.pool.get(key) ?? [];
    if (this.closed || idleMs <= 0 || !p.client.usable || p.client.transactions >= maxMessages || list.length >= perRoute || this.idle >= total) {
      void p.client.quit();
      return;
    }
    list.push(p);
    this.pool.set(key, list);
    this.idle++;
    p.timer = setTimeout(() => {
      const l = this.pool.get(key);
      const i = l?.indexOf(p) ?? -1;
      if (l && i >= 0) {
        l.splice(i, 1);
        this.idle--;
      }
      if (l && l.length === 0) this.pool.delete(key);
      void p.client.quit();
    }, idleMs);
    p.timer.unref();
  }
}

/**
 * LMTP (RFC 2033) to a delivery agent: next hop "host:port", "[ip]:port" or "unix:/path" (a
 * bare name is a host on `port`, never an MX lookup); LHLO, and one reply per recipient after
 * the data.
 */
export class LmtpTransport extends SmtpTransport {
  override readonly name: string = 'lmtp';
  protected override readonly lmtp: boolean = true;
}
