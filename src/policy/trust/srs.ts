/**
 * @module srs
 * The Sender Rewriting Scheme for forwarding: mail that an alias sends on to a remote address
 * leaves with a reverse-path in our SRS domain, so SPF at the next hop checks our address and
 * passes; a bounce to that address comes back here and is reversed to the original sender.
 * Standards: SRS (Shevek, "Sender Rewriting Scheme", 2004; the libsrs2 / postsrsd address shapes):
 *   SRS0=HASH=TT=domain=local@ours for a first forward, SRS1=HASH=hop==HASH=TT=domain=local@ours
 *   when the sender was already an SRS0 address of another forwarder (it is not wrapped twice).
 *   TT is the day number modulo 1024 in two base32 characters (RFC 4648 §6 alphabet); HASH the
 *   first 4 base64 characters of HMAC-SHA1(secret, lower-cased fields). RFC 7208 §1.2.3 and
 *   RFC 7489 §3.1.2 for why forwarding needs this (SPF checks the MAIL FROM domain).
 * Security: only addresses with a valid hash (compared in constant time, any letter case since
 *   hops may change it) and a timestamp within `maxAgeDays` are reversed: anything else is 550,
 *   so the SRS domain is no open relay for bounce spam. The secret never leaves the process.
 * Limitations: SRS1 reversal yields the SRS0 address at the first forwarder (as the scheme
 *   means); our own SRS0 addresses are reversed to their origin directly. Only the hash of the
 *   first (current) secret is made; older secrets are accepted for reversal when given.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { replies, type Address, type SenderRewriter, type SrsReversal } from '../../core/index.js';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const DAY = 86_400_000;
const HASH_LEN = 4;
const PERIOD = 1024;

export interface SrsSettings {
  /** the secrets: the first makes new addresses, every one is accepted when reversing (rotation) */
  readonly secrets: readonly string[];
  /** the domain of the rewritten addresses (one of ours: bounces must come back here) */
  readonly domain: string;
  /** days a rewritten address stays valid for bounces */
  readonly maxAgeDays: number;
  /** senders in these domains are not rewritten: our own SPF already covers them */
  readonly keepDomains: readonly string[];
  readonly now?: () => number;
}

export class Srs implements SenderRewriter {
  private readonly domain: string;
  private readonly keep: ReadonlySet<string>;
  private readonly now: () => number;

  constructor(private readonly s: SrsSettings) {
    if (s.secrets.length === 0) throw new RangeError('SRS needs a secret');
    this.domain = s.domain.toLowerCase();
    this.keep = new Set(s.keepDomains.map((d) => d.toLowerCase()));
    this.now = s.now ?? Date.now;
  }

  /** The reverse-path for a message forwarded to a remote address (RFC 5321 §3.9 forwarding). */
  forward(sender: Address): Address {
    if (this.keep.has(sender.domain.toLowerCase())) return sender;
    const local = sender.local;
    const tag = local.slice(0, 5).toUpperCase();
    if (tag === 'SRS0=' || tag === 'SRS0-' || tag === 'SRS0+') {
      // SRS1: remember the first forwarder (the SRS0 address's domain) and keep its SRS0 part
      const rest = local.slice(4);
      return { local: `SRS1=${this.hash(0, sender.domain, rest)}=${sender.domain}=${rest}`, domain: this.domain };
    }
    if (tag === 'SRS1=' || tag === 'SRS1-' || tag === 'SRS1+') {
      // already SRS1: re-sign the same first hop and SRS0 part with our hash and domain
      const m = /^SRS1[=+-][^=]+=([^=]+)=(.*)$/is.exec(local);
      if (m) return { local: `SRS1=${this.hash(0, m[1], m[2])}=${m[1]}=${m[2]}`, domain: this.domain };
    }
    const tt = timestamp(this.now());
    return { local: `SRS0=${this.hash(0, tt, sender.domain, local)}=${tt}=${sender.domain}=${local}`, domain: this.domain };
  }

  /**
   * A recipient in our SRS domain with an SRS local part: the address to send to (the original
   * sender, or the first forwarder's SRS0 address), or a 550 for a bad hash, a bad shape or an
   * expired timestamp. Anything else: undefined (an ordinary recipient).
   */
  reverse(rcpt: Address): SrsReversal | undefined {
    if (rcpt.domain.toLowerCase() !== this.domain) return undefined;
    const tag = rcpt.local.slice(0, 4).toUpperCase();
    if (tag !== 'SRS0' && tag !== 'SRS1') return undefined;
    if (!'=+-'.includes(rcpt.local.charAt(4)) || rcpt.local.length < 5) return { refusal: replies.srsInvalid('bad form') };
    const body = rcpt.local.slice(5);
    if (tag === 'SRS1') {
      const m = /^([^=]+)=([^=]+)=(.*)$/s.exec(body);
      if (!m || m[3] === '') return { refusal: replies.srsInvalid('bad form') };
      if (!this.verify(m[1], m[2], m[3])) return { refusal: replies.srsInvalid('hash') };
      // m[3] is the SRS0 part with its separator ("=HASH=TT=domain=local")
      return { address: { local: `SRS0${m[3]}`, domain: m[2] } };
    }
    const m = /^([^=]+)=([^=]+)=([^=]+)=(.+)$/s.exec(body);
    if (!m) return { refusal: replies.srsInvalid('bad form') };
    const [, h, tt, domain, local] = m;
    if (!this.verify(h, tt, domain, local)) return { refusal: replies.srsInvalid('hash') };
    const age = ageInDays(tt, this.now());
    if (age === undefined) return { refusal: replies.srsInvalid('bad timestamp') };
    if (age > this.s.maxAgeDays) return { refusal: replies.srsInvalid('expired') };
    return { address: { local, domain } };
  }

  /** HMAC-SHA1 over the fields, lower-cased (hops may change case), base64, first 4 characters. */
  private hash(secret: number, ...fields: string[]): string {
    const mac = createHmac('sha1', this.s.secrets[secret]);
    for (const f of fields) mac.update(f.toLowerCase());
    return mac.digest('base64').slice(0, HASH_LEN);
  }

  private verify(given: string, ...fields: string[]): boolean {
    const g = Buffer.from(given.toLowerCase());
    for (let i = 0; i < this.s.secrets.length; i++) {
      const want = Buffer.from(this.hash(i, ...fields).toLowerCase());
      if (want.length === g.length && timingSafeEqual(want, g)) return true;
    }
    return false;
  }
}

/** Today's day number modulo 1024, as two base32 characters. */
export function timestamp(nowMs: number): string {
  const day = Math.floor(nowMs / DAY) % PERIOD;
  return BASE32[day >> 5] + BASE32[day & 31];
}

/** Days since the timestamp `tt` (modulo 1024: a stamp "from the future" wrapped); undefined when malformed. */
export function ageInDays(tt: string, nowMs: number): number | undefined {
  if (tt.length !== 2) return undefined;
  const hi = BASE32.indexOf(tt[0].toUpperCase());
  const lo = BASE32.indexOf(tt[1].toUpperCase());
  if (hi < 0 || lo < 0) return undefined;
  const then = (hi << 5) | lo;
  const today = Math.floor(nowMs / DAY) % PERIOD;
  return (today - then + PERIOD) % PERIOD;
}
