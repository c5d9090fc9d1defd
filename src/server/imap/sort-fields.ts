/**
 * @module sort-fields
 * The header fields SORT and THREAD read of a message (Date, Subject, From, To, Cc, Message-ID,
 * References, In-Reply-To), kept in the fetch cache beside its ENVELOPE (item `SORT`), so a SORT
 * or THREAD of messages whose fields are cached opens no message file. They are the fields as
 * the message's header block gives them, each occurrence in order, so an answer made from them
 * is the one made from the file; the ENVELOPE itself would not do (it keeps the last of a field
 * given twice where SORT takes the first, and has no References).
 * A SEARCH whose header keys name only such fields (FROM, TO, CC, SUBJECT, SENT*, HEADER of one
 * of them) answers from them too, and a SEARCH that reads a header block keeps them (search-target).
 * Standards: RFC 5256 (the fields SORT and THREAD look at).
 * Security: entries are the user's own (fetch-cache); a cached entry that does not decode is a
 *   miss.
 * Limitations: the encoding (JSON of [name, value] pairs) is the cache file's: changing it must
 *   raise fetch-cache-disk's FETCH_CACHE_FORMAT.
 */
import type { HeaderField } from '../../protocol/mime/index.js';
import type { FetchCache } from './fetch-cache.js';

/** The fields kept, lower case. */
const kept = new Set(['date', 'subject', 'from', 'to', 'cc', 'message-id', 'references', 'in-reply-to']);

/** Keys per read of the cache (its disk tier reads a few hundred per query). */
export const perRead = 500;

/** Whether the fields kept hold every field of this name (any case) the header block has. */
export const keepsField = (name: string): boolean => kept.has(name.toLowerCase());

export function encodeSortFields(fields: readonly HeaderField[]): Buffer {
  return Buffer.from(JSON.stringify(fields.filter((f) => kept.has(f.name.toLowerCase())).map((f) => [f.name, f.value])));
}

function decodeSortFields(data: Buffer): HeaderField[] | undefined {
  try {
    const pairs = JSON.parse(data.toString()) as unknown;
    if (!Array.isArray(pairs)) return undefined;
    return pairs.map((p) => {
      if (!Array.isArray(p) || typeof p[0] !== 'string' || typeof p[1] !== 'string') throw new Error('not a field');
      return { name: p[0], value: p[1] };
    });
  } catch {
    return undefined;
  }
}

/**
 * The cached SORT fields of messages of a folder (by key), read in bulk; keys with none cached
 * are absent.
 */
export function cachedSortFields(cache: FetchCache, user: string, folder: string, keys: readonly string[]): Map<string, readonly HeaderField[]> {
  const out = new Map<string, readonly HeaderField[]>();
  for (let i = 0; i < keys.length; i += perRead) {
    for (const [key, e] of cache.getMany(user, folder, keys.slice(i, i + perRead), ['SORT'])) {
      const fields = e.SORT && decodeSortFields(e.SORT);
      if (fields) out.set(key, fields);
    }
  }
  return out;
}
