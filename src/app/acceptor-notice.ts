/**
 * @module acceptor-notice
 * The frames an SMTP acceptor process (`[smtp] processes`, issue 19) sends the server on a pipe
 * of their own (fd 4 of the acceptor: acceptor-pool.ts forks it so): each frame is one notice,
 * the new envelopes of one turn of the acceptor's event loop with each record's place in its
 * segment, the mail events of that turn (acceptor-events.ts), and each record's body as it is,
 * so the server delivers without reading the segment.
 *
 *   frame = header length (u32 BE) · bodies' length (u32 BE) · header · bodies
 *
 * The header holds the envelopes, the places, each body's message id and length, and the events;
 * it is coded by hand (below; the envelopes in notice-envelope-codec.ts: numbers as numbers,
 * strings cut from one UTF-8 text, the fields of an envelope as intake makes it by flags,
 * anything else of an envelope as JSON, the events as one JSON array whose texts the history
 * writes as they came). The bodies follow in that order, octet for octet. Before: a JSON
 * header (JSON.parse of ~1.4 KB a message was ~12 % of the server's CPU in accept), and before
 * that Node's IPC channel (JSON lines), each body a latin1 string (docs/performance.md, "the
 * acceptor's notice").
 * Standards: none.
 * Security: the pipe joins the server to a child it forked, running as the same user; still, a
 *   frame that does not decode (a length over the limit, counts or lengths its header cannot
 *   hold, an unknown code, events that are not objects) ends the reading with an error naming
 *   it, never a crash: the records stay in the spool and the server's rescans find them.
 * Limitations: a frame is whole in memory on both sides (the bodies are the small messages the
 *   acceptor committed to segments, each at most a segment record). Both processes run the same
 *   build (the header's version is checked, not translated). A queued envelope decoded here
 *   holds as much heap as one from JSON.parse (`notice-channel.js memory`: 625–628 against 626
 *   octets; how: notice-envelope-codec.ts); a place's segment name is a V8 slice of the notice's
 *   places and bodies text.
 */
import type { Envelope, MessageId } from '../core/index.js';
import type { SegRef } from '../queue/index.js';
import { ChunkQueue } from '../util/index.js';
import { relayed, type RelayedEvent } from './acceptor-events.js';
import { asciiMark, Builder, Decoder, isRecord } from './notice-envelope-codec.js';

/** One notice: new envelopes, each record's place, the events of the turn, the bodies by message. */
export interface Queued {
  envelopes: Envelope[];
  places: Map<MessageId, SegRef>;
  events: RelayedEvent[];
  bodies: Map<MessageId, Buffer>;
}

/**
 * A notice as the acceptor makes it: a body may be the pieces its record was appended from
 * (the header fields intake added, then the message), written one after the other as they are.
 */
export type QueuedOut = Omit<Queued, 'bodies'> & { bodies: ReadonlyMap<MessageId, Buffer | readonly Buffer[]> };

/** the acceptor's descriptor of the notice pipe (stdio 0–2, then Node's IPC channel at 3) */
export const noticeFd = 4;

/** the most a frame's header and its bodies may each hold (a notice carries small messages) */
export const maxFramePart = 256 * 1024 * 1024;

/** the header's first octet: its layout (both processes are always the same build) */
const headerVersion = 2;
/** the version and six counts */
const fixedSize = 25;

/*
 * The header, coded by hand (JSON.parse of ~1.4 KB per message was ~12 % of the server's CPU
 * in accept): version (u8) · counts of envelopes, places, bodies, events, numbers, ints (u32 LE each) ·
 * `numbers` (f64 LE each) · `ints` (u32 LE each: the envelopes' flags and small codes, every
 * text's length in UTF-16 units and each envelope's octets of text, the events' kinds) · the
 * length of the text (u32, octets) · the text: every string of the header one after the other,
 * as UTF-8: each envelope's (its octets marked when they are all ASCII: each string is then
 * copied from the buffer by itself, no slice keeping a text), then the places' and bodies',
 * decoded in one call and cut by the lengths · the events as one JSON array (the rest of the
 * header): one parse for all, and each event's own text cut from it for the history.
 */

