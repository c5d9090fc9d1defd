/**
 * @module spool-scan
 * The files spool's messages for a walk that needs no order (the runner's start after a crash):
 * msg/ read as a stream, then the segments' live records not met there, each
 * message read a few ahead; env/ read first into a filter of the ids with an override. Issue 19: the ordered walk lists msg/ whole (a million names: an
 * array, a set and a sorted copy, ~200 MB of RSS at the peak of a crash's start, most of it
 * libuv's scandir copies); a stream holds one directory buffer and the records' ids.
 * Standards: none.
 * Security: names that are not queue ids are skipped (never made into paths here).
 * Limitations: a message renamed into msg/ while the stream runs may or may not be met (the
 *   store's watch names it); one whose record moved to its own file meanwhile may be met twice
 *   (as a record and as a file), which a walk's reader tolerates (it knows the envelope).
 */
import { opendir } from 'node:fs/promises';
import { isQueueId, type MessageId } from '../core/index.js';

/** directory entries read per system call by the streamed listings */
export const dirBuffer = 256;

/** The message ids with an env override (env/<id>.json), listed as a stream into a filter. */
export async function overrideFilter(envDir: string): Promise<NameFilter> {
  const f = new NameFilter();
  for await (const entry of await opendir(envDir, { bufferSize: dirBuffer })) {
    const name = entry.name;
    if (name.endsWith('.json') && !name.startsWith('.')) f.add(name.slice(0, -5));
  }
  return f;
}

/**
 * The ids in msg/ as a stream, then those of `records` (taken when the stream starts) not met
 * there (a record and a file may name the same message): a message whose record moves to its
 * own file while the stream runs is met at least once.
 */
export async function* scanIds(msgDir: string, records: ReadonlyMap<MessageId, unknown>): AsyncGenerator<MessageId> {
  const recorded = [...records.keys()];
  const met = new Set<MessageId>();
  for await (const entry of await opendir(msgDir, { bufferSize: dirBuffer })) {
    const name = entry.name;
    if (!isQueueId(name)) continue;
    if (records.has(name)) met.add(name);
    yield name;
  }
  for (const id of recorded) if (!met.has(id)) yield id;
}

/**
 * Each id with what `load` made of it, in the ids' order, with up to `ahead` loads under way
 * (each read is several round trips to libuv's thread pool). `load` must not reject: a
 * consumer that stops early leaves its last loads unawaited.
 */
export async function* readAhead<T>(ids: AsyncIterable<string> | Iterable<string>, load: (id: string) => Promise<T>, ahead = 8): AsyncGenerator<[string, T]> {
  const it: AsyncIterator<string> | Iterator<string> = Symbol.asyncIterator in ids ? ids[Symbol.asyncIterator]() : ids[Symbol.iterator]();
  const pending: [string, Promise<T>][] = [];
  let ended = false;
  const fill = async (): Promise<void> => {
    while (!ended && pending.length < ahead) {
      const r = await it.next();
      if (r.done === true) ended = true;
      else pending.push([r.value, load(r.value)]);
    }
  };
  try {
    await fill();
    while (pending.length > 0) {
      const [id, loading] = pending.shift()!;
      const got = await loading;
      await fill();
      yield [id, got];
    }
  } finally {
    // an early stop closes the listing (its directory handle)
    if (!ended) await it.return?.();
  }
}

/**
 * Names of a directory in a bit set with two hashes: 8 MB whatever their number, ~0.1 % of
 * names never added answered "maybe" at a million added, and never "no" for one added. A set of
 * a million names held ~100 MB of the heap beside the scandir listing (issue 19).
 */
export class NameFilter {
  readonly #bits = new Uint32Array(1 << 21);

  add(name: string): void {
    const [a, b] = hashes(name);
    this.#bits[a >>> 5] |= 1 << (a & 31);
    this.#bits[b >>> 5] |= 1 << (b & 31);
  }

  mayHave(name: string): boolean {
    const [a, b] = hashes(name);
    return (this.#bits[a >>> 5] & (1 << (a & 31))) !== 0 && (this.#bits[b >>> 5] & (1 << (b & 31))) !== 0;
  }
}

const pair: [number, number] = [0, 0];
/** Two 26-bit hashes of `name` (FNV-1a, and a second mix of it), in a shared pair. */
function hashes(name: string): [number, number] {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  let g = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  g = Math.imul(g ^ (g >>> 13), 0xc2b2ae35);
  g ^= g >>> 16;
  pair[0] = h >>> 6;
  pair[1] = g >>> 6;
  return pair;
}
