/**
 * @module resolver
 * Expansion of one recipient into typed targets (mailbox, remote, pipe, file, error).
 * Standards: seed §2 and §2.1 (aliases, lists, loops); RFC 5321 §3.9 (aliases and lists).
 * Security: expansion is bounded (depth, count); a cycle yields an error target, never a loop.
 * Limitations: none.
 */
import type { Address, ReversePath } from './address.js';
import type { SmtpReply } from './smtp-reply.js';

interface Target {
  /** the address as first given (RCPT), for DSN Original-Recipient */
  readonly original: Address;
  /** the chain of names followed to reach this target, outermost first */
  readonly via: readonly string[];
}

export type ResolvedRecipient = Target &
  (
    | { kind: 'mailbox'; user: string; address: Address; detail?: string }
    | { kind: 'remote'; address: Address; route?: string }
    | { kind: 'pipe'; command: string[] }
    | { kind: 'file'; path: string }
    | { kind: 'list'; list: string; owner: string; members: readonly string[] }
    | { kind: 'error'; reply: SmtpReply }
  );

export interface Trace {
  readonly sender: ReversePath;
  /** whether the session is trusted (trusted network or authenticated): may relay */
  readonly mayRelay: boolean;
}

export interface Resolver {
  /**
   * Resolves a recipient. Throws MailError for temporary failures (4xx).
   * A local address that does not exist resolves to an error target (550 5.1.1).
   */
  resolve(rcpt: Address, trace: Trace): Promise<ResolvedRecipient[]>;
}
