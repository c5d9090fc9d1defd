/**
 * @module resolver
 * Expansion of one recipient into typed targets (mailbox, remote, pipe, file, error).
 * Standards: seed §2 and §2.1 (aliases, lists, loops); RFC 5321 §3.9 (aliases and lists).
 * Security: expansion is bounded (depth, count); a cycle yields an error target, never a loop.
 * Limitations: none.
 */
import type { Address, ReversePath } from './address.js';
import type { Route } from './envelope.js';
import { formatReply, type SmtpReply } from './smtp-reply.js';

interface Target {
  /** the address as first given (RCPT), for DSN Original-Recipient */
  readonly original: Address;
  /** the chain of names followed to reach this target, outermost first */
  readonly via: readonly string[];
}

/**
 * Who runs a pipe or appends to a file named by an `:include:` file: the file's owner, never
 * root (resolve's include-policy). Absent for the operator's aliases (the transport's default).
 */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

/** What a target is, without where it came from. */
export type TargetBody =
  | { kind: 'mailbox'; user: string; address: Address; detail?: string }
  | { kind: 'remote'; address: Address; route?: Route }
  | { kind: 'pipe'; command: string[]; runAs?: RunAs }
  | { kind: 'file'; path: string; runAs?: RunAs }
  | { kind: 'list'; list: string; owner: string; members: readonly string[] }
  /** an application's HTTP endpoint (alias target "webhook:https://…", the webhook transport) */
  | { kind: 'webhook'; url: string }
  | { kind: 'error'; reply: SmtpReply };

export type ResolvedRecipient = Target & TargetBody;

/** What the expansion may depend on besides the address. Relay rights are the SMTP policy's (policy/ relay-control), not the resolver's. */
export interface Trace {
  readonly sender: ReversePath;
}

export interface Resolver {
  /**
   * Resolves a recipient. Throws MailError for temporary failures (4xx).
   * A local address that does not exist resolves to an error target (550 5.1.1).
   */
  resolve(rcpt: Address, trace: Trace): Promise<ResolvedRecipient[]>;
}

/**
 * The route a target travels: the one mapping from resolved targets to transports, used by
 * intake (envelopes), `correio resolve` and `sendmail -bv` (display). A remote address without a
 * static route goes to its domain's MX (RFC 5321 §5.1).
 */
export function targetRoute(t: TargetBody): Route {
  switch (t.kind) {
    case 'mailbox':
      return { transport: 'local', nextHop: t.user };
    case 'remote':
      return t.route ?? { transport: 'smtp', nextHop: t.address.domain };
    // with an identity, the next hop is a JSON object {command|path, uid, gid} (transports parse it)
    case 'pipe':
      return { transport: 'pipe', nextHop: JSON.stringify(t.runAs ? { command: t.command, uid: t.runAs.uid, gid: t.runAs.gid } : t.command) };
    case 'file':
      return { transport: 'file', nextHop: t.runAs ? JSON.stringify({ path: t.path, uid: t.runAs.uid, gid: t.runAs.gid }) : t.path };
    case 'list':
      return { transport: 'list', nextHop: t.list };
    case 'webhook':
      return { transport: 'webhook', nextHop: t.url };
    case 'error':
      return { transport: 'error', nextHop: formatReply(t.reply) };
  }
}
