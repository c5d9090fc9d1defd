/**
 * @module search-target
 * What SEARCH (and SORT's and THREAD's search keys) reads of one message, each part read once
 * per command and only when a key asks for it: its header fields alone (those the fetch cache
 * keeps, sort-fields, when the key's field is one of them; else the header block, not the file:
 * message-reader `headers`, whose fields sort-fields keeps are then put in the fetch cache for
 * the next SEARCH, SORT or THREAD), or its text (a message under `fetchStreamFrom` read whole
 * and matched as message-text reads it; a bigger one streamed: search-text-stream).
 * Standards: RFC 9051 §6.4.4 (what each key looks in: search-matcher).
 * Security: a message removed meanwhile (ENOENT) matches no key that reads it; any other
 *   failure to read it fails the command (read-failure: MessageUnreadable, logged), never a
 *   silent non-match; a big message is never held whole.
 * Limitations: none beyond message-reader's and search-text-stream's.
 */
import type { HeaderField } from '../../protocol/mime/index.js';
import { streamFromDefault } from './fetch-stream.js';
import type { LoadedMessage } from './message-reader.js';
import { readFailure } from './read-failure.js';
import { encodeSortFields, keepsField } from './sort-fields.js';
import { wholeTextHas } from './search-matcher.js';
import { streamedTextHas } from './search-text-stream.js';
import type { SelectedMailbox, ViewMessage } from './selected-mailbox.js';
import type { SessionIo } from './session-types.js';

export interface MessageReads {
  /** the fields a key on `field` looks at (search-matcher SearchTarget.headers) */
  readonly headers: (field: string) => Promise<readonly HeaderField[] | undefined>;
  readonly textHas: (needle: string, withHeader: boolean) => Promise<boolean>;
  /** the header fields if a key read them (or the message whole) */
  readonly fieldsRead: () => readonly HeaderField[] | undefined;
}

/**
 * The reads of message `m` of the selected mailbox for one search; `cached`: its fields the fetch
 * cache keeps (sort-fields), which answer a key on one of them without reading the file.
 */
export function messageReads(io: SessionIo, sel: SelectedMailbox, m: ViewMessage, cached?: readonly HeaderField[]): MessageReads {
  let fields: readonly HeaderField[] | undefined;
  let whole: LoadedMessage | undefined;
  const big = m.size >= (io.ctx.fetchStreamFrom ?? streamFromDefault);
  // removed meanwhile: no match; anything else fails the command
  const gone = (err: unknown): void => {
    const failed = readFailure('imap SEARCH', { user: io.user, folder: sel.folder, key: m.key }, err);
    if (failed) throw failed;
  };
  return {
    fieldsRead: () => fields ?? cached,
    headers: async (field) => {
      if (!fields && cached && keepsField(field)) return cached;
      if (fields) return fields;
      try {
        fields = await io.reader.headers(io.user, sel.folder, m.key);
      } catch (err) {
        gone(err);
        return undefined;
      }
      // kept for the next SEARCH, SORT or THREAD, as SORT keeps them (only the fields sort-fields
      // keeps, of a header block read within message-reader's maxHeader)
      io.ctx.fetchCache?.set(io.user, sel.folder, m.key, 'SORT', encodeSortFields(fields));
      return fields;
    },
    textHas: async (needle, withHeader) => {
      try {
        if (big) {
          const tree = await io.reader.tree(io.user, sel.folder, m.key);
          fields ??= tree.fields;
          return await streamedTextHas(tree, () => io.ctx.folders.open(io.user, sel.folder, m.key), needle, withHeader);
        }
        whole ??= await io.reader.load(io.user, sel.folder, m.key);
        fields ??= whole.tree.fields;
        return wholeTextHas(whole, needle, withHeader);
      } catch (err) {
        gone(err);
        return false;
      }
    },
  };
}
