/**
 * @module auth-throttle
 * One authentication-failure throttle for every login path (SMTP AUTH, POP3 USER/PASS and
 * AUTH, IMAP LOGIN and AUTHENTICATE, HTTP's login (POST /api/session) and Basic), counting per
 * client address and per account.
 * Standards: RFC 4954 §9 and RFC 5034 §7 (servers should limit failed authentication attempts).
 * Security: an attempt is counted BEFORE the password is checked (reserve, then fail or
 *   succeed), so many concurrent attempts from one address cannot all be checked before the
 *   block applies: at most `maxFailuresPerAddress` are ever in flight or failed in a window.
 *   A check beyond the attempts in flight waits for one of them to end (it is refused only
 *   when the failures alone reach the limit), so one client's concurrent right logins (many
 *   submission sessions, a webmail) are all let in, at most the limit verified at a time. A
 *   check waits at most MAX_LOGIN_WAIT_MS (then `busy`: each protocol answers a temporary
 *   failure), so a login behind checks that hang (a directory that does not answer) ends.
 *   Per account too, so guessing one account's password from many addresses is stopped after
 *   `maxFailuresPerAccount` failures in a window. IPv6 clients are counted per /64 (one host
 *   usually holds a whole /64). Both maps are bounded (oldest entries dropped first).
 * Limitations: in memory, per process (processes share failures through `onFailure` and
 *   `recordFailure`; attempts in flight in another process are not counted); the window is
 *   fixed from the first failure (not sliding). A per-account block is a lockout an attacker can cause: the account's owner is
 *   refused (temporarily, until the window ends) like everyone else.
 */

import { ipv6Groups, unmapIpv4 } from '../address/index.js';

export interface AuthThrottleOptions {
  /** failures (plus attempts in flight) per client address within the window. Default 5. */
  readonly maxFailuresPerAddress?: number;
  /** failures (plus attempts in flight) per account within the window. Default 10. */
  readonly maxFailuresPerAccount?: number;
  /** ms from an address's or account's first failure until its count starts again. Default 15 min. */
  readonly windowMs?: number;
  /** entries kept per map before the oldest are dropped. Default 100000. */
  readonly maxEntries?: number;
  /** the clock (ms), for tests */
  readonly now?: () => number;
  /** told of each failure counted here (not of those recorded from elsewhere), to share it */
  readonly onFailure?: (address: string, account: string) => void;
  /** ms a check waits behind attempts in flight before it is `busy`. Default MAX_LOGIN_WAIT_MS (tests shorten it). */
  readonly maxWaitMs?: number;
}

/**
 * How long a login waits behind the attempts in flight from its address or for its account
 * before it is answered with a temporary failure (LoginVerdict `busy`): a password check
 * takes milliseconds, so 30 s is only reached when checks hang (the directory does not answer)
 * or a client floods one address with logins; the client's own timeouts (SMTP's 5 minutes
 * for a reply, RFC 5321 §4.5.3.2) are longer.
 */
export const MAX_LOGIN_WAIT_MS = 30_000;

/** Why an attempt may not be checked. */
export type AuthRefusal = 'address' | 'account';

/** One attempt counted before its check: end it exactly once. */
export interface AuthAttempt {
  /** the password was right (or could not be checked): the attempt no longer counts */
  release(): void;
  /** the password was wrong: the attempt stays counted; true when the address is now blocked */
  failed(): boolean;
}

/** How one password check ended, as every protocol sees it. */
export type LoginVerdict =
  | { readonly kind: 'ok' }
  /** a wrong password, counted; `blocked`: the address is now refused */
  | { readonly kind: 'failed'; readonly blocked: boolean }
  /** not checked: the address or the account is at its limit */
  | { readonly kind: 'refused'; readonly why: AuthRefusal }
  /** the check itself failed (directory down): not counted, a temporary failure */
  | { readonly kind: 'error'; readonly error: unknown }
  /** not checked: waited MAX_LOGIN_WAIT_MS behind the attempts in flight; not counted, a temporary failure */
  | { readonly kind: 'busy' };

interface Count {
  failures: number;
  pending: number;
  since: number;
}

export class AuthThrottle {
  private readonly byAddress = new Map<string, Count>();
  private readonly byAccount = new Map<string, Count>();
  private readonly maxAddress: number;
  private readonly maxAccount: number;
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly onFailure: ((address: string, account: string) => void) | undefined;
  private readonly maxWaitMs: number;
  /** check() calls waiting for an attempt in flight to end */
  private waiters: (() => void)[] = [];

  constructor(options: AuthThrottleOptions = {}) {
    this.maxAddress = options.maxFailuresPerAddress ?? 5;
    this.maxAccount = options.maxFailuresPerAccount ?? 10;
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.maxEntries = options.maxEntries ?? 100_000;
    this.now = options.now ?? Date.now;
    this.onFailure = options.onFailure;
    this.maxWaitMs = options.maxWaitMs ?? MAX_LOGIN_WAIT_MS;
  }

