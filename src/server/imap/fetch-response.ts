/**
 * @module fetch-response
 * The data of one FETCH response: each requested item of one message, encoded.
 * Standards: RFC 9051 §7.5.2 (FETCH response items; BODY[section]<origin> echoes the origin;
 *   HEADER.FIELDS gives the matching fields and the empty line; MIME gives the part's own
 *   header; a section that does not exist is empty), §6.4.5 (partial: octets from origin, at
 *   most n), RFC 3501 §6.4.5 (RFC822, RFC822.HEADER, RFC822.TEXT), RFC 3516 (BINARY).
 * Security: message octets always go as counted literals; header text is never copied into a
 *   response line.
 * Limitations: BINARY decodes base64 and quoted-printable only (other encodings answer
 *   UNKNOWN-CTE).
 */
import type { FetchItem } from '../../protocol/imap/index.js';
import {
  ImapLiteral,
  bodyStructure,
  encodeValue,
  encodeValueBuffer,
  envelopeOf,
  formatDateTime,
  parseMimeTree,
  type ImapValue,
  type MimePart,
} from '../../protocol/imap/index.js';
import type { CachedItem } from './fetch-cache-disk.js';
import type { FetchCache } from './fetch-cache.js';
import type { LoadedMessage } from './message-reader.js';
import { decodedKey, headerOf, sectionData, type FileSection, type SectionSource } from './fetch-section.js';
import { flagsOf } from './message-flags.js';
import { encodeSortFields } from './sort-fields.js';
import type { ViewMessage } from './selected-mailbox.js';

/**
 * A message whose whole octets a FETCH streams from its file (fetchPlan's `whole`): only its size
 * (RFC822.SIZE, the octets as read back) is known when the response is made.
 */
export interface StreamedMessage {
  readonly streamed: true;
  readonly size: number;
  /** its tree made from a stream (header blocks and offsets), for items other than the whole octets */
  readonly tree?: MimePart;
  /** the decoded size of each section a BINARY item decodes (decodedKey), counted before the response */
  readonly decodedSizes?: ReadonlyMap<string, number>;
}

/**
 * A literal's octets: the message's from `origin`, `length` of them, read from its file as they
 * are written; with `decode`, octets of that file section decoded (BINARY), from `origin` in them.
 */
export interface BodyRange {
  readonly origin: number;
  readonly length: number;
  readonly decode?: FileSection;
}

