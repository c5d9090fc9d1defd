/**
 * @module client-counts
 * How many connections each client address holds now: the per-IP connection limit of the
 * SMTP, POP3 and IMAP servers (issue 12 item 6), counted in one place.
 * Standards: none (Postfix's anvil(8) counts the same per client).
 * Security: an entry is removed when its count reaches zero, so the map holds only clients
 *   connected now and cannot grow with addresses that came and went.
 * Limitations: counts one process's connections only.
 */
export class ClientCounts {
  readonly #counts = new Map<string, number>();

  /** Connections `ip` holds now. */
  get(ip: string): number {
    return this.#counts.get(ip) ?? 0;
  }

  /** Counts a new connection from `ip`; returns how many it holds with this one. */
  add(ip: string): number {
    const n = this.get(ip) + 1;
    this.#counts.set(ip, n);
    return n;
  }

  /** A connection from `ip` ended. */
  remove(ip: string): void {
    const n = this.get(ip) - 1;
    if (n <= 0) this.#counts.delete(ip);
    else this.#counts.set(ip, n);
  }
}
