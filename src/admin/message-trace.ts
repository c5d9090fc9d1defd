/**
 * @module message-trace
 * The life of one queued message as a value, for `correio trace` and the admin API's trace
 * (the console draws it as a timeline): how it was received (its own Received field and
 * arrival time), how each recipient was resolved (the alias chain recorded on the envelope),
 * every delivery attempt, and where each recipient stands now.
 * Standards: RFC 5321 §4.4 (the Received trace field); RFC 5322 §2.2.3 (unfolding); seed §2
 *   (each attempt recorded).
 * Security: reads only the stored header block (bounded), never the body.
 * Limitations: this value has only the envelopes still queued; a message that has left the
 *   queue, and a queued message's recipients already delivered or bounced, are told from serve's
 *   delivery history (past-trace.ts: completeTrace adds them).
 */
import type { Readable } from 'node:stream';
import { addressToString, messageIdOfEnvelope, type QueueStore } from '../core/index.js';
import { findQueuedMessage, type QueuedMessage } from '../queue/index.js';
import { describeAttempt, isoTime, routeText, stateLabel, stateText, type StateLabel } from './queue-report.js';

/** Header bytes read to find the Received field. */
const HEADER_READ_CAP = 64 * 1024;

export interface RecipientTrace {
  readonly envelopeId: string;
  /** the recipient as given by the sender */
  readonly given: string;
  readonly recipient: string;
  /** given → each alias, role or list followed → recipient */
  readonly chain: readonly string[];
  readonly route: string;
  /** each attempt in one line: time, host [ip]: reply */
  readonly attempts: readonly string[];
  readonly delayWarnedAt: string | null;
  /** a queued envelope's state, or how a recipient left the queue (a trace from the history) */
  readonly state: StateLabel | 'bounced' | 'expired' | 'deleted';
  /** what the state means now: the next attempt, a pending notice */
  readonly detail: string;
  readonly queueState: string;
}

export interface MessageTrace {
  readonly id: string;
  readonly arrivedAt: string;
  readonly sender: string;
  readonly size: number;
  /** our own (topmost) Received field, unfolded; null when absent */
  readonly received: string | null;
  readonly recipients: readonly RecipientTrace[];
  /** the message has left the queue: told from the delivery history (past-trace.ts) */
  readonly fromHistory?: boolean;
  /** from the history: our Received field as it was stored (unfolded), when the history kept it */
  readonly receivedField?: string;
}

/** The first (topmost, i.e. ours) Received field of a stored message, unfolded; undefined when absent. */
async function firstReceived(store: QueueStore, messageId: string): Promise<string | undefined> {
  let stream: Readable;
  try {
    stream = await store.openMessage(messageId);
  } catch {
    return undefined;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const c of stream) {
      const b = c as Buffer;
      chunks.push(b);
      total += b.length;
      if (total >= HEADER_READ_CAP || b.includes('\r\n\r\n')) break;
    }
  } finally {
    stream.destroy();
  }
  const text = Buffer.concat(chunks, total).toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  const head = end >= 0 ? text.slice(0, end + 2) : text;
  // RFC 5322 §2.2.3: unfold CRLF WSP
  const m = /(?:^|\r\n)Received:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)/i.exec(head);
  return m ? m[1].replace(/\r\n/g, '').replace(/\s+/g, ' ').trim() : undefined;
}

function stateDetail(state: StateLabel, nextAttemptAt: number): string {
  switch (state) {
    case 'deferred':
      return `next attempt ${isoTime(nextAttemptAt)}`;
    case 'bouncing':
      return 'failure notice to the sender pending, then removed';
    case 'delivered':
      return 'success notice pending, then removed';
    case 'active':
      return 'due now';
    case 'held':
      return '';
  }
}

export function traceOf(m: QueuedMessage, received: string | undefined, now: number): MessageTrace {
  return {
    id: m.messageId,
    arrivedAt: isoTime(m.arrivedAt),
    sender: m.sender === null ? '' : addressToString(m.sender),
    size: m.size,
    received: received ?? null,
    recipients: m.envelopes.map((e) => {
      const rcpt = addressToString(e.recipient);
      const given = e.originalRecipient ? addressToString(e.originalRecipient) : rcpt;
      const chain = [...(e.resolvedVia ?? [])];
      if (chain.length === 0 || chain[0].toLowerCase() !== given.toLowerCase()) chain.unshift(given);
      if (chain.at(-1)?.toLowerCase() !== rcpt.toLowerCase()) chain.push(rcpt);
      const state = stateLabel(e, now);
      return {
        envelopeId: e.id,
        given,
        recipient: rcpt,
        chain,
        route: routeText(e),
        attempts: e.attempts.map(describeAttempt),
        delayWarnedAt: e.delayWarnedAt !== undefined ? isoTime(e.delayWarnedAt) : null,
        state,
        detail: stateDetail(state, e.nextAttemptAt),
        queueState: stateText(e),
      };
    }),
  };
}

/**
 * The trace of a message or envelope id, or undefined when it is not in the queue. An envelope
 * that has left the queue while its message has not gives its message's trace (completeTrace
 * adds that envelope from the history).
 */
export async function traceMessage(store: QueueStore, id: string, now: number = Date.now()): Promise<MessageTrace | undefined> {
  // an envelope id names its whole message: one read of it, whether the envelope is still there or not
  const m = await findQueuedMessage(store, messageIdOfEnvelope(id) ?? id);
  return m ? traceOf(m, await firstReceived(store, m.messageId), now) : undefined;
}
