/**
 * @module mailbox-verifier
 * The VRFY and EXPN answers, from the directory and the resolver (the same expansion RCPT
 * uses). Who gets an answer at all is the policy's `known-clients-only` check (checks.ts):
 * strangers never reach these.
 * Standards: RFC 5321 §3.5 (VRFY and EXPN: 250 with the mailbox or the members, 550 for an
 *   unknown name, 252 when the server will not verify), §7.3 (they may be disabled: they help
 *   harvesters), RFC 3463 (2.1.5 destination valid, 5.1.1 bad mailbox).
 * Security: pipe and file targets of aliases are never shown. Directory failures pass through
 *   as 4xx (never "no such user"). The session passed to vrfy/expn is not consulted: the gate
 *   is the policy's.
 * Limitations: non-local addresses are not verified (252); EXPN shows one level of a list (its
 *   members as stored) and the final addresses of an alias.
 */
import {
  MailError,
  addressToString,
  replies,
  type Address,
  type DirectoryLookup,
  type ResolvedRecipient,
  type Resolver,
  type SessionInfo,
  type SmtpReply,
} from '../core/index.js';
import { isDotString, parseMailbox } from '../address/index.js';

export interface MailboxVerifierOptions {
  readonly directory: DirectoryLookup;
  readonly resolver: Resolver;
  /** the domain a bare user name ("VRFY suzana") belongs to: the primary local domain */
  readonly primaryDomain: string;
}

export class MailboxVerifier {
  constructor(private readonly opts: MailboxVerifierOptions) {}

  /** RFC 5321 §3.5.1: confirms a local mailbox (250 <address>) or names the error (550 5.1.1). */
  async vrfy(_session: SessionInfo, argument: string): Promise<SmtpReply> {
    const addr = this.parse(argument);
    if (!(await this.opts.directory.isLocalDomain(addr.domain))) return replies.cannotVerify();
    const user = await this.opts.directory.findUser(addr);
    if (user) return replies.verified(user.address);
    const targets = await this.opts.resolver.resolve(addr, { sender: null });
    const usable = targets.filter((t) => t.kind !== 'error');
    if (usable.length === 0) return firstError(targets);
    const only = usable.length === 1 ? usable[0] : undefined;
    // An alias (or role, or user+tag) that ends in one mailbox: that mailbox (RFC 5321 §3.5.1).
    if (only?.kind === 'mailbox') return replies.verified(only.user);
    // A list or a one-to-many alias: mail so addressed is delivered, so the name is confirmed.
    return replies.verified(addressToString(addr));
  }

  /** RFC 5321 §3.5.2: a list's members, or an alias's final addresses, one per line. */
  async expn(_session: SessionInfo, argument: string): Promise<SmtpReply> {
    const addr = this.parse(argument);
    if (!(await this.opts.directory.isLocalDomain(addr.domain))) return replies.cannotVerify();
    const targets = await this.opts.resolver.resolve(addr, { sender: null });
    const usable = targets.filter((t) => t.kind !== 'error');
    if (usable.length === 0) return firstError(targets);
    const only = usable.length === 1 ? usable[0] : undefined;
    if (only?.kind === 'list') return replies.expansion(only.members);
    const shown: string[] = [];
    for (const t of usable) {
      if (t.kind === 'mailbox') shown.push(t.user);
      else if (t.kind === 'remote') shown.push(addressToString(t.address));
      else if (t.kind === 'list') shown.push(t.list);
      // pipes and files: operator configuration, never shown
    }
    return replies.expansion(shown.length > 0 ? shown : [addressToString(addr)]);
  }

  /** "<a@b>", "a@b" or a bare user name (RFC 5321 §3.5.3); 501 5.1.3 otherwise. */
  private parse(argument: string): Address {
    const text = argument.trim().replace(/^<(.*)>$/, '$1');
    try {
      if (!text.includes('@') && isDotString(text, true)) return { local: text, domain: this.opts.primaryDomain.toLowerCase() };
      return parseMailbox(text, { smtpUtf8: true });
    } catch {
      throw new MailError(replies.badRecipientSyntax(), 'MAIL_ERR_RECIPIENT_SYNTAX');
    }
  }
}

function firstError(targets: readonly ResolvedRecipient[]): SmtpReply {
  for (const t of targets) if (t.kind === 'error') return t.reply;
  return replies.noSuchUser();
}
