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
  findPart,
  formatDateTime,
  parseMimeTree,
  type ImapValue,
  type MimePart,
} from '../../protocol/imap/index.js';
import type { CachedItem } from './fetch-cache-disk.js';
import type { FetchCache } from './fetch-cache.js';
import type { LoadedMessage } from './message-reader.js';
import { flagsOf, type ViewMessage } from './selected-mailbox.js';
import { decodeTransfer } from '../../protocol/mime/index.js';

/**
 * A message whose whole octets a FETCH streams from its file (fetchPlan's `whole`): only its size
 * (RFC822.SIZE, the octets as read back) is known when the response is made.
 */
export interface StreamedMessage {
  readonly streamed: true;
  readonly size: number;
}

/** A literal's octets: the message's from `origin`, `length` of them, read from its file as they are written. */
export interface BodyRange {
  readonly origin: number;
  readonly length: number;
}

/** The items whose value comes from the view (the rest are made from the message's octets). */
const fromView = new Set<string>(['FLAGS', 'UID', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ']);

/** Whether any item needs the message's octets. */
export function needsContent(items: readonly FetchItem[]): boolean {
  return items.some((i) => !fromView.has(i.kind));
}

/** One message's entries of the fetch cache (fetch-cache). */
export interface MessageFetchCache {
  get(item: CachedItem): Buffer | undefined;
  set(item: CachedItem, data: Buffer): void;
}

/** How each cached item is made from a message (the fetch cache keeps them encoded). */
const cachedValue: Record<CachedItem, (msg: LoadedMessage) => ImapValue> = {
  ENVELOPE: (msg) => envelopeOf(msg.tree.fields),
  BODYSTRUCTURE: (msg) => bodyStructure(msg.buf, msg.tree, true),
  BODY: (msg) => bodyStructure(msg.buf, msg.tree, false),
};

/**
 * Puts a message's ENVELOPE and BODYSTRUCTURE, made from its octets read for another purpose
 * (the folder text index's read of new mail), in the fetch cache's file, encoded as a FETCH
 * would: the first FETCH of them reads no file. A message that cannot be parsed is left out.
 */
export function fillFetchCache(cache: FetchCache, user: string, folder: string, key: string, octets: Buffer): void {
  try {
    const msg = { buf: octets, tree: parseMimeTree(octets) };
    for (const item of ['ENVELOPE', 'BODYSTRUCTURE'] as const) cache.store(user, folder, key, item, encodeValueBuffer(cachedValue[item](msg)));
  } catch {
    // made when fetched, and failing there as it would have
  }
}

/** Whether an item sets \Seen (RFC 9051 §6.4.5: BODY[] without PEEK, RFC822, RFC822.TEXT, BINARY[]). */
export function setsSeen(items: readonly FetchItem[]): boolean {
  return items.some((i) => i.kind === 'RFC822' || i.kind === 'RFC822.TEXT' || ((i.kind === 'BODY[]' || i.kind === 'BINARY[]') && !i.peek));
}

export class UnknownCte extends Error {}

function headerOf(buf: Buffer, p: MimePart): Buffer {
  return buf.subarray(p.headerStart, p.bodyStart);
}

/** The header lines whose names are (or with `not`, are not) in `names`, and the empty line. */
function headerFields(header: Buffer, names: readonly string[], not: boolean): Buffer {
  const want = new Set(names);
  const out: Buffer[] = [];
  let i = 0;
  let keep = false;
  while (i < header.length) {
    let lf = header.indexOf(0x0a, i);
    if (lf < 0) lf = header.length - 1;
    const line = header.subarray(i, lf + 1);
    const first = line[0];
    if (first === 0x20 || first === 0x09) {
      if (keep) out.push(line);
    } else if (line.length <= 2 && (first === 0x0d || first === 0x0a)) {
      keep = false;
    } else {
      const colon = line.indexOf(0x3a);
      const name = colon > 0 ? line.toString('latin1', 0, colon).trim().toUpperCase() : '';
      keep = name !== '' && want.has(name) !== not;
      if (keep) out.push(line);
    }
    i = lf + 1;
  }
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

/** The octets of a BODY[section] (before the partial is applied); null when it does not exist. */
export function sectionOctets(msg: LoadedMessage, item: Extract<FetchItem, { kind: 'BODY[]' | 'BINARY[]' | 'BINARY.SIZE' }>): Buffer | null {
  const { buf, tree } = msg;
  const s = item.section;
  const p = findPart(tree, s.part);
  // a part that does not exist (a multipart without parts): RFC 9051 does not say; "" as Dovecot
  if (!p) return item.kind === 'BODY[]' ? Buffer.alloc(0) : null;
  if (item.kind !== 'BODY[]') {
    // RFC 3516 §4.2: BINARY[] is the whole message; a multipart or message/rfc822 part has an
    // identity encoding (RFC 2045 §6.4), so its octets come as they are
    if (s.part.length === 0) return buf;
    const body = buf.subarray(p.bodyStart, p.end);
    const cte = p.fields.find((f) => f.name.toLowerCase() === 'content-transfer-encoding')?.value.trim().toLowerCase() ?? '7bit';
    const decoded = decodeTransfer(body, cte);
    if (decoded === undefined) throw new UnknownCte();
    return decoded;
  }
  if (s.part.length === 0) {
    if (!s.text) return buf;
    return textOf(buf, tree, s.text, s.fields);
  }
  if (!s.text) return buf.subarray(p.bodyStart, p.end);
  if (s.text === 'MIME') return headerOf(buf, p);
  // HEADER, TEXT, HEADER.FIELDS of a part: of the message it holds (RFC 9051 §6.4.5: only a
  // message/rfc822 part has them); of another part, part 1 of a one-part message included, ""
  // as Dovecot answers
  if (!p.message) return Buffer.alloc(0);
  return textOf(buf, p.message, s.text, s.fields);
}

function textOf(buf: Buffer, m: MimePart, text: string, fields?: readonly string[]): Buffer {
  if (text === 'TEXT') return buf.subarray(m.bodyStart, m.end);
  const header = headerOf(buf, m);
  if (text === 'HEADER') return header;
  return headerFields(header, fields ?? [], text === 'HEADER.FIELDS.NOT');
}

function partial(data: Buffer, p: { origin: number; length: number } | undefined): Buffer {
  if (!p) return data;
  return data.subarray(Math.min(p.origin, data.length), Math.min(p.origin + p.length, data.length));
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
        cached(kind, () => cachedValue[kind](msg as LoadedMessage));
        break;
      }
      case 'RFC822':
        line.item('RFC822');
        if (msg && 'streamed' in msg) line.range({ origin: 0, length: msg.size }, false);
        else line.value(new ImapLiteral(msg!.buf));
        break;
      case 'RFC822.HEADER':
        line.item('RFC822.HEADER');
        line.value(new ImapLiteral(headerOf((msg as LoadedMessage).buf, (msg as LoadedMessage).tree)));
        break;
      case 'RFC822.TEXT':
        line.item('RFC822.TEXT');
        line.value(new ImapLiteral((msg as LoadedMessage).buf.subarray((msg as LoadedMessage).tree.bodyStart)));
        break;
      case 'BODY[]':
      case 'BINARY[]': {
        const name = item.kind === 'BODY[]' ? 'BODY' : 'BINARY';
        const origin = item.partial ? `<${item.partial.origin}>` : '';
        line.item(`${name}[${item.label}]${origin}`);
        if (msg && 'streamed' in msg) {
          // the whole message (fetchPlan's `whole`), or its partial range, from the file
          const from = Math.min(item.partial?.origin ?? 0, msg.size);
          line.range({ origin: from, length: Math.min(msg.size - from, item.partial?.length ?? Infinity) }, item.kind === 'BINARY[]');
          break;
        }
        const data = sectionOctets(msg!, item);
        line.value(data === null ? null : new ImapLiteral(partial(data, item.partial), item.kind === 'BINARY[]'));
        break;
      }
      case 'BINARY.SIZE': {
        const data = sectionOctets(msg as LoadedMessage, item);
        line.item(`BINARY.SIZE[${item.label}]`);
        line.text(data === null ? 'NIL' : String(data.length));
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
