/**
 * @module past-trace
 * The trace of a message that has left the queue, from the delivery history serve keeps
 * (log/delivery-history.ts): how it was received, each recipient's route, every attempt, and how
 * each recipient left (delivered, bounced, expired). The same MessageTrace value as a queued
 * message's, so `correio trace` prints both alike; for a message still queued, the recipients
 * that have already left it (one delivered while another waits) come from here too.
 * Standards: seed §2 (each attempt recorded); RFC 3464 §2.3.3 (action values).
 * Security: addresses and replies only, as the log has them.
 * Limitations: messages received before the history kept the alias chain (`given`, `via` on
 *   queued events) and the Received field (`receivedField`) show the recipient as resolved and
 *   the client, HELO name and protocol instead. A queued message's recipient that left the queue
 *   shows only while the history keeps its events (`[log] history`).
 */
import { envelopeIndexOf, type QueueStore } from '../core/index.js';
import { findHistory, type HistoryEvent } from '../log/index.js';
import { attemptLine, isoTime, outcomeText } from './queue-report.js';
import { traceMessage, type MessageTrace, type RecipientTrace } from './message-trace.js';

function text(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

/** One attempt's line as `describeAttempt` writes it: time, host [ip]: reply or local cause. */
function eventAttempt(e: HistoryEvent): string {
  const opt = (v: unknown): string | undefined => (v === undefined ? undefined : text(v));
  return attemptLine(e.time, opt(e.host), opt(e.ip), outcomeText(opt(e.reply), opt(e.error), text(e.status)));
}

/** given → each alias, role or list followed → recipient, as message-trace.ts builds it from the envelope */
function chainOf(given: string, via: readonly string[], recipient: string): string[] {
  const chain = [...via];
  if (chain.length === 0 || chain[0].toLowerCase() !== given.toLowerCase()) chain.unshift(given);
  if (chain.at(-1)?.toLowerCase() !== recipient.toLowerCase()) chain.push(recipient);
  return chain;
}

const final = new Set(['delivered', 'bounced', 'expired']);

/** The trace of a message from its kept events (oldest first); undefined when there are none. */
export function pastTrace(events: readonly HistoryEvent[]): MessageTrace | undefined {
  if (events.length === 0) return undefined;
  const received = events.find((e) => e.event === 'received');
  const queued = events.filter((e) => e.event === 'queued');
  const ids = [...new Set([...queued.map((e) => text(e.envelopeId)), ...events.filter((e) => final.has(e.event) || e.event === 'deferred').map((e) => text(e.envelopeId))])];
  const recipients: RecipientTrace[] = ids.map((envelopeId) => {
    const mine = events.filter((e) => text(e.envelopeId) === envelopeId);
    const q = mine.find((e) => e.event === 'queued');
    const recipient = text((q ?? mine[0]).recipient);
    const given = q?.given !== undefined ? text(q.given) : recipient;
    const chain = chainOf(given, Array.isArray(q?.via) ? q.via.map(text) : [], recipient);
    const attempts = mine.filter((e) => e.event !== 'queued' && e.event !== 'admin');
    const end = mine.find((e) => final.has(e.event));
    // an operator's delete or bounce of the message (or of this envelope), logged by the server
    const op = events.find((e) => e.event === 'admin' && (e.action === 'delete' || e.action === 'bounce') && (text(e.id) === envelopeId || text(e.id) === text(e.messageId)));
    const offline = op?.server === false ? ', the server stopped' : '';
    if (end === undefined && op !== undefined) {
      const deleted = op.action === 'delete';
      return {
        envelopeId, given, recipient, chain, route: text((q ?? mine[0]).route),
        attempts: attempts.map(eventAttempt), delayWarnedAt: null,
        state: deleted ? 'deleted' : 'bounced',
        detail: `${deleted ? 'deleted' : 'bounced'} by ${text(op.by)} ${isoTime(op.time)}${offline}`,
        queueState: 'removed',
      };
    }
    const state = end === undefined ? 'deferred' : end.event === 'delivered' ? 'delivered' : (end.event as 'bounced' | 'expired');
    return {
      envelopeId,
      given,
      recipient,
      chain,
      route: text((q ?? mine[0]).route),
      attempts: attempts.map(eventAttempt),
      delayWarnedAt: null,
      state,
      detail: end === undefined ? 'no outcome in the history (its last events were lost, e.g. in a crash)' : `left the queue ${isoTime(end.time)}`,
      queueState: end === undefined ? 'unknown' : 'removed',
    };
  });
  const first = received ?? events[0];
  const heloPart = received?.helo !== undefined ? `from ${text(received.helo)} ` : '';
  return {
    id: text(first.messageId),
    arrivedAt: isoTime(typeof first.arrivedAt === 'number' ? first.arrivedAt : first.time),
    sender: text(received?.sender),
    size: typeof received?.size === 'number' ? received.size : 0,
    received: received ? `${heloPart}(${text(received.client)}) with ${text(received.protocol)}` : null,
    ...(typeof received?.receivedField === 'string' && { receivedField: received.receivedField }),
    recipients,
    fromHistory: true,
  };
}

const envelopeNumber = (id: string): number => envelopeIndexOf(id) ?? 0;

/**
 * What `correio trace` and the admin API's trace tell: a queued message (`queued`) with every
 * recipient, those that have already left the queue (delivered, bounced, expired, deleted) taken
 * from its history `events`, in envelope order; a message gone from the queue from its history
 * alone; undefined when neither knows it.
 */
export function completeTrace(queued: MessageTrace | undefined, events: readonly HistoryEvent[]): MessageTrace | undefined {
  if (queued === undefined) return pastTrace(events);
  const here = new Set(queued.recipients.map((r) => r.envelopeId));
  const left = (pastTrace(events)?.recipients ?? []).filter((r) => !here.has(r.envelopeId) && r.queueState === 'removed');
  if (left.length === 0) return queued;
  return { ...queued, recipients: [...queued.recipients, ...left].sort((a, b) => envelopeNumber(a.envelopeId) - envelopeNumber(b.envelopeId)) };
}

/**
 * What `correio trace` and the admin API's trace tell of a message or envelope id: the queued
 * message with its recipients that already left it, or a message gone from the queue, from
 * serve's delivery history in `dataDir` (completeTrace); undefined when neither knows it.
 */
export async function traceWithHistory(store: QueueStore, dataDir: string, id: string): Promise<MessageTrace | undefined> {
  return completeTrace(await traceMessage(store, id), await findHistory(dataDir, id));
}
