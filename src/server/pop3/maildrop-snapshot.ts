/**
 * @module maildrop-snapshot
 * The maildrop as one POP3 session sees it (RFC 1939 §4-§6): the messages listed at login,
 * numbered from 1 in arrival order, each with its size, its unique-id and a deletion mark that
 * only UPDATE (QUIT) carries out; messages arriving later are not part of the session.
 * Standards: RFC 1939 §5 (message numbers, deleted messages are not listed), §6 (UPDATE),
 *   §7 (UIDL: 1-70 octets of 0x21-0x7E).
 * Security: none (the session holds the maildrop lock while a snapshot is in use).
 * Limitations: the maildrop is the INBOX folder only.
 */
import { createHash } from 'node:crypto';
import type { MailboxStore } from '../../core/index.js';
import { pop3Responses, type Pop3Response } from '../../protocol/pop3/index.js';

export interface SnapshotMessage {
  readonly key: string;
  readonly size: number;
  readonly uid: string;
  deleted: boolean;
}

/** RFC 1939 §7: a unique-id is 1 to 70 characters in the range 0x21 to 0x7E. */
export function uidForKey(key: string): string {
  if (/^[\x21-\x7e]{1,70}$/.test(key)) return key;
  // Deterministic, so it stays the same across sessions and restarts.
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function sizeOf(ms: readonly SnapshotMessage[]): number {
  let n = 0;
  for (const m of ms) n += m.size;
  return n;
}

export class MaildropSnapshot {
  private constructor(private readonly messages: readonly SnapshotMessage[]) {}

  /** The user's INBOX as it is now, oldest first. */
  static async take(mailboxes: MailboxStore, user: string): Promise<MaildropSnapshot> {
    const list = await mailboxes.list(user);
    list.sort((a, b) => a.receivedAt - b.receivedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return new MaildropSnapshot(list.map((m) => ({ key: m.key, size: m.size, uid: uidForKey(m.key), deleted: false })));
  }

  static empty(): MaildropSnapshot {
    return new MaildropSnapshot([]);
  }

  /** All messages, deleted ones included (the login and RSET counts). */
  get count(): number {
    return this.messages.length;
  }

  get size(): number {
    return sizeOf(this.messages);
  }

  /** Messages not marked deleted: their number and total size (STAT, LIST). */
  live(): { count: number; size: number } {
    const live = this.messages.filter((m) => !m.deleted);
    return { count: live.length, size: sizeOf(live) };
  }

  /** The message numbered n (1-based), or the -ERR for it. */
  pick(n: number): SnapshotMessage | Pop3Response {
    const m = this.messages[n - 1];
    if (m === undefined) return pop3Responses.noSuchMessage();
    if (m.deleted) return pop3Responses.alreadyDeleted(n);
    return m;
  }

  /** "n size" or "n uid" for every message not deleted (multi-line LIST, UIDL). */
  listing(what: 'size' | 'uid'): string[] {
    const lines: string[] = [];
    this.messages.forEach((m, i) => {
      if (!m.deleted) lines.push(`${i + 1} ${what === 'size' ? m.size : m.uid}`);
    });
    return lines;
  }

  /** RSET: no message is deleted any more. */
  reset(): void {
    for (const m of this.messages) m.deleted = false;
  }

  /** UPDATE: removes the deleted messages; how many could not be removed, and how many are left. */
  async update(mailboxes: MailboxStore, user: string): Promise<{ failed: number; left: number }> {
    let failed = 0;
    for (const m of this.messages) {
      if (!m.deleted) continue;
      try {
        await mailboxes.remove(user, m.key);
      } catch {
        failed++;
      }
    }
    return { failed, left: this.messages.filter((m) => !m.deleted).length };
  }
}
