/**
 * @module sort-command
 * SORT and THREAD (and their UID forms) on the selected mailbox: the messages a search finds,
 * sorted or threaded by what their header fields say.
 * Standards: RFC 5256 §3 (SORT: "* SORT" with the numbers in order), §4 (THREAD
 *   ORDEREDSUBJECT and REFERENCES: "* THREAD" with nested lists), §2.1 (base subject after
 *   RFC 2047 decoding), §2.2 (sent date), BADCHARSET for charsets other than UTF-8 and
 *   US-ASCII (RFC 9051 §6.4.4); RFC 5267 §3 (ESORT: SORT RETURN (MIN MAX ALL COUNT) answered
 *   by ESEARCH in sort order), RFC 9394 (PARTIAL of the sorted result), RFC 5957 (DISPLAYFROM,
 *   DISPLAYTO: the display name after RFC 2047 decoding).
 * Security: bounded by the mailbox; a message removed meanwhile (ENOENT) sorts with empty
 *   fields; any other failure to read one fails the command (read-failure: a tagged NO, logged).
 * Limitations: a matching message's fields come from the fetch cache when it keeps them
 *   (sort-fields: kept when its ENVELOPE was made, by the text index's read under serve, or by
 *   an earlier SORT or THREAD), else from its header block read (not its body); no CONTEXT=SORT.
 */
import type { HeaderField } from '../../protocol/mime/index.js';
import {
  asciiUpper,
  baseSubject,
  compareForSort,
  decodeEncodedWords,
  firstDisplayName,
  firstMailbox,
  formatThreads,
  sentTime,
  threadOrderedSubject,
  threadReferences,
  type ImapCommand,
  type SortFields,
  type ThreadMessage,
} from '../../protocol/imap/index.js';
import { esearchParts } from './esearch-response.js';
import { findMatches } from './message-commands.js';
import { readFailure } from './read-failure.js';
import { cachedSortFields, encodeSortFields } from './sort-fields.js';
import type { SelectedMailbox, ViewMessage } from './selected-mailbox.js';
import { bad, no, ok, type SessionIo, type TaggedResult } from './session-types.js';

const field = (fields: readonly HeaderField[], name: string): string | undefined => fields.find((f) => f.name.toLowerCase() === name)?.value;

/**
 * The matches with their header fields: those a search key read, else those the fetch cache
 * keeps (read in bulk), else their header blocks read (then kept in the cache); none when a
 * message could not be read.
 */
async function matchesWithFields(io: SessionIo, sel: SelectedMailbox, key: Parameters<typeof findMatches>[2], what: 'SORT' | 'THREAD'): Promise<{ seq: number; m: ViewMessage; fields: readonly HeaderField[] }[]> {
  const hits = await findMatches(io, sel, key);
  const cache = io.ctx.fetchCache;
  const cached = cache ? cachedSortFields(cache, io.user, sel.folder, hits.flatMap((h) => (h.fields ? [] : [h.m.key]))) : undefined;
  const out: { seq: number; m: ViewMessage; fields: readonly HeaderField[] }[] = [];
  for (const h of hits) {
    let fields = h.fields ?? cached?.get(h.m.key);
    if (!fields) {
      try {
        fields = await io.reader.headers(io.user, sel.folder, h.m.key);
        cache?.set(io.user, sel.folder, h.m.key, 'SORT', encodeSortFields(fields));
      } catch (err) {
        const failed = readFailure(`imap ${what}`, { user: io.user, folder: sel.folder, key: h.m.key }, err);
        if (failed) throw failed;
        fields = undefined; // removed meanwhile
      }
    }
    out.push({ seq: h.seq, m: h.m, fields: fields ?? [] });
  }
  return out;
}

function charsetRefused(io: SessionIo, charset: string): TaggedResult | undefined {
  if (charset === 'UTF-8' || charset === 'US-ASCII') return undefined;
  if (io.utf8) return bad('Only UTF-8 after ENABLE UTF8=ACCEPT');
  return no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
}

const subjectOf = (fields: readonly HeaderField[]): { base: string; reply: boolean } => baseSubject(decodeEncodedWords(field(fields, 'subject') ?? ''));

export async function sort(io: SessionIo, sel: SelectedMailbox, c: Extract<ImapCommand, { name: 'SORT' }>, tag: string): Promise<TaggedResult> {
  const refused = charsetRefused(io, c.charset);
  if (refused) return refused;
  const rows = (await matchesWithFields(io, sel, c.key, 'SORT')).map(({ seq, m, fields }) => {
    const f: SortFields = {
      order: seq,
      arrival: m.receivedAt,
      date: sentTime(field(fields, 'date'), m.receivedAt),
      size: m.size,
      cc: asciiUpper(firstMailbox(field(fields, 'cc'))),
      from: asciiUpper(firstMailbox(field(fields, 'from'))),
      to: asciiUpper(firstMailbox(field(fields, 'to'))),
      subject: subjectOf(fields).base,
      displayFrom: decodeEncodedWords(firstDisplayName(field(fields, 'from'))).toUpperCase(),
      displayTo: decodeEncodedWords(firstDisplayName(field(fields, 'to'))).toUpperCase(),
    };
    return { id: c.uid ? m.uid : seq, f };
  });
  rows.sort((a, b) => compareForSort(c.criteria, a.f, b.f));
  if (c.returns) {
    // RFC 5267 §3: ESORT answers with ESEARCH, ALL when RETURN () is empty
    const want = new Set<string>(c.returns.length === 0 ? ['ALL'] : c.returns);
    io.untagged(esearchParts(tag, c.uid, want, rows.map((r) => r.id), true, c.partial).join(' '));
  } else io.untagged(['SORT', ...rows.map((r) => String(r.id))].join(' '));
  return ok(`${c.uid ? 'UID ' : ''}SORT completed`);
}

/** Message-IDs ("<…>") in a field, in order. */
function msgIds(value: string | undefined): string[] {
  return value === undefined ? [] : (value.match(/<[^<>\s]+>/g) ?? []);
}

export async function thread(io: SessionIo, sel: SelectedMailbox, c: Extract<ImapCommand, { name: 'THREAD' }>): Promise<TaggedResult> {
  const refused = charsetRefused(io, c.charset);
  if (refused) return refused;
  const msgs: ThreadMessage[] = (await matchesWithFields(io, sel, c.key, 'THREAD')).map(({ seq, m, fields }) => {
    const { base, reply } = subjectOf(fields);
    const refs = msgIds(field(fields, 'references'));
    const messageId = msgIds(field(fields, 'message-id'))[0];
    return {
      id: c.uid ? m.uid : seq,
      order: seq,
      sentAt: sentTime(field(fields, 'date'), m.receivedAt),
      subject: base,
      reply,
      ...(messageId !== undefined && { messageId }),
      // RFC 5256 §4 step 1A: References, else the first id of In-Reply-To
      references: refs.length > 0 ? refs : msgIds(field(fields, 'in-reply-to')).slice(0, 1),
    };
  });
  const roots = c.algorithm === 'ORDEREDSUBJECT' ? threadOrderedSubject(msgs) : threadReferences(msgs);
  io.untagged(roots.length === 0 ? 'THREAD' : `THREAD ${formatThreads(roots)}`);
  return ok(`${c.uid ? 'UID ' : ''}THREAD completed`);
}