  /** True when attempts from this address are refused now, by its failures (checked before any exchange). */
  addressBlocked(address: string): boolean {
    // failures only: attempts in flight may all succeed (one client's concurrent logins);
    // check() makes an attempt beyond them wait for their outcome
    const c = this.current(this.byAddress, addressKey(address));
    return c !== undefined && c.failures >= this.maxAddress;
  }

  /**
   * Counts an attempt for `address` and `account` before its password is checked; refuses it
   * (and counts nothing) when either is at its limit.
   */
  reserve(address: string, account: string): AuthAttempt | AuthRefusal {
    const ak = addressKey(address);
    const uk = account.toLowerCase();
    const a = this.current(this.byAddress, ak);
    if (a && a.failures + a.pending >= this.maxAddress) return 'address';
    const u = this.current(this.byAccount, uk);
    if (u && u.failures + u.pending >= this.maxAccount) return 'account';
    const ca = a ?? this.add(this.byAddress, ak);
    const cu = u ?? this.add(this.byAccount, uk);
    ca.pending++;
    cu.pending++;
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        ca.pending--;
        cu.pending--;
        this.wake();
      },
      failed: () => {
        if (!done) {
          done = true;
          ca.pending--;
          cu.pending--;
          ca.failures++;
          cu.failures++;
          this.onFailure?.(address, account);
          this.wake();
        }
        return ca.failures + ca.pending >= this.maxAddress;
      },
    };
  }

  /**
   * The one way every login path checks a password: the attempt is counted first, then
   * `verify` runs, then the count is kept (wrong password) or given back (right password, or
   * a check that could not be made).
   */
  async check(address: string, account: string, verify: () => Promise<boolean>): Promise<LoginVerdict> {
    let attempt = this.reserve(address, account);
    // At the limit only by attempts in flight (one client's concurrent logins: a webmail, a
    // NAT, a submission client with many sessions): wait for one to end rather than refuse a
    // right password; refused once the failures alone reach the limit. At most the limit are
    // still in flight or failed at any time. The wait has its own limit: `busy` after it.
    const deadline = this.now() + this.maxWaitMs;
    while (typeof attempt === 'string' && !this.failuresFull(attempt, address, account)) {
      const left = deadline - this.now();
      if (left <= 0 || !(await this.woken(left))) return { kind: 'busy' };
      attempt = this.reserve(address, account);
    }
    if (typeof attempt === 'string') return { kind: 'refused', why: attempt };
    let ok: boolean;
    try {
      ok = await verify();
    } catch (error) {
      attempt.release();
      return { kind: 'error', error };
    }
    if (ok) {
      attempt.release();
      return { kind: 'ok' };
    }
    return { kind: 'failed', blocked: attempt.failed() };
  }

  /** Records a failure that had no password check (e.g. a PLAIN authzid for someone else). */
  fail(address: string, account: string): boolean {
    const r = this.reserve(address, account);
    return typeof r === 'string' ? true : r.failed();
  }

  /**
   * Counts a failure another process's throttle had (`[smtp] processes`: acceptor-pool.ts),
   * so that failures in any process count in all.
   */
  recordFailure(address: string, account: string): void {
    for (const [map, key] of [[this.byAddress, addressKey(address)], [this.byAccount, account.toLowerCase()]] as const) {
      (this.current(map, key) ?? this.add(map, key)).failures++;
    }
  }

  /** whether the limit `why` refused on is reached by failures alone (not by attempts in flight) */
  private failuresFull(why: AuthRefusal, address: string, account: string): boolean {
    const c = why === 'address' ? this.current(this.byAddress, addressKey(address)) : this.current(this.byAccount, account.toLowerCase());
    return c === undefined || c.failures >= (why === 'address' ? this.maxAddress : this.maxAccount);
  }

  /** Resolves true when an attempt in flight ends, false after `ms` (the waiter is then dropped). */
  private woken(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve(false);
      }, ms);
      timer.unref();
      this.waiters.push(wake);
    });
  }

  /** an attempt ended: the waiting ones try again (each reserves anew or waits again) */
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  /** the entry in force, or undefined (an expired one with nothing in flight is dropped) */
  private current(map: Map<string, Count>, key: string): Count | undefined {
    const c = map.get(key);
    if (c && c.pending === 0 && this.now() - c.since > this.windowMs) {
      map.delete(key);
      return undefined;
    }
    return c;
  }

  private add(map: Map<string, Count>, key: string): Count {
    // Bounded memory: drop the oldest entries (Map keeps insertion order). An entry with an
    // attempt in flight is still referenced by its AuthAttempt, so dropping it is harmless.
    if (map.size >= this.maxEntries) {
      const first = map.keys().next();
      if (!first.done) map.delete(first.value);
    }
    const c: Count = { failures: 0, pending: 0, since: this.now() };
    map.set(key, c);
    return c;
  }
}

/** IPv4 as is ("::ffff:" removed); IPv6 by its /64 prefix. */
export function addressKey(ip: string): string {
  const a = unmapIpv4(ip);
  if (!a.includes(':')) return a;
  return `${ipv6Groups(a).slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}
