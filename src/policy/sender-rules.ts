/**
 * @module sender-rules
 * Who may send as which address — the one place this rule is written. A session authenticated
 * by SMTP AUTH, on any port (submission, or the MX port when `smtp.auth_on_mx` is on), may use
 * as envelope sender and in From only addresses it owns: the login itself, or an alias, list or
 * role that names the user (DirectorySenderOwnership).
 * Standards: RFC 6409 §6.1 (the MSA checks the sender against the authenticated identity), §8
 *   (the MSA may enforce rules on the header); RFC 3848 (ESMTPA/ESMTPSA: the session was
 *   authenticated); RFC 5322 §3.6.2 (From), §3.4 (mailbox, group).
 * Security:
 *   - MAIL FROM: a non-null sender must be owned (553 5.7.1).
 *   - From: every mailbox of every From field must be owned; a From with no mailbox, or one that
 *     does not parse, is refused (553 5.7.1). Every address written in the display text of From
 *     (display name, comment, encoded word) must be owned as well: `"bob@x" <alice@x>` is
 *     refused for alice, `"alice@x" <alice@x>` is not.
 *   - the null sender `MAIL FROM:<>` needs a From the user owns (550 5.7.1): otherwise nothing
 *     in the message would say who sent it.
 *   - a header block that did not end within intake's cap is refused (552 5.3.4): a From past
 *     the cap would go unchecked.
 * Limitations: Sender, Reply-To and Resent-From are not checked (RFC 6409 §8.1 leaves them to
 *   the user); the sendmail face ("local") and its `-bs` dialogue carry a login name, not an
 *   SMTP AUTH identity, and a local user may set any sender (as sendmail's trusted users do).
 */
import {
  replies,
  type Address,
  type DirectoryLookup,
  type MessageHeader,
  type ReversePath,
  type SenderOwnership,
  type SessionInfo,
  type SmtpReply,
} from '../core/index.js';
import { parseAddrSpec } from '../address/index.js';
import { addressesInDisplayText, fromAddresses } from './from-addresses.js';

/**
 * Whether the sender rules bind a session: an SMTP AUTH identity (RFC 3848: ESMTPA, ESMTPSA),
 * whatever the port, or an authenticated web caller (HTTPA, HTTPSA: web/submission-api.ts, and
 * JMAP EmailSubmission through app/message-submitter.ts).
 */
export function senderRulesApply(session: SessionInfo): boolean {
  return session.authUser !== undefined && /^(ESMTPS?A|HTTPS?A)$/.test(session.protocol);
}

export class SenderRules {
  constructor(private readonly ownership: SenderOwnership) {}

  /** MAIL FROM (RFC 6409 §6.1): a refusal, or undefined. */
  async envelope(session: SessionInfo, sender: ReversePath): Promise<SmtpReply | undefined> {
    if (!senderRulesApply(session) || sender === null) return undefined;
    return (await this.ownership.mayUse(session.authUser!, sender)) ? undefined : replies.senderNotOwned();
  }

  /** The From fields at the end of data (RFC 6409 §6.1, §8): a refusal, or undefined. */
  async header(session: SessionInfo, sender: ReversePath, header: MessageHeader): Promise<SmtpReply | undefined> {
    if (!senderRulesApply(session)) return undefined;
    if (!header.complete) return replies.headerTooBig();
    const user = session.authUser!;
    let froms = 0;
    for (const f of header.fields) {
      if (f.name !== 'from') continue;
      froms++;
      const addresses = fromAddresses(f.value);
      if (addresses.length === 0) return replies.senderNotOwned();
      for (const a of addresses) {
        if (a === undefined || !(await this.ownership.mayUse(user, a))) return replies.senderNotOwned();
      }
      for (const text of addressesInDisplayText(f.value)) {
        if (!(await this.mayUseText(user, text))) return replies.senderNotOwned();
      }
    }
    // RFC 6409 §8: with the null sender only From says who sent the message
    if (sender === null && froms === 0) return replies.fromHeaderRequired();
    return undefined;
  }

  private async mayUseText(user: string, text: string): Promise<boolean> {
    let a: Address;
    try {
      a = parseAddrSpec(text);
    } catch {
      return false; // looks like an address, cannot be shown to be the user's
    }
    return this.ownership.mayUse(user, a);
  }
}

/**
 * RFC 6409 §6.1: a user may send as their own address, or as an alias that points at them, a
 * list they own or a role they hold.
 */
export class DirectorySenderOwnership implements SenderOwnership {
  constructor(private readonly directory: Pick<DirectoryLookup, 'findAlias' | 'findList' | 'findRole'>) {}

  async mayUse(authUser: string, sender: Address): Promise<boolean> {
    const user = authUser.toLowerCase();
    const addr = `${sender.local}@${sender.domain}`.toLowerCase();
    if (addr === user) return true;
    const alias = await this.directory.findAlias(addr);
    if (alias && alias.targets.some((t) => t.toLowerCase() === user)) return true;
    const list = await this.directory.findList(addr);
    if (list && list.owner.toLowerCase() === user) return true;
    const role = await this.directory.findRole(addr);
    return role !== undefined && role.holder.toLowerCase() === user;
  }
}
