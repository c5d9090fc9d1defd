/**
 * @module acceptor-notice
 * The frames an SMTP acceptor process (`[smtp] processes`, issue 19) sends the server on a pipe
 * of their own (fd 4 of the acceptor: acceptor-pool.ts forks it so): each frame is one notice,
 * the new envelopes of one turn of the acceptor's event loop with each record's place in its
 * segment, the mail events of that turn (acceptor-events.ts), and each record's body as it is,
 * so the server delivers without reading the segment.
 *
 *   frame = header length (u32 BE) · bodies' length (u32 BE) · header (JSON, UTF-8) · bodies
 *
 * The header is { envelopes, places, events, bodies: [[messageId, length], …] }; the bodies
 * follow in that order, octet for octet. Node's IPC channel (JSON lines) carried the notices
 * before: each body went as a latin1 string, escaped into JSON, encoded as UTF-8, split into
 * lines and parsed again (docs/performance.md, "the acceptor's notice").
 * Standards: none.
 * Security: the pipe joins the server to a child it forked, running as the same user; still, a
 *   frame that does not decode (a length over the limit, a header that is not the shape above)
 *   ends the reading with an error naming it, never a crash: the records stay in the spool and
 *   the server's rescans find them.
 * Limitations: a frame is whole in memory on both sides (the bodies are the small messages the
 *   acceptor committed to segments, each at most a segment record).
 */
import type { Envelope, MessageId } from '../core/index.js';
import type { SegRef } from '../queue/index.js';
import type { RelayedEvent } from './acceptor-events.js';

/** One notice: new envelopes, each record's place, the events of the turn, the bodies by message. */
export interface Queued {
  envelopes: Envelope[];
  places: Record<MessageId, SegRef>;
  events: RelayedEvent[];
  bodies: Map<MessageId, Buffer>;
}

/** the acceptor's descriptor of the notice pipe (stdio 0–2, then Node's IPC channel at 3) */
export const noticeFd = 4;

/** the most a frame's header and its bodies may each hold (a notice carries small messages) */
export const maxFramePart = 256 * 1024 * 1024;

/** A notice as the buffers to write (header, then each body as it is: no copy). */
export function encodeNotice(q: Queued): Buffer[] {
  const lengths: [MessageId, number][] = [];
  let bodies = 0;
  for (const [id, body] of q.bodies) {
    lengths.push([id, body.length]);
    bodies += body.length;
  }
  const json = Buffer.from(JSON.stringify({ envelopes: q.envelopes, places: q.places, events: q.events, bodies: lengths }), 'utf8');
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32BE(json.length, 0);
  head.writeUInt32BE(bodies, 4);
  return [head, json, ...q.bodies.values()];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The chunks the pipe gave that a frame has not used yet, read without joining them. */
class Chunks {
  #list: Buffer[] = [];
  /** octets of #list[0] already used */
  #at = 0;
  held = 0;

  add(chunk: Buffer): void {
    this.#list.push(chunk);
    this.held += chunk.length;
  }

  /** The next `n` octets, taken: a view of the chunk when they lie in one (`view`), else a copy of their own. */
  take(n: number, view: boolean): Buffer {
    const first = this.#list[0];
    let out: Buffer;
    if (view && first.length - this.#at >= n) out = first.subarray(this.#at, this.#at + n);
    else {
      // not from the pool: a body kept in the message cache holds only itself
      out = Buffer.allocUnsafeSlow(n);
      let filled = 0;
      let i = 0;
      let from = this.#at;
      while (filled < n) {
        filled += this.#list[i].copy(out, filled, from, Math.min(this.#list[i].length, from + n - filled));
        if (filled < n) {
          i++;
          from = 0;
        }
      }
    }
    this.#skip(n);
    return out;
  }

  #skip(n: number): void {
    this.held -= n;
    this.#at += n;
    while (this.#list.length > 0 && this.#at >= this.#list[0].length) {
      this.#at -= this.#list[0].length;
      this.#list.shift();
    }
  }
}

/** The header's fields checked for shape (their contents are checked where they are used: FsQueueStore.adopt). */
function parseHeader(text: string, bodiesLength: number, chunks: Chunks): Queued {
  const h: unknown = JSON.parse(text);
  if (!isRecord(h) || !Array.isArray(h.envelopes) || !isRecord(h.places) || !Array.isArray(h.events) || !Array.isArray(h.bodies)) {
    throw new Error('notice header: not { envelopes, places, events, bodies }');
  }
  const entries = h.bodies as unknown[];
  let sum = 0;
  for (const b of entries) {
    if (!Array.isArray(b) || typeof b[0] !== 'string' || !Number.isSafeInteger(b[1]) || (b[1] as number) < 0) {
      throw new Error('notice header: a body entry is not [messageId, length]');
    }
    sum += b[1] as number;
  }
  if (sum !== bodiesLength) throw new Error(`notice: the bodies are ${bodiesLength} octets, the header says ${sum}`);
  const byId = new Map<MessageId, Buffer>();
  for (const b of entries as [MessageId, number][]) byId.set(b[0], chunks.take(b[1], false));
  return { envelopes: h.envelopes as Envelope[], places: h.places as Record<MessageId, SegRef>, events: h.events as RelayedEvent[], bodies: byId };
}

/** Reads frames from the pipe's chunks as they come (a frame may span chunks, a chunk hold several). */
export class NoticeReader {
  readonly #chunks = new Chunks();
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
      out.push(parseHeader(this.#chunks.take(head, true).toString('utf8'), bodies, this.#chunks));
    }
  }
}
