/**
 * @module store-search
 * Text conditions of Email/query through the mailbox store's own text index
 * (MailFolderStore.wordCandidates: PostgreSQL's trigram index, shared by every node and
 * written at delivery), which email-search.ts uses instead of a node-local index when the store
 * has one: a message delivered by any node is a candidate of a search on any other at once,
 * with nothing to catch up. The exact conditions then run on the candidates (email-query.ts).
 * Standards: RFC 8621 §4.4.1 (tokens may be matched on a word basis).
 * Security: the store is asked for the account's own messages only.
 * Limitations: as the node-local trigram index, a string matches anywhere in a word; accents
 *   are not folded (nor are they by the exact match).
 */
import type { MailFolderStore } from '../../core/index.js';

/** The ids of `emails` (with their folder and store key) whose text may hold every string. */
export async function storeCandidates(
  user: string,
  emails: readonly { readonly id: string; readonly folder: string; readonly key: string }[],
  folders: MailFolderStore,
  words: readonly string[],
): Promise<ReadonlySet<string>> {
  const hits = await folders.wordCandidates?.(user, words);
  // no word to look for (or no index after all): every message is a candidate
  if (hits === undefined) return new Set(emails.map((e) => e.id));
  return new Set(emails.filter((e) => hits.get(e.folder)?.has(e.key) === true).map((e) => e.id));
}
