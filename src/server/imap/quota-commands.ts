/**
 * @module quota-commands
 * The IMAP QUOTA extension over the server's QuotaGate: one quota root per user, named "",
 * governing INBOX and every other mailbox of the user, with the STORAGE (units of 1024 octets)
 * and MESSAGE resources that have a limit; and the OVERQUOTA refusal of APPEND and COPY.
 * Standards: RFC 9208 §3 (capabilities QUOTA, QUOTA=RES-STORAGE, QUOTA=RES-MESSAGE; no
 *   QUOTASET), §4.1 (GETQUOTA), §4.2 (GETQUOTAROOT), §4.3 (SETQUOTA: without QUOTASET it is
 *   refused), §5.1 (STORAGE in units of 1024 octets, MESSAGE), §5.3 (OVERQUOTA); RFC 5530 §3
 *   (NONEXISTENT, NOPERM).
 * Security: a user sees only their own root; quotas are set by the operator (CLI, admin API),
 *   never over IMAP.
 * Limitations: a user without any limit has no quota root (GETQUOTAROOT names none, GETQUOTA ""
 *   answers NONEXISTENT), as the QUOTA response cannot carry an empty resource list. MOVE between
 *   a user's mailboxes adds nothing under the one root, so it is never refused for the quota.
 */
import type { QuotaReport } from '../../core/index.js';
import type { ImapCommand } from '../../protocol/imap/index.js';
import { folderName, wireName } from './mailbox-names.js';
import { no, ok, type SessionIo, type TaggedResult } from './session-types.js';

/** The one root of every user. */
const ROOT = '';

/** RFC 9208 §3.1, §3.2: what the session advertises when quotas are served. */
export function quotaCapabilities(io: Pick<SessionIo, 'ctx'>): string[] {
  return io.ctx.quota ? ['QUOTA', 'QUOTA=RES-STORAGE', 'QUOTA=RES-MESSAGE'] : [];
}

/** The untagged QUOTA response of a report; undefined when nothing is limited. */
function quotaLine(r: QuotaReport): string | undefined {
  const parts: string[] = [];
  // RFC 9208 §5.1.1: STORAGE counts units of 1024 octets
  if (r.limit.storage > 0) parts.push(`STORAGE ${Math.floor(r.usage.storage / 1024)} ${Math.floor(r.limit.storage / 1024)}`);
  if (r.limit.messages > 0) parts.push(`MESSAGE ${r.usage.messages} ${r.limit.messages}`);
  return parts.length > 0 ? `QUOTA "${ROOT}" (${parts.join(' ')})` : undefined;
}

export async function quotaCommand(io: SessionIo, c: Extract<ImapCommand, { name: 'GETQUOTA' | 'GETQUOTAROOT' | 'SETQUOTA' }>): Promise<TaggedResult> {
  const quota = io.ctx.quota;
  if (!quota) return { status: 'BAD', text: 'Unknown command' };
  if (c.name === 'SETQUOTA') {
    // RFC 9208 §4.3: without QUOTASET the server refuses; limits are the operator's
    return no('Quotas are set by the administrator', 'NOPERM');
  }
  if (c.name === 'GETQUOTAROOT') {
    const name = folderName(io, c.mailbox);
    if (name === undefined || !(await io.ctx.folders.folderExists(io.user, name))) return no('Mailbox does not exist', 'NONEXISTENT');
    const line = quotaLine(await quota.report(io.user));
    io.untagged(`QUOTAROOT ${wireName(io, name)}${line !== undefined ? ` "${ROOT}"` : ''}`);
    if (line !== undefined) io.untagged(line);
    return ok('GETQUOTAROOT completed');
  }
  const line = c.root.length === 0 ? quotaLine(await quota.report(io.user)) : undefined;
  if (line === undefined) return no('No such quota root', 'NONEXISTENT');
  io.untagged(line);
  return ok('GETQUOTA completed');
}

/**
 * RFC 9208 §5.3: the refusal of an APPEND or COPY that would take the user's mailboxes over a
 * limit (`size` octets in `count` messages); undefined when it fits (or quotas are not served).
 */
export async function overQuota(io: SessionIo, size: number, count: number): Promise<TaggedResult | undefined> {
  const now = overQuotaNow(io, size, count);
  if (now !== 'ask') return now;
  const verdict = await io.ctx.quota!.check(io.user, size, count);
  return verdict === 'ok' ? undefined : no('Mailbox quota exceeded', 'OVERQUOTA');
}

/**
 * overQuota's answer without a promise when the gate knows it at once (QuotaGate.checkNow:
 * nobody is limited, or quotas are not served); 'ask' when only overQuota can tell. For an
 * APPEND, whose quota check was a chain of eight promises (issue 14).
 */
export function overQuotaNow(io: SessionIo, size: number, count: number): TaggedResult | undefined | 'ask' {
  const gate = io.ctx.quota;
  if (!gate) return undefined;
  const verdict = gate.checkNow?.(io.user, size, count);
  if (verdict === undefined) return 'ask';
  return verdict === 'ok' ? undefined : no('Mailbox quota exceeded', 'OVERQUOTA');
}
