/**
 * @module quota
 * Mailbox quotas: the limits of a user (their own, else the configured default), the usage of
 * their mailbox, and the one rule that decides whether a message may be added. Delivery (the
 * local transport), RCPT (SMTP, LMTP), LMTP after the data, and IMAP APPEND/COPY ask a
 * QuotaGate; docs/quota.md says what each answers.
 * Standards: RFC 9208 §5.1 (STORAGE and MESSAGE resources); RFC 3463 X.2.2 (mailbox full).
 * Security: none (arithmetic on numbers the directory and the store give).
 * Limitations: one quota root per user: INBOX and every folder together.
 */

/** Limits in octets and messages; 0 is no limit. */
export interface QuotaLimit {
  readonly storage: number;
  readonly messages: number;
}

/** What a mailbox holds: octets (as stored) and messages. */
export interface QuotaUsage {
  readonly storage: number;
  readonly messages: number;
}

export interface QuotaReport {
  readonly limit: QuotaLimit;
  readonly usage: QuotaUsage;
}

/**
 * The answer for adding messages: 'ok'; 'full' (over a limit now: may fit after the user deletes
 * mail, a persistent transient failure, RFC 3463 X.2.2); 'too-big' (larger than the storage
 * limit itself: can never fit).
 */
export type QuotaVerdict = 'ok' | 'full' | 'too-big';

/** The rule: adding `size` octets in `count` messages to `usage` under `limit`. */
export function quotaVerdict(limit: QuotaLimit, usage: QuotaUsage, size: number, count = 1): QuotaVerdict {
  if (limit.storage > 0 && size > limit.storage) return 'too-big';
  if (limit.storage > 0 && usage.storage + size > limit.storage) return 'full';
  if (limit.messages > 0 && usage.messages + count > limit.messages) return 'full';
  return 'ok';
}

/** Whether a limit limits anything (both 0: nothing to count). */
export function hasQuota(limit: QuotaLimit): boolean {
  return limit.storage > 0 || limit.messages > 0;
}

/** What the servers and the local transport ask (mailbox/mailbox-quota.ts implements it). */
export interface QuotaGate {
  /** the user's limits and the mailbox's usage */
  report(user: string): Promise<QuotaReport>;
  /**
   * may `count` messages of `size` octets in all be added to the user's mailbox? `owner`: the
   * user's own limits as the caller just read them from the directory (its user record's
   * `quota`, undefined when none): the gate then looks nobody up again
   */
  check(user: string, size: number, count?: number, owner?: { readonly quota?: Partial<QuotaLimit> }): Promise<QuotaVerdict>;
  /**
   * check's answer without a promise when it is known without a lookup or a look at the mailbox
   * (optional: nobody is limited); undefined when only check can tell.
   */
  checkNow?(user: string, size: number, count?: number): QuotaVerdict | undefined;
}
