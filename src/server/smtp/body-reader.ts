/**
 * @module body-reader
 * Reading a transaction's body off the connection: a DATA body up to its end of data, and
 * BDAT chunks, each within one transfer budget, handed to the intake whole or streamed.
 * Standards: RFC 5321 §4.1.1.4 (DATA, end of data), §4.5.2 (dot-unstuffing), §4.5.3.2.6
 *   (the DATA timeout); RFC 3030 §2 (BDAT: a chunk is read whatever the reply will be).
 * Security: a body or chunk must end within dataTimeoutMs plus one second per minDataRate
 *   octets received, counted from its start, whatever the gaps between its octets (issue 12
 *   item 5): a trickle is cut off, a large message at a fair rate passes. Flaws (bare CR/LF,
 *   over-long lines, size) refuse the whole body after its end (protocol/smtp DataDecoder,
 *   TextChecker); a body past 64 KB is streamed with backpressure, never held whole.
 * Limitations: no BINARYMIME.
 */
import type { Intake, IntakeTransaction } from '../../core/intake.js';
import { DataDecoder, replyForFlaw, type BdatReader, type DataFlaw, type TextChecker } from '../../protocol/smtp/index.js';
import type { LineConnection } from '../connection/index.js';
import { BodySink, WholeBody } from './body-sink.js';

/** a DATA body up to this size is handed to the intake whole; a larger one is streamed */
const WHOLE_LIMIT = 64 * 1024;

export interface BodyReaderOptions {
  readonly intake: Intake;
  readonly maxMessageSize: number;
  readonly dataTimeoutMs: number;
  /** octets per second that extend dataTimeoutMs */
  readonly minDataRate: number;
}

/** How a read ended early: the peer went away, or the budget ran out (421 4.4.2 follows). */
export type BodyReadEnd = 'closed' | 'timeout';

/** The DATA body read to its end, with the flaw that refuses it, if any. */
export interface DataBody {
  readonly body: BodySink | WholeBody;
  readonly flaw: DataFlaw | undefined;
}

/** The time a body or chunk may take: dataTimeoutMs from `start` plus received / minDataRate seconds. */
function deadline(o: BodyReaderOptions, start: number, received: number): number {
  return start + o.dataTimeoutMs + (received * 1000) / o.minDataRate;
}

/** Reads a DATA body (after the 354) to its end of data; what follows it stays buffered. */
export async function readDataBody(conn: LineConnection, o: BodyReaderOptions, tx: IntakeTransaction): Promise<DataBody | BodyReadEnd> {
  const decoder = new DataDecoder({ maxSize: o.maxMessageSize });
  // A body that stays small (most mail) is collected and handed to the intake whole when DATA
  // ends: no stream and no concurrent intake per message. Once it passes WHOLE_LIMIT it streams
  // to the intake with backpressure from then on, never held whole.
  let held: Buffer[] = [];
  let heldSize = 0;
  let sink: BodySink | undefined;
  const start = Date.now();
  let received = 0;
  for (;;) {
    if (conn.buffered === 0) {
      const w = await conn.waitInput(deadline(o, start, received));
      if (w === 'closed' || w === 'timeout') {
        await sink?.abort();
        return w;
      }
      continue;
    }
    const input = conn.take();
    received += input.length;
    const r = decoder.push(input);
    let pieces = r.body;
    if (decoder.flaw !== undefined) {
      // refused after the end of data whatever follows: nothing more is kept
      sink?.fail(replyForFlaw(decoder.flaw));
      held = [];
      pieces = [];
    } else if (!sink) {
      for (const p of pieces) {
        held.push(p);
        heldSize += p.length;
      }
      pieces = [];
      if (heldSize > WHOLE_LIMIT) {
        sink = new BodySink(o.intake, tx);
        pieces = held;
        held = [];
      }
    }
    if (sink && pieces.length > 0 && !(await sink.write(pieces, o.dataTimeoutMs, conn.gone))) {
      await sink.abort();
      return 'timeout';
    }
    if (r.done) {
      conn.unshift(r.rest);
      return { body: sink ?? new WholeBody(o.intake, tx, held), flaw: decoder.flaw };
    }
  }
}

/**
 * Reads one BDAT chunk into `target` (its sink and checker), or discards it when the command
 * is refused (`target` undefined); what follows it stays buffered.
 */
export async function readChunk(
  conn: LineConnection,
  o: BodyReaderOptions,
  reader: BdatReader,
  target: { readonly sink: BodySink; readonly checker: TextChecker } | undefined,
): Promise<BodyReadEnd | undefined> {
  const start = Date.now();
  let received = 0;
  // RFC 3030 §2: the chunk is read whatever the reply will be
  while (reader.remaining > 0) {
    if (conn.buffered === 0) {
      const w = await conn.waitInput(deadline(o, start, received));
      if (w === 'closed' || w === 'timeout') return w;
      continue;
    }
    const r = reader.push(conn.take());
    received += r.data?.length ?? 0;
    if (r.done) conn.unshift(r.rest);
    if (!target || !r.data) continue;
    target.checker.push(r.data);
    if (target.checker.flaw !== undefined) target.sink.fail(replyForFlaw(target.checker.flaw));
    else if (!(await target.sink.write([r.data], o.dataTimeoutMs, conn.gone))) return 'timeout';
  }
  return undefined;
}
