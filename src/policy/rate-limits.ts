/**
 * @module rate-limits
 * Per-client-address rate limits on the MX port: connections, messages (MAIL commands) and
 * recipients (RCPT commands) per minute, and messages per authenticated user on every port,
 * each a named check with its own reply.
 * Standards: RFC 5321 §3.1 and §4.2.5 (421 closes at connect), §4.5.3.1.10 / RFC 3463 §3.8
 *   (4.7.x: a temporary policy refusal the client retries later).
 * Security: a client over a limit gets a temporary refusal (never a permanent one: a busy but
 *   honest relay only slows down). Clients that may relay (trusted networks, AUTH) and clients
 *   on a DNS allowlist are not counted. IPv6 clients count per /64 (auth-throttle's addressKey).
 *   The counters are bounded (`maxKeys`: on overflow the oldest window's keys are dropped).
 * Limitations: in memory per process; a reload starts the counts again; refused attempts count
 *   too (a client hammering while refused stays refused). The per-user message limit counts
 *   authenticated sessions on every port, by login name.
 */
import { replies } from '../core/index.js';
import { addressKey } from './auth-throttle.js';
import type { Check } from './check.js';
import type { ConnectFacts, MailFacts, RcptFacts } from './checks.js';
import { exempt, type DnsList } from './dns-lists.js';

const MINUTE = 60_000;

/**
 * Counts events per key over the last minute (a sliding window: the times of at most `max + 1`
 * recent events per key are kept, so a client cannot double its rate across a window edge).
 */
export class RateCounter {
  private readonly times = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  /** Counts one event for `key`; true when it is over the limit (more than `max` in the last minute). */
  over(key: string): boolean {
    const t = this.now();
    let list = this.times.get(key);
    if (!list) {
      // bounded: past maxKeys, the keys first seen longest ago are dropped
      if (this.times.size >= this.maxKeys) for (const k of [...this.times.keys()].slice(0, this.maxKeys / 10)) this.times.delete(k);
      list = [];
      this.times.set(key, list);
    }
    while (list.length > 0 && t - list[0] >= MINUTE) list.shift();
    list.push(t);
    if (list.length > this.max + 1) list.shift();
    return list.length > this.max;
  }
}

type Facts = ConnectFacts | MailFacts | RcptFacts;

function limit<F extends Facts>(name: string, max: number, allow: DnsList | undefined, refuse: () => ReturnType<typeof replies.rateLimited>, now?: () => number): Check<F> {
  const counter = new RateCounter(max, now);
  return {
    name,
    check: async (f) => {
      if (await exempt(f.session, allow)) return undefined;
      return counter.over(addressKey(f.session.remoteAddress ?? '')) ? refuse() : undefined;
    },
  };
}

/** `rate-connections`: over `max` connections a minute from one client, 421 4.7.0 at connect. */
export function connectionRate(max: number, hostname: string, allow?: DnsList, now?: () => number): Check<ConnectFacts> {
  return limit('rate-connections', max, allow, () => replies.tooManyConnectionsPerMinute(hostname), now);
}

/** `rate-messages`: over `max` MAIL commands a minute from one client, 451 4.7.1. */
export function messageRate(max: number, allow?: DnsList, now?: () => number): Check<MailFacts> {
  return limit('rate-messages', max, allow, () => replies.rateLimited('messages'), now);
}

/**
 * `rate-messages-per-user`: over `max` MAIL commands a minute from one authenticated user, on
 * any port, 451 4.7.1 (a stolen password sends no flood); sessions without AUTH are not counted.
 */
export function userMessageRate(max: number, now?: () => number): Check<MailFacts> {
  const counter = new RateCounter(max, now);
  return {
    name: 'rate-messages-per-user',
    check: (f) => (f.session.authUser !== undefined && counter.over(f.session.authUser.toLowerCase()) ? replies.rateLimited('messages', 'account') : undefined),
  };
}

/** `rate-recipients`: over `max` RCPT commands a minute from one client, 451 4.7.1. */
export function recipientRate(max: number, allow?: DnsList, now?: () => number): Check<RcptFacts> {
  return limit('rate-recipients', max, allow, () => replies.rateLimited('recipients'), now);
}