/** The items whose value comes from the view (the rest are made from the message's octets). */
const fromView = new Set<string>(['FLAGS', 'UID', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ']);

/** One message's entries of the fetch cache (fetch-cache). */
export interface MessageFetchCache {
  get(item: CachedItem): Buffer | undefined;
  set(item: CachedItem, data: Buffer): void;
}

/** How each cached item is made from a message (the fetch cache keeps them encoded). */
const cachedValue: Record<Exclude<CachedItem, 'SORT'>, (msg: { readonly buf?: Buffer; readonly tree: MimePart }) => ImapValue> = {
  ENVELOPE: (msg) => envelopeOf(msg.tree.fields),
  BODYSTRUCTURE: (msg) => bodyStructure(msg.buf, msg.tree, true),
  BODY: (msg) => bodyStructure(msg.buf, msg.tree, false),
};

/**
 * Puts a message's ENVELOPE, BODYSTRUCTURE and the fields SORT reads (sort-fields), made from its octets read for another purpose
 * (the folder text index's read of new mail), in the fetch cache's file, encoded as a FETCH
 * would: the first FETCH of them reads no file. A message that cannot be parsed is left out.
 */
export function fillFetchCache(cache: FetchCache, user: string, folder: string, key: string, octets: Buffer): void {
  try {
    const msg = { buf: octets, tree: parseMimeTree(octets) };
    for (const item of ['ENVELOPE', 'BODYSTRUCTURE'] as const) cache.store(user, folder, key, item, encodeValueBuffer(cachedValue[item](msg)));
    cache.store(user, folder, key, 'SORT', encodeSortFields(msg.tree.fields));
  } catch {
    // made when fetched, and failing there as it would have
  }
}

/** Whether an item sets \Seen (RFC 9051 §6.4.5: BODY[] without PEEK, RFC822, RFC822.TEXT, BINARY[]). */
export function setsSeen(items: readonly FetchItem[]): boolean {
  return items.some((i) => i.kind === 'RFC822' || i.kind === 'RFC822.TEXT' || ((i.kind === 'BODY[]' || i.kind === 'BINARY[]') && !i.peek));
}

function partial(data: Buffer, p: { origin: number; length: number } | undefined): Buffer {
  if (!p) return data;
  return data.subarray(Math.min(p.origin, data.length), Math.min(p.origin + p.length, data.length));
}

/** A file section's literal: its octets from the partial's origin, at most its length (decoded ones as counted beforehand). */
function rangeOf(data: FileSection, p: { origin: number; length: number } | undefined, msg: StreamedMessage): BodyRange {
  const total = data.cte === undefined ? data.end - data.start : msg.decodedSizes!.get(decodedKey(data))!;
  const from = Math.min(p?.origin ?? 0, total);
  const length = Math.min(total - from, p?.length ?? Infinity);
  return data.cte === undefined ? { origin: data.start + from, length } : { origin: from, length, decode: data };
}

/** What a FETCH command's items ask of each message, worked out once per command. */
export interface FetchPlan {
  /** some item needs the message's octets (or its cached items) */
  readonly content: boolean;
  /** some item needs the octets whatever the cache holds */
  readonly readAlways: boolean;
  /** the cached items asked for (ENVELOPE, BODYSTRUCTURE, BODY) */
  readonly cached: readonly CachedItem[];
  /** every item read from the octets is the whole message (RFC822, BODY[], BINARY[], partial or not): it can be streamed */
  readonly whole: boolean;
}

/** Whether an item is the whole message's octets (or a range of them), as stored. */
function isWhole(i: FetchItem): boolean {
  if (i.kind === 'RFC822') return true;
  if (i.kind !== 'BODY[]' && i.kind !== 'BINARY[]') return false;
  return i.section.part.length === 0 && i.section.text === undefined;
}

export function fetchPlan(items: readonly FetchItem[]): FetchPlan {
  const cached: CachedItem[] = [];
  let readAlways = false;
  let whole = true;
  for (const i of items) {
    if (fromView.has(i.kind)) continue;
    if (i.kind === 'ENVELOPE' || i.kind === 'BODYSTRUCTURE' || i.kind === 'BODY') cached.push(i.kind);
    else {
      readAlways = true;
      whole &&= isWhole(i);
    }
  }
  return { content: readAlways || cached.length > 0, readAlways, cached, whole: readAlways && whole };
}

/** Whether the message must be read for the plan's items, given what `cache` holds of it. */
export function planNeedsRead(plan: FetchPlan, cache: MessageFetchCache | undefined): boolean {
  if (plan.readAlways) return true;
  for (const k of plan.cached) if (!cache?.get(k)) return true;
  return false;
}

/**
 * One response line in the making: the plain parts (item names, numbers, flags) gathered as one
 * string, encoded values and cached octets as chunks between, so that the usual line (UID,
 * FLAGS, a cached ENVELOPE) costs a few Buffers, not one per atom and number.
 */
class Line {
  readonly #out: Buffer[] = [];
  /** the streamed ranges, each with the number of chunks of #out before it */
  #ranges: { at: number; range: BodyRange }[] | undefined;
  #text: string;
  #items = 0;

  constructor(start: string) {
    this.#text = start;
  }

  /** Starts the next "NAME value" pair: the name and its space (after a space but for the first). */
  item(name: string): void {
    this.#text += this.#items++ === 0 ? `${name} ` : ` ${name} `;
  }

  /** Plain text (ASCII: numbers, atoms, parentheses) after the item's name. */
  text(s: string): void {
    this.#text += s;
  }

  /** Octets already encoded, as they are. */
  chunk(b: Buffer): void {
    this.#flush();
    this.#out.push(b);
  }

  value(v: ImapValue): void {
    this.#flush();
    encodeValue(v, this.#out);
  }

  /** A literal of the message's octets `origin` to `origin + length`, streamed from its file when written. */
  range(range: BodyRange, binary: boolean): void {
    // RFC 3516 §4.3: a BINARY literal may hold any octet (literal8), which is not looked at first
    this.#text += `${binary ? '~' : ''}{${range.length}}\r\n`;
    this.#flush();
    if (range.length > 0) (this.#ranges ??= []).push({ at: this.#out.length, range });
  }

  /** The response: one Buffer, or its pieces when a range of the message is streamed between them. */
  end(): Buffer | (Buffer | BodyRange)[] {
    this.#text += ')\r\n';
    this.#flush();
    if (!this.#ranges) return this.#out.length === 1 ? this.#out[0] : Buffer.concat(this.#out);
    const out: (Buffer | BodyRange)[] = [];
    let from = 0;
    for (const { at, range } of this.#ranges) {
      if (at > from) out.push(Buffer.concat(this.#out.slice(from, at)));
      out.push(range);
      from = at;
    }
    if (from < this.#out.length) out.push(Buffer.concat(this.#out.slice(from)));
    return out;
  }

  #flush(): void {
    if (this.#text === '') return;
    this.#out.push(Buffer.from(this.#text));
    this.#text = '';
  }
}

/**
 * Encodes "(item value item value ...)" of one message. `uid`: the command was UID FETCH
 * (RFC 9051 §6.4.9: UID is then always included). `flagsChanged`: \Seen was just set, so
 * FLAGS is included too. `modseq`: MODSEQ is included even when not asked for (RFC 7162
 * §3.1.4.1: CHANGEDSINCE; §3.1.4.2: a flag change reported with CONDSTORE on).
 */
export function fetchResponse(
  seq: number,
  m: ViewMessage,
  items: readonly FetchItem[],
  msg: LoadedMessage | StreamedMessage | undefined,
  opts: { uid: boolean; flagsChanged: boolean; modseq?: boolean; cache?: MessageFetchCache },
): Buffer | (Buffer | BodyRange)[] {
  const line = new Line(`* ${seq} FETCH (`);
  // the value encoded once and kept (it depends on the content only), or made now
  const cached = (item: CachedItem, make: () => ImapValue): void => {
    const hit = opts.cache?.get(item);
    if (hit) return line.chunk(hit);
    const v = make();
    if (!opts.cache) return line.value(v);
    const data = encodeValueBuffer(v);
    opts.cache.set(item, data);
    line.chunk(data);
  };
  // the message's sections: from its octets, or from its streamed tree and file; a streamed
  // message without its tree gives the whole octets only (fetchPlan's `whole`)
  const streamed = msg && 'streamed' in msg ? msg : undefined;
  const source: SectionSource | undefined = streamed ? streamed.tree && { tree: streamed.tree, size: streamed.size } : msg && { ...(msg as LoadedMessage), size: (msg as LoadedMessage).buf.length };
  const whole = streamed && ({ size: streamed.size } as SectionSource);
  const data = (d: ReturnType<typeof sectionData>, p: { origin: number; length: number } | undefined, binary: boolean): void => {
    if (d === null) line.value(null);
    else if (Buffer.isBuffer(d)) line.value(new ImapLiteral(partial(d, p), binary));
    else line.range(rangeOf(d, p, streamed!), binary);
  };
  let hasUid = false;
  let hasFlags = false;
  let hasModseq = false;
  for (const i of items) {
    if (i.kind === 'UID') hasUid = true;
    else if (i.kind === 'FLAGS') hasFlags = true;
    else if (i.kind === 'MODSEQ') hasModseq = true;
  }
  const flags = (): void => {
    line.item('FLAGS');
    line.text(`(${flagsOf(m).join(' ')})`);
  };
  if (opts.uid && !hasUid) {
    line.item('UID');
    line.text(String(m.uid));
  }
  // the flags a BODY[] just changed go first, before the literals (as Dovecot sends them)
  if (opts.flagsChanged && !hasFlags) flags();
  for (const item of items) {
    switch (item.kind) {
      case 'UID':
        line.item('UID');
        line.text(String(m.uid));
        break;
      case 'FLAGS':
        flags();
        break;
      case 'MODSEQ':
        line.item('MODSEQ');
        line.text(`(${m.modseq})`);
        break;
      case 'INTERNALDATE':
        line.item('INTERNALDATE');
        line.value(formatDateTime(m.receivedAt));
        break;
      case 'RFC822.SIZE':
        line.item('RFC822.SIZE');
        line.text(String(m.size));
        break;
      case 'ENVELOPE':
      case 'BODYSTRUCTURE':
      case 'BODY': {
        const kind = item.kind;
        line.item(kind);
        cached(kind, () => {
          // the fields SORT and THREAD read, kept beside the envelope made (sort-fields)
          if (kind === 'ENVELOPE') opts.cache?.set('SORT', encodeSortFields(source!.tree.fields));
          return cachedValue[kind](source!);
        });
        break;
      }
      case 'RFC822':
        line.item('RFC822');
        data(sectionData(source ?? whole!, { kind: 'BODY[]', peek: false, label: '', section: { part: [] } }), undefined, false);
        break;
      case 'RFC822.HEADER':
        line.item('RFC822.HEADER');
        line.value(new ImapLiteral(headerOf(source!, source!.tree)));
        break;
      case 'RFC822.TEXT':
        line.item('RFC822.TEXT');
        data(sectionData(source!, { kind: 'BODY[]', peek: false, label: 'TEXT', section: { part: [], text: 'TEXT' } }), undefined, false);
        break;
      case 'BODY[]':
      case 'BINARY[]': {
        const name = item.kind === 'BODY[]' ? 'BODY' : 'BINARY';
        const origin = item.partial ? `<${item.partial.origin}>` : '';
        line.item(`${name}[${item.label}]${origin}`);
        data(sectionData(source ?? whole!, item), item.partial, item.kind === 'BINARY[]');
        break;
      }
      case 'BINARY.SIZE': {
        const d = sectionData(source!, item);
        line.item(`BINARY.SIZE[${item.label}]`);
        line.text(d === null ? 'NIL' : String(Buffer.isBuffer(d) ? d.length : rangeOf(d, undefined, msg as StreamedMessage).length));
        break;
      }
    }
  }
  if (opts.modseq && !hasModseq) {
    line.item('MODSEQ');
    line.text(`(${m.modseq})`);
  }
  return line.end();
}
