/**
 * @module session-types
 * What the parts of an SMTP session share: the server's context for a session, and the signal
 * that unwinds a session that is over.
 * Standards: RFC 5321 §4.5.3 (the limits and timeouts the context carries).
 * Security: none of its own. Limitations: none.
 */
import type { SecureContext } from 'node:tls';
import type { Intake } from '../../core/intake.js';
import type { ListenMode } from '../../core/policy.js';
import type { CidrList } from '../../address/index.js';
import type { StagePolicy } from '../../policy/index.js';
import type { AuthThrottle } from '../../policy/auth-throttle.js';

/** What a session needs from its server (resolved options and shared per-IP state). */
export interface SessionContext {
  readonly intake: Intake;
  readonly hostname: string;
  readonly mode: ListenMode;
  readonly maxMessageSize: number;
  readonly maxRecipients: number;
  readonly commandTimeoutMs: number;
  readonly dataTimeoutMs: number;
  /**
   * octets per second a DATA body or BDAT chunk must keep up beyond dataTimeoutMs: the whole
   * transfer must end within dataTimeoutMs + size / minDataRate seconds
   */
  readonly minDataRate: number;
  readonly maxErrors: number;
  readonly trusted: CidrList;
  /**
   * the client came through a UNIX-domain socket listener: a local process that the socket
   * file's permissions let in, trusted as a trusted network's client is (it may relay)
   */
  readonly localSocket?: boolean;
  readonly secureContext?: SecureContext;
  readonly authenticate?: (user: string, password: string) => Promise<boolean>;
  readonly authRequired: boolean;
  readonly allowPlainAuthWithoutTls: boolean;
  /**
   * this listener's checks per stage (policy/); absent: the defaults for `mode` built from the
   * limits above (the sendmail -bs face)
   */
  readonly policy?: StagePolicy;
  readonly authFailureDelayMs: number;
  /** the authentication throttle shared with the other protocols (per address and account) */
  readonly authThrottle: AuthThrottle;
}

/** Thrown to unwind a session that is over; never reaches the caller of run(). */
export class CloseSession extends Error {}
// one instance serves every session: a stack trace captured at each QUIT cost ~2 % under load
export const closeSession = new CloseSession('session closed');

