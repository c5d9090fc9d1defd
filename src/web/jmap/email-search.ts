/**
 * @module email-search
 * Text conditions of Email/query through the full-text index (core MailSearchIndex), so a
 * search in a large folder reads the index and the hits, not every message: the words a
 * filter requires (its text, from, to, cc, bcc, subject and body conditions, alone or under
 * AND) select candidates, on which the exact conditions then run (email-query.ts). The index is
 * brought up to date with the account's view before a search: messages not yet in it are read
 * once and added, messages gone are removed.
 * Standards: RFC 8621 §4.4.1 (text: From, To, Cc, Bcc, Subject and the text body parts).
 * Security: the index is asked for the account's own documents only.
 * Limitations: a word matches at word starts in the index, so a condition whose text only
 *   occurs inside a word ("atório" in "relatório") finds nothing when the index is on; the
 *   first search after many new messages pays for reading them.
 */
import { buffer } from 'node:stream/consumers';
import type { MailSearchIndex } from '../../core/index.js';
import { findHeader } from '../../protocol/mime/index.js';
import { asText, parseAddresses, parseEmail, plainText } from './email-parse.js';
import type { Args } from './jmap-protocol.js';
import type { AccountView, EmailRecord } from './mail-view.js';
import type { MailFolderStore } from '../../core/index.js';

const textKeys = ['text', 'from', 'to', 'cc', 'bcc', 'subject', 'body'];

/** The strings a filter requires every match to contain (conditions alone or under AND). */
export function requiredWords(filter: unknown): string[] {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) return [];
  const f = filter as Args;
  if ('operator' in f) return f.operator === 'AND' && Array.isArray(f.conditions) ? f.conditions.flatMap(requiredWords) : [];
  return textKeys.flatMap((k) => (typeof f[k] === 'string' ? [f[k]] : []));
}

export class EmailSearch {
  /** views whose every Email is known to be in the index */
  readonly #current = new WeakSet<AccountView>();
  /** one catch-up at a time per account */
  readonly #busy = new Map<string, Promise<void>>();

  constructor(readonly index: MailSearchIndex) {}

  /** The Emails of `view` whose text has every word (at a word start). */
  async candidates(user: string, accountId: string, view: AccountView, folders: MailFolderStore, words: readonly string[]): Promise<Set<string>> {
    while (!this.#current.has(view)) {
      const running = this.#busy.get(accountId);
      if (running) {
        await running;
        continue;
      }
      const p = this.#catchUp(user, accountId, view, folders).finally(() => this.#busy.delete(accountId));
      this.#busy.set(accountId, p);
      await p;
    }
    return this.index.search(accountId, words);
  }

  async #catchUp(user: string, accountId: string, view: AccountView, folders: MailFolderStore): Promise<void> {
    const have = await this.index.indexed(accountId);
    const missing = view.emails.filter((e) => !have.has(e.id));
    for (let i = 0; i < missing.length; i += 200) {
      const docs = await Promise.all(missing.slice(i, i + 200).map(async (e) => ({ id: e.id, text: await searchText(user, e, folders) })));
      await this.index.add(accountId, docs.filter((d): d is { id: string; text: string } => d.text !== undefined));
    }
    await this.index.remove(accountId, [...have].filter((id) => !view.emailById.has(id)));
    this.#current.add(view);
  }
}

/** What a text condition searches in a message: its addresses, subject and text body. */
async function searchText(user: string, e: EmailRecord, folders: MailFolderStore): Promise<string | undefined> {
  let raw: Buffer;
  try {
    raw = await buffer(await folders.open(user, e.folder, e.key));
  } catch {
    return undefined; // gone meanwhile: indexed at a later search if it is back
  }
  const parsed = parseEmail(raw, e.blobId);
  const addresses = ['from', 'to', 'cc', 'bcc'].map((h) => (parseAddresses(findHeader(parsed.fields, h)) ?? []).map((a) => `${a.name ?? ''} ${a.email}`).join(' '));
  return [...addresses, asText(findHeader(parsed.fields, 'subject')) ?? '', plainText(parsed).slice(0, 100_000)].join('\n');
}
