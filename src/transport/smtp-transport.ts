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
 * Limitations: a kept session opened before a host published TLSA records carries without DANE
 *   the messages it is reused for: by default up to 1,000, each within 30 s of the last, for
 *   300 s; BINARYMIME messages are sent as 8BITMIME; at most
 *   `maxAddresses` addresses are tried per delivery. Finding the hosts is route-plan.ts's, keeping
 *   sessions session-pool.ts's.
 */
import type { Readable } from 'node:stream';
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
import type { DnsResolver } from '../dns/index.js';
import { SmtpClient, SmtpClientError, type SmtpTimeouts, type TransactionResult } from '../client/index.js';
import { analyze8bit, To7bitStream, conversionNotSupported, type EightBitAnalysis } from '../protocol/mime/to-7bit.js';
import type { StsLookup } from './mta-sts.js';
import { planRoute, stsHosts, type Plan } from './route-plan.js';
import { SessionPool, type Pooled, type ReuseOptions } from './session-pool.js';
import type { DanePolicies } from './dane.js';
import { hostTls, publishStsMismatch, publishTlsResult, type OutboundTlsOptions } from './outbound-tls.js';

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
   * (default 1,000), for how long after the first (default 300 s), how many per route (default
   * 20; match the per-route delivery concurrency, at most 100) and how many in all (default 500).
   */
  reuse?: ReuseOptions;
  /** order of equal-preference MX hosts; default a random shuffle */
  shuffle?: <T>(items: T[]) => T[];
  localAddress?: string;
}

/** The DSN status for a remote reply: its own enhanced code when of the right class, else X.0.0. */
function statusOf(r: SmtpReply): EnhancedStatus {
  const cls = Math.floor(r.code / 100);
  if (r.status && r.status.startsWith(`${cls}.`)) return r.status;
  return cls === 2 ? '2.0.0' : cls === 4 ? '4.0.0' : '5.0.0';
}

const nonAscii = /[^\x00-\x7f]/;

export class SmtpTransport implements Transport {
  readonly name: string = 'smtp';
  protected readonly lmtp: boolean = false;
  /** kept sessions per route (session-pool.ts) */
  private readonly pool: SessionPool;

  constructor(protected readonly options: SmtpTransportOptions) {
    this.pool = new SessionPool(options.reuse);
  }

  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]> {
    const results = new Map<string, DeliveryStatus>();
    const pending = [...req.envelopes];
    const ctx = { analysis: undefined as EightBitAnalysis | undefined };
    let last: { host?: string; ip?: string; error: string; status: EnhancedStatus; reply?: SmtpReply } | undefined;

    // RFC 8461 §5: a domain's MTA-STS policy: enforce changes the delivery, testing only the reports
    const lookup = await this.stsLookup(req.route.nextHop);
    const sts = lookup.policy?.mode === 'enforce' ? lookup.policy : undefined;
    const testing = lookup.policy?.mode === 'testing' ? lookup.policy : undefined;
    const stsFailure = lookup.failure ? { failure: lookup.failure, note: lookup.note } : undefined;

    // 1. a kept session for this route, when there is one (not under a policy it may predate)
    const kept = sts ? undefined : this.pool.checkout(req.route.nextHop, signal);
    if (kept && (await this.useSession(kept, req, pending, results, ctx, signal))) return this.finish(req, results);

    // 2. the next hop's hosts (§4.1: under enforce, only those matching the policy)
    const planned = await this.plan(req.route.nextHop);
    const plan = stsHosts(planned, sts, req.route.nextHop);
    if (sts && planned.kind === 'hosts' && plan.kind === 'outcome') publishStsMismatch(req.route.nextHop, sts, planned.hosts.map((h) => h.name));
    if (plan.kind === 'outcome') {
      for (const e of pending) results.set(e.id, { envelopeId: e.id, action: plan.action, status: plan.status, ...(plan.reply ? { reply: plan.reply } : {}), error: plan.error });
      return this.finish(req, results);
    }
    let tried = 0;
    const mx = this.isMxRoute(req.route.nextHop);
    outer: for (const host of plan.hosts) {
      // RFC 7672 §2.2 / RFC 8461 §4.2: DANE, else MTA-STS enforce, else opportunistic TLS
      const ht = await hostTls(this.tlsPolicy, { host: host.name, port: plan.port, domain: req.route.nextHop, mx, sts, testing, stsFailure });
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

  /** The domain's MTA-STS policy (mode `none` is as no policy), or why a published one could not be had. */
  private async stsLookup(nextHop: string): Promise<StsLookup> {
    const mta = this.options.mtaSts;
    // static routes ("[ip]:port", "host:port") and LMTP are not MX deliveries (RFC 8461 §4)
    if (!mta || !this.isMxRoute(nextHop)) return {};
    const r = await mta.policies.policyFor(nextHop);
    return r.policy?.mode === 'none' ? {} : r;
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
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Where the next hop leads (route-plan.ts). */
  private plan(nextHop: string): Promise<Plan> {
    const o = this.options;
    return planRoute(nextHop, { dns: o.dns, hostname: o.hostname, port: o.port ?? 25, ownAddresses: o.ownAddresses, lmtp: this.lmtp, shuffle: o.shuffle });
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
      this.pool.checkin(req.route.nextHop, s);
      return true;
    }
    // RFC 6531 §3.5: non-ASCII addresses need SMTPUTF8.
    const utf8 = pending.some((e) => e.smtpUtf8) && [req.sender ? reversePathToString(req.sender) : '', ...pending.map((e) => addressToString(e.recipient))].some((a) => nonAscii.test(a));
    if (utf8 && !ext.smtpUtf8) {
      setAll(pending, { action: 'failed', status: '5.6.7', reply: replies.utf8NotPermitted(), ...where, error: 'the next hop does not support SMTPUTF8' });
      this.pool.checkin(req.route.nextHop, s);
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
        this.pool.checkin(req.route.nextHop, s);
        return true;
      }
      if (!ctx.analysis.convertible) {
        const r = conversionNotSupported().reply;
        setAll(pending, { action: 'failed', status: '5.6.3', reply: r, ...where, error: `cannot convert to 7 bits: ${ctx.analysis.reason ?? 'unknown'}` });
        this.pool.checkin(req.route.nextHop, s);
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
    if (client.usable) this.pool.checkin(req.route.nextHop, s);
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