/**
 * A notice as the buffers to write (lengths, header, then each body as it is, each piece of it:
 * no copy). The header: version 2, the envelopes, the places, the bodies' ids and lengths, the
 * events (each its kind and its fields as JSON text, which the server's history writes as it
 * came).
 */
export function encodeNotice(q: QueuedOut): Buffer[] {
  const b = new Builder();
  for (const e of q.envelopes) b.envelope(e);
  for (const [id, p] of q.places) {
    b.str(id);
    b.str(p.seg);
    b.numbers.push(p.offset, p.bodyLength, p.trailerLength);
  }
  let bodies = 0;
  const pieces: Buffer[] = [];
  for (const [id, body] of q.bodies) {
    let length = 0;
    for (const piece of Buffer.isBuffer(body) ? [body] : body) {
      length += piece.length;
      pieces.push(piece);
    }
    b.str(id);
    b.numbers.push(length);
    bodies += length;
  }
  for (const [name] of q.events) b.ints.push(relayed.indexOf(name));
  const events = q.events.map(([, fields, json]) => json ?? JSON.stringify(fields));
  for (const t of events) b.ints.push(t.length);
  // each envelope's strings a text of its own (its octets in ints), then the places' and bodies'
  const sections: string[] = [];
  let from = 0;
  for (const [octetsAt, first, end] of b.own) {
    const own = b.texts.slice(first, end).join('');
    const octets = Buffer.byteLength(own);
    b.ints[octetsAt] = octets === own.length ? asciiMark + octets : octets;
    sections.push(own);
    from = end;
  }
  sections.push(b.texts.slice(from).join(''));
  const text = sections.join('');
  const eventsText = `[${events.join(',')}]`;
  const out = Buffer.allocUnsafe(8 + fixedSize + 8 * b.numbers.length + 4 * b.ints.length + 4 + Buffer.byteLength(text) + Buffer.byteLength(eventsText));
  let at = 8;
  at = out.writeUInt8(headerVersion, at);
  for (const n of [q.envelopes.length, q.places.size, q.bodies.size, q.events.length, b.numbers.length, b.ints.length]) at = out.writeUInt32LE(n, at);
  for (const n of b.numbers) at = out.writeDoubleLE(n, at);
  for (const n of b.ints) at = out.writeUInt32LE(n, at);
  const textLength = out.write(text, at + 4, 'utf8');
  out.writeUInt32LE(textLength, at);
  out.write(eventsText, at + 4 + textLength, 'utf8');
  out.writeUInt32BE(out.length - 8, 0);
  out.writeUInt32BE(bodies, 4);
  pieces.unshift(out);
  return pieces;
}

