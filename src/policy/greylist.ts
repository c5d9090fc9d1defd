/**
 * @module greylist
 * Greylisting on the MX port (optional): the first attempt of an unknown (client network,
 * sender, recipient) triplet is answered 451 4.7.1; a retry after `delay` passes, and the triplet
 * is then remembered for `lifetime` from its last use, so regular correspondents are delayed once.
 * Triplets live in SQLite (`data_dir/greylist.sqlite`), so a restart forgets no one.
 * Standards: RFC 6647 (greylisting: §4.1 the triplet, §4.2 the 4xx reply, §5 a network rather
 *   than a single address, because big senders retry from another host of their pool);
 *   RFC 5321 §4.5.4.1 (clients retry 4xx; at least 30 minutes is the recommended wait, so a
 *   `delay` of minutes is passed by any real MTA), RFC 3463 (4.7.1).
 * Security: clients that may relay and allowlisted clients are never greylisted; the store is
 *   bounded by pruning triplets not seen within their lifetime (unpassed ones after a day). A
 *   storage error lets the message through (fail open: greylisting is a filter, not a gate).
 * Limitations: IPv4 clients are grouped per /24, IPv6 per /64; the sender is compared as
 *   given (no BATV/SRS normalisation); no automatic whitelisting of a network after N passes.
 */
import Database from 'better-sqlite3';
import { unmapIpv4 } from '../address/index.js';
import { addressToString, replies, reversePathToString } from '../core/index.js';
import { addressKey } from './auth-throttle.js';
import type { Check } from './check.js';
import type { RcptFacts } from './checks.js';
import { exempt, type DnsList } from './dns-lists.js';

/** An unpassed triplet is forgotten after this long (the sender gave up). */
const UNPASSED_TTL = 86_400_000;

export interface GreylistSettings {
  /** ms a triplet must wait before a retry passes */
  readonly delay: number;
  /** ms a passed triplet is remembered after its last use */
  readonly lifetime: number;
}

export type GreylistVerdict = { readonly pass: true } | { readonly pass: false; readonly wait: number };

/** The triplet store (RFC 6647 §4.1). */
export class GreylistStore {
  private readonly db: Database.Database;
  private lastPrune = 0;

  constructor(file: string, private readonly now: () => number = Date.now) {
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS triplet (net TEXT NOT NULL, sender TEXT NOT NULL, rcpt TEXT NOT NULL, ' +
        'first INTEGER NOT NULL, last INTEGER NOT NULL, passed INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (net, sender, rcpt)) WITHOUT ROWID',
    );
  }

  /** Looks the triplet up, records this attempt, and says whether it passes (or how long to wait). */
  check(net: string, sender: string, rcpt: string, s: GreylistSettings): GreylistVerdict {
    const t = this.now();
    this.prune(t, s.lifetime);
    const row = this.db.prepare('SELECT first, last, passed FROM triplet WHERE net = ? AND sender = ? AND rcpt = ?').get(net, sender, rcpt) as
      | { first: number; last: number; passed: number }
      | undefined;
    const expired = row !== undefined && t - row.last > (row.passed ? s.lifetime : UNPASSED_TTL);
    if (row === undefined || expired) {
      this.db.prepare('INSERT OR REPLACE INTO triplet (net, sender, rcpt, first, last, passed) VALUES (?, ?, ?, ?, ?, 0)').run(net, sender, rcpt, t, t);
      return { pass: false, wait: s.delay };
    }
    if (row.passed || t - row.first >= s.delay) {
      this.db.prepare('UPDATE triplet SET last = ?, passed = 1 WHERE net = ? AND sender = ? AND rcpt = ?').run(t, net, sender, rcpt);
      return { pass: true };
    }
    this.db.prepare('UPDATE triplet SET last = ? WHERE net = ? AND sender = ? AND rcpt = ?').run(t, net, sender, rcpt);
    return { pass: false, wait: row.first + s.delay - t };
  }

  /** At most once an hour: forget triplets past their lifetime. */
  private prune(t: number, lifetime: number): void {
    if (t - this.lastPrune < 3_600_000) return;
    this.lastPrune = t;
    this.db.prepare('DELETE FROM triplet WHERE (passed = 1 AND last < ?) OR (passed = 0 AND last < ?)').run(t - lifetime, t - UNPASSED_TTL);
  }

  close(): void {
    this.db.close();
  }
}

/** RFC 6647 §5: the client's network, /24 for IPv4 and /64 for IPv6. */
export function greylistNet(ip: string): string {
  const a = unmapIpv4(ip);
  if (a.includes(':')) return addressKey(a);
  const parts = a.split('.');
  return parts.length === 4 ? `${parts.slice(0, 3).join('.')}.0/24` : a;
}

/** `greylisting`: an unknown triplet is answered 451 4.7.1 at RCPT until its delay has passed. */
export function greylisting(store: GreylistStore, s: GreylistSettings, allow?: DnsList): Check<RcptFacts> {
  return {
    name: 'greylisting',
    check: async (f) => {
      if (await exempt(f.session, allow)) return undefined;
      let v: GreylistVerdict;
      try {
        v = store.check(greylistNet(f.session.remoteAddress ?? ''), reversePathToString(f.sender).toLowerCase(), addressToString(f.recipient).toLowerCase(), s);
      } catch {
        return undefined;
      }
      return v.pass ? undefined : replies.greylisted(Math.max(1, Math.ceil(v.wait / 1000)));
    },
  };
}
