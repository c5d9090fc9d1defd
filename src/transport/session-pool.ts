/**
 * @module session-pool
 * The SMTP transport's kept sessions: after a delivery a session may wait (30 s by default) for
 * the next message to the same route, as many per route as deliveries may run to it at once.
 * Standards: RFC 5321 §4.1.1.4 (after the reply to the final "." the session is reset),
 *   RFC 2920 §3.1 (a session left open is reset in the same write as the next transaction).
 * Security: a kept session is never used for a domain under an MTA-STS policy (the caller asks
 *   for none then); a session the server closed while idle is dropped, never reused.
 * Limitations: per process; a session opened before a host published TLSA records carries
 *   without DANE the messages it is reused for (up to maxMessages, each within idleMs of the
 *   last, for up to maxAgeMs).
 */
import type { SmtpClient } from '../client/index.js';

export interface Pooled {
  client: SmtpClient;
  host: string;
  ip: string;
  /** its idle timer, made at its first check-in and restarted (refresh()) at the next ones */
  timer?: NodeJS.Timeout;
  /** whether it waits in the pool (the timer firing while it is out does nothing) */
  idle?: boolean;
  /** when it was first checked in (Date.now()): its age is counted from there */
  since?: number;
}

/**
 * Idle sessions kept per route: how long (default 30 s, 0 = no reuse), for how many messages
 * (default 1,000: a new session costs a connection, a greeting, EHLO and QUIT, and STARTTLS's
 * handshake where offered; Exim's connection_max_messages is 500, Postfix's smtp client sets no
 * count), for how long after its first message (default 300 s, Postfix's
 * smtp_connection_reuse_time_limit: a session opened before a host published TLSA records
 * is not carried on for hours), how many per route (default 20; match
 * the per-route delivery concurrency, at most 100) and how many in all (default 500).
 */
export interface ReuseOptions {
  idleMs?: number;
  maxMessages?: number;
  maxAgeMs?: number;
  maxIdlePerRoute?: number;
  maxIdle?: number;
}

export class SessionPool {
  private readonly pool = new Map<string, Pooled[]>();
  /** idle sessions in the pool, all routes */
  private idle = 0;
  private closed = false;

  constructor(private readonly reuse: ReuseOptions = {}) {}

  /** QUITs every kept session; sessions checked in afterwards are QUIT too. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pool.values()].flat();
    this.pool.clear();
    this.idle = 0;
    await Promise.all(
      all.map(async (p) => {
        clearTimeout(p.timer);
        p.idle = false;
        await p.client.quit();
      }),
    );
  }

  /**
   * The most recently used idle session of a route. No RSET to probe it: after a completed
   * transaction the session is already reset (RFC 5321 §4.1.1.4), and one left open is reset
   * by the client in the same write as the next transaction (RFC 2920 §3.1). A session the
   * server closed while idle is seen as unusable here; one that fails on its first command
   * makes deliver() go on to a new connection (nothing was decided on it).
   */
  checkout(key: string, signal: AbortSignal): Pooled | undefined {
    const list = this.pool.get(key);
    while (list && list.length > 0) {
      const p = list.pop() as Pooled;
      this.idle--;
      p.idle = false;
      if (list.length === 0) this.pool.delete(key);
      if (p.client.usable && !signal.aborted) return p;
      p.client.close();
    }
    return undefined;
  }

  checkin(key: string, p: Pooled): void {
    const reuse = this.reuse;
    const idleMs = reuse.idleMs ?? 30_000;
    const maxMessages = reuse.maxMessages ?? 1000;
    const now = Date.now();
    p.since ??= now;
    // one idle session per delivery that may run at once to the route, within a sane bound
    const perRoute = Math.min(100, Math.max(0, Math.floor(reuse.maxIdlePerRoute ?? 20)));
    const total = Math.max(0, Math.floor(reuse.maxIdle ?? 500));
    p.client.bindSignal(undefined);
    const list = this.pool.get(key) ?? [];
    if (this.closed || idleMs <= 0 || !p.client.usable || p.client.transactions >= maxMessages || now - p.since >= (reuse.maxAgeMs ?? 300_000) || list.length >= perRoute || this.idle >= total) {
      clearTimeout(p.timer);
      void p.client.quit();
      return;
    }
    list.push(p);
    this.pool.set(key, list);
    this.idle++;
    p.idle = true;
    // one timer per session, restarted at each check-in, rather than one made and cleared per message
    if (p.timer) p.timer.refresh();
    else p.timer = setTimeout(() => this.expire(key, p), idleMs).unref();
  }

  /** A session idle for the whole idle time is QUIT (one that is out, delivering, is left alone). */
  private expire(key: string, p: Pooled): void {
    if (!p.idle) return;
    p.idle = false;
    const l = this.pool.get(key);
    const i = l?.indexOf(p) ?? -1;
    if (l && i >= 0) {
      l.splice(i, 1);
      this.idle--;
    }
    if (l && l.length === 0) this.pool.delete(key);
    void p.client.quit();
  }
}