/** The header decoded (the places' numbers are checked where they are used: FsQueueStore.adopt). */
function parseHeader(buf: Buffer, bodiesLength: number, chunks: ChunkQueue): Queued {
  if (buf.length < fixedSize) throw new Error(`notice header of ${buf.length} octets: too short`);
  if (buf[0] !== headerVersion) throw new Error(`notice header: version ${buf[0]}, not ${headerVersion}`);
  const [envelopeCount, placeCount, bodyCount, eventCount, numberCount, intCount] = [1, 5, 9, 13, 17, 21].map((at) => buf.readUInt32LE(at));
  const numbersAt = fixedSize;
  const intsAt = numbersAt + 8 * numberCount;
  const textAt = intsAt + 4 * intCount + 4;
  // every envelope has its flags, every place, body and event a code or two: counts the ints cannot hold are refused before any loop
  if (numberCount > buf.length || intCount > buf.length || textAt > buf.length || 2 * envelopeCount + 2 * placeCount + bodyCount + 2 * eventCount > intCount) {
    throw new Error(`notice header: ${envelopeCount} envelopes, ${placeCount} places, ${bodyCount} bodies and ${eventCount} events cannot fit in ${buf.length} octets`);
  }
  const textLength = buf.readUInt32LE(textAt - 4);
  if (textAt + textLength > buf.length) throw new Error(`notice header: a text of ${textLength} octets at ${textAt} in ${buf.length}`);
  const d = new Decoder(buf, numbersAt, intsAt, textAt - 4, textAt, textAt + textLength);
  const envelopes: Envelope[] = [];
  for (let n = 0; n < envelopeCount; n++) envelopes.push(d.envelope());
  d.next();
  const places = new Map<MessageId, SegRef>();
  for (let n = 0; n < placeCount; n++) places.set(d.str(), { seg: d.str(), offset: d.num(), bodyLength: d.num(), trailerLength: d.num() });
  const lengths: [MessageId, number][] = [];
  let sum = 0;
  for (let n = 0; n < bodyCount; n++) {
    const id = d.str();
    const length = d.num();
    if (!Number.isSafeInteger(length) || length < 0) throw new Error(`notice header: a body of ${length} octets`);
    lengths.push([id, length]);
    sum += length;
  }
  const names: RelayedEvent[0][] = [];
  for (let n = 0; n < eventCount; n++) names.push(d.oneOf(relayed, 'event kind') as RelayedEvent[0]);
  const textLengths: number[] = [];
  for (let n = 0; n < eventCount; n++) textLengths.push(d.int());
  // the events: one JSON array, each event's own text cut from it (a text of their own: the
  // envelopes' strings are cut from theirs, and keep it, not the events', while they are queued)
  const all = buf.toString('utf8', textAt + textLength);
  const parsed: unknown = JSON.parse(all);
  if (!Array.isArray(parsed) || parsed.length !== eventCount) throw new Error(`notice header: the events are not an array of ${eventCount}`);
  const events: RelayedEvent[] = [];
  let from = 1;
  for (let n = 0; n < eventCount; n++) {
    const fields: unknown = parsed[n];
    if (!isRecord(fields)) throw new Error(`notice header: a ${names[n]} event that is not an object`);
    events.push([names[n], fields, all.slice(from, from + textLengths[n])]);
    from += textLengths[n] + 1;
  }
  if (from !== (eventCount === 0 ? 1 : all.length) || !d.done()) throw new Error('notice header: its lengths and its text disagree');
  if (sum !== bodiesLength) throw new Error(`notice: the bodies are ${bodiesLength} octets, the header says ${sum}`);
  const byId = new Map<MessageId, Buffer>();
  for (const [id, length] of lengths) byId.set(id, chunks.take(length, false));
  return { envelopes, places, events, bodies: byId };
}

/** Reads frames from the pipe's chunks as they come (a frame may span chunks, a chunk hold several). */
export class NoticeReader {
  readonly #chunks = new ChunkQueue();
  /** the frame begun, once its lengths are read */
  #frame: { head: number; bodies: number } | undefined;

  /**
   * The notices completed by `chunk`; throws (with what was wrong) on a frame that does not
   * decode, after which the reader is of no more use (the stream is out of step).
   */
  push(chunk: Buffer): Queued[] {
    this.#chunks.add(chunk);
    const out: Queued[] = [];
    for (;;) {
      if (!this.#frame) {
        if (this.#chunks.held < 8) return out;
        const lengths = this.#chunks.take(8, true);
        const head = lengths.readUInt32BE(0);
        const bodies = lengths.readUInt32BE(4);
        if (head > maxFramePart || bodies > maxFramePart) throw new Error(`notice frame of ${head} + ${bodies} octets: over the limit of ${maxFramePart} each`);
        this.#frame = { head, bodies };
      }
      const { head, bodies } = this.#frame;
      if (this.#chunks.held < head + bodies) return out;
      this.#frame = undefined;
      out.push(parseHeader(this.#chunks.take(head, true), bodies, this.#chunks));
    }
  }
}
