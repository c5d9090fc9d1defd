/**
 * @module smtp-session-info
 * What an SMTP session tells intake and the policy checks about itself (core's SessionInfo),
 * with the local address looked up only when it is read: a getsockname(2) per connection that
 * nothing on the accept path reads.
 * A class, so that every session's info shares one hidden class with its getter on the
 * prototype: an object literal with a getter defines the accessor at run time for each object
 * (~0.5 µs each, made two or three times per accepted message).
 * Standards: none (RFC 5321 §4.4 reads these fields for Received).
 * Security: none (a view of the session's own state).
 * Limitations: `localAddress` is a getter of the prototype, not an own field: a spread or
 *   JSON.stringify of the info leaves it out.
 */
import type { SessionInfo } from '../../core/intake.js';

export class SmtpSessionInfo implements SessionInfo {
  readonly protocol: string;
  readonly heloName: string | undefined;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly tls: { protocol: string; cipher: string } | undefined;
  readonly authUser: string | undefined;
  readonly mayRelay: boolean;
  readonly submission: boolean;
  readonly #local: () => string | undefined;

  /** `local` looks the local address up (once: the session keeps it) */
  constructor(f: Omit<SmtpSessionInfo, 'localAddress'>, local: () => string | undefined) {
    this.protocol = f.protocol;
    this.heloName = f.heloName;
    this.remoteAddress = f.remoteAddress;
    this.remotePort = f.remotePort;
    this.tls = f.tls;
    this.authUser = f.authUser;
    this.mayRelay = f.mayRelay;
    this.submission = f.submission;
    this.#local = local;
  }

  get localAddress(): string | undefined {
    return this.#local();
  }
}
