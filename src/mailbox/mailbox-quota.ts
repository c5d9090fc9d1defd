/**
 * @module mailbox-quota
 * The QuotaGate of the server: a user's limits (their own from the directory, else the
 * configured `[quota]` default) against the usage the mailbox store keeps. A user without
 * limits costs no look at the mailbox; while no user has limits of their own (the directory's
 * anyOwnQuota, where it offers it) nobody is looked up either: with no quota configured a
 * check is one SQLite pragma (on PostgreSQL, nothing asked while the serving node's cache is
 * current), not a user row read per RCPT and per delivery, and checkNow gives that answer
 * without a promise (an IMAP APPEND's check); a caller that has
 * just read the user's record (the local transport) passes it and costs no lookup at all.
 * Standards: RFC 9208 §5.1 (resources); RFC 3463 X.2.2.
 * Security: an unknown user has the default limits (the caller decides about unknown users).
 * Limitations: the usage is the store's estimate (maildir-size.ts).
 */
import {
  hasQuota, quotaVerdict,
  type DirectoryLookup, type MailboxStore, type QuotaGate, type QuotaLimit, type QuotaReport, type QuotaVerdict,
} from '../core/index.js';

export interface MailboxQuotaOptions {
  readonly directory: Pick<DirectoryLookup, 'findUser' | 'anyOwnQuota' | 'anyOwnQuotaNow'>;
  readonly mailboxes: Pick<MailboxStore, 'usage'>;
  /** the `[quota]` default, read at each question (a reload changes it) */
  readonly defaults: () => QuotaLimit;
}

export class MailboxQuota implements QuotaGate {
  constructor(private readonly opts: MailboxQuotaOptions) {}

  /**
   * The user's own limits where set, the default otherwise; `owner` is the user's record when the
   * caller has just read it (no lookup then).
   */
  async limitOf(user: string, owner?: { readonly quota?: Partial<QuotaLimit> }): Promise<QuotaLimit> {
    const d = this.opts.defaults();
    const dir = this.opts.directory;
    let own = owner?.quota;
    if (owner === undefined) {
      if (dir.anyOwnQuota && !(await dir.anyOwnQuota())) return d;
      own = (await dir.findUser(user))?.quota;
    }
    return { storage: own?.storage ?? d.storage, messages: own?.messages ?? d.messages };
  }

  async report(user: string): Promise<QuotaReport> {
    const limit = await this.limitOf(user);
    const usage = this.opts.mailboxes.usage ? await this.opts.mailboxes.usage(user, limit) : { storage: 0, messages: 0 };
    return { limit, usage };
  }

  /**
   * check's answer with no promise while nobody is limited (no `[quota]` default, and the
   * directory tells synchronously that no user has limits of their own): 'ok', as check would
   * answer after its awaits (an IMAP APPEND asked it through a chain of eight promises, issue
   * 14); undefined when a limit may apply (check then looks).
   */
  checkNow(): QuotaVerdict | undefined {
    // no usage kept: check answers 'ok' to everyone
    if (!this.opts.mailboxes.usage) return 'ok';
    // the default limits are everyone's and limit nothing
    if (!hasQuota(this.opts.defaults()) && this.opts.directory.anyOwnQuotaNow?.() === false) return 'ok';
    return undefined;
  }

  async check(user: string, size: number, count = 1, owner?: { readonly quota?: Partial<QuotaLimit> }): Promise<QuotaVerdict> {
    const limit = await this.limitOf(user, owner);
    if (!hasQuota(limit) || !this.opts.mailboxes.usage) return 'ok';
    return quotaVerdict(limit, await this.opts.mailboxes.usage(user, limit), size, count);
  }
}
