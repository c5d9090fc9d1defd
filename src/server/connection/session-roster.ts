/**
 * @module session-roster
 * The sessions a mailbox-access server (POP3, IMAP) holds now: a new connection is let in only
 * within the limits in total and per client address, each session's slot is given back when it
 * closes, and a stop ends them all. One place for what pop3-server and imap-server each wrote.
 * Standards: none (the refusal is the protocol's: RFC 1939 "-ERR [SYS/TEMP]", RFC 9051 §7.1.5
 *   "* BYE [UNAVAILABLE]").
 * Security: one client address may not take every slot (issue 12 item 6); both limits answer
 *   the same, before any session exists; a stopping server lets no one in.
 * Limitations: counts one process's connections (ClientCounts).
 */
import type { Socket } from 'node:net';
import { LiveList } from '../../util/index.js';
import { ClientCounts } from './client-counts.js';
import { normalizeIp } from './peer-address.js';

/** What the roster needs of a session: a promise settled when it has closed. */
export interface RosterSession {
  readonly closed: Promise<unknown>;
}

export class SessionRoster<S extends RosterSession & object> {
  /** not a Set: util/live-list.ts says why (issue 11) */
  readonly #sessions = new LiveList<S>();
  readonly #perIp = new ClientCounts();
  readonly #maxTotal: number;
  readonly #maxPerIp: number;
  /** let in by admit, not yet added nor released (IMAP's session code may still be loading) */
  #pending = 0;
  #closing = false;

  constructor(maxTotal: number, maxPerIp: number) {
    this.#maxTotal = maxTotal;
    this.#maxPerIp = maxPerIp;
  }

  /** Sessions open now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Whether close() has begun. */
  get closing(): boolean {
    return this.#closing;
  }

  /**
   * A new connection: its client address, with a slot taken for it (in total and for the
   * address; then one add() or one release()); or undefined when the roster is closing (the
   * socket destroyed) or full (the socket ended with `refusal`). A slot admitted but not yet
   * added (IMAP's session code loading) counts against the total too.
   */
  admit(socket: Socket, refusal: string): string | undefined {
    socket.on('error', () => socket.destroy());
    if (this.#closing) {
      socket.destroy();
      return undefined;
    }
    const ip = normalizeIp(socket.remoteAddress);
    if (this.#sessions.size + this.#pending >= this.#maxTotal || this.#perIp.get(ip) >= this.#maxPerIp) {
      socket.end(refusal);
      return undefined;
    }
    this.#perIp.add(ip);
    this.#pending++;
    return ip;
  }

  /** Gives back the slot admit took for `ip` when its session will not start. */
  release(ip: string): void {
    this.#pending--;
    this.#perIp.remove(ip);
  }

  /** Files a started session of `ip`; its slot is given back when it closes. */
  add(session: S, ip: string): void {
    this.#pending--;
    const entry = this.#sessions.add(session);
    void session.closed.then(() => {
      this.#sessions.delete(entry);
      this.#perIp.remove(ip);
    });
  }

  /** Lets no one in any more, ends every session with `end`, and resolves once all have closed. */
  async close(end: (session: S) => void): Promise<void> {
    this.#closing = true;
    const sessions = [...this.#sessions];
    for (const s of sessions) end(s);
    await Promise.all(sessions.map((s) => s.closed));
  }
}
