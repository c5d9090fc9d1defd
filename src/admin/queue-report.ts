/**
 * @module queue-report
 * The operator's view of queued messages, shared by `correio queue`/`mailq`/`trace` and the
 * admin API: the state word of each envelope (active, deferred, held, bouncing, delivered),
 * attempts in one line, the JSON shape of a message (what `queue list --json` prints and
 * GET /api/admin/v1/queue returns), and the filters of a listing.
 * Standards: seed §2 (deferred mail is kept and retried; each attempt recorded).
 * Security: read-only; shows envelope data only, never bodies.
 * Limitations: none.
 */
import { addressToString, formatReply, messageIdOfEnvelope, reversePathToString, type Attempt, type Envelope, type StatedEnvelope } from '../core/index.js';
import { type QueuedMessage } from '../queue/index.js';
import { isUniqueId, uniqueIdTimePrefix } from '../util/index.js';

/** "2024-05-01T10:52:37Z" */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The operator's word for an envelope's state (mailq's column). */
export type StateLabel = 'active' | 'deferred' | 'held' | 'bouncing' | 'delivered';
export const stateLabels: readonly StateLabel[] = ['active', 'deferred', 'held', 'bouncing', 'delivered'];

/**
 * The operator's word for an envelope's state: held; bouncing (failure notice pending);
 * delivered (success notice pending); deferred (waiting for its next attempt); active (due now).
 */
export function stateLabel(env: StatedEnvelope, now: number = Date.now()): StateLabel {
  if (env.state === 'held') return 'held';
  if (env.state === 'notice-pending' && env.notice === 'failure') return 'bouncing';
  if (env.state === 'notice-pending' && env.notice === 'success') return 'delivered';
  if (env.state !== 'queued' && env.nextAttemptAt > now) return 'deferred';
  return 'active';
}

/** The explicit state, with the kind of a pending notice: "notice-pending (failure)", "held (failure notice pending)". */
export function stateText(env: StatedEnvelope): string {
  if (env.notice === undefined) return env.state;
  return env.state === 'notice-pending' ? `notice-pending (${env.notice})` : `${env.state} (${env.notice} notice pending)`;
}

/**
 * The outcome of one attempt in one line: the reply, with the local cause when there is one
 * (a reply such as 451 4.4.3 is correio's own word for a DNS failure; the cause says which),
 * or the local cause alone.
 */
export function attemptText(a: Attempt): string {
  return outcomeText(a.reply && formatReply(a.reply), a.error, a.status);
}

/** attemptText from the reply as a line (the history keeps it so). */
export function outcomeText(reply: string | undefined, error: string | undefined, status: string): string {
  if (reply !== undefined) return error !== undefined ? `${reply} (${error})` : reply;
  return error !== undefined ? `${status} ${error}` : status;
}

export function lastError(env: Envelope): string | undefined {
  const a = env.attempts.at(-1);
  return a ? attemptText(a) : undefined;
}

/** "2024-05-01T10:52:37Z mx.example.net [192.0.2.1]: 451 4.3.0 ..." */
export function describeAttempt(a: Attempt): string {
  return attemptLine(a.at, a.host, a.ip, attemptText(a));
}

/** The line of describeAttempt from its parts. */
export function attemptLine(at: number, host: string | undefined, ip: string | undefined, outcome: string): string {
  const where = [host, ip !== undefined ? `[${ip}]` : undefined].filter((x) => x !== undefined).join(' ');
  return `${isoTime(at)}${where ? ` ${where}` : ''}: ${outcome}`;
}

export function routeText(env: Envelope): string {
  return `${env.route.transport}:${env.route.nextHop}`;
}

function attemptJson(a: Attempt): Record<string, unknown> {
  return {
    at: isoTime(a.at),
    host: a.host ?? null,
    ip: a.ip ?? null,
    status: a.status,
    reply: a.reply ? formatReply(a.reply) : null,
    error: a.error ?? null,
  };
}

function envelopeJson(env: StatedEnvelope, now: number, full: boolean): Record<string, unknown> {
  const base: Record<string, unknown> = {
    envelopeId: env.id,
    recipient: addressToString(env.recipient),
    originalRecipient: env.originalRecipient ? addressToString(env.originalRecipient) : null,
    route: routeText(env),
    state: stateLabel(env, now),
    queueState: env.state,
    notice: env.notice ?? null,
    held: env.state === 'held',
    attempts: env.attempts.length,
    nextAttemptAt: env.nextAttemptAt > 0 ? isoTime(env.nextAttemptAt) : null,
    lastError: lastError(env) ?? null,
  };
  if (!full) return base;
  return {
    ...base,
    attempts: env.attempts.map(attemptJson),
    resolvedVia: env.resolvedVia ?? [],
    dsn: env.dsn,
    body: env.body ?? null,
    delayWarnedAt: env.delayWarnedAt !== undefined ? isoTime(env.delayWarnedAt) : null,
  };
}

/** One message as `queue list --json` (full: `queue show --json`) prints it. */
export function messageJson(m: QueuedMessage, now: number, full = false): Record<string, unknown> {
  return {
    id: m.messageId,
    size: m.size,
    arrivedAt: isoTime(m.arrivedAt),
    sender: reversePathToString(m.sender),
    recipients: m.envelopes.map((e) => envelopeJson(e, now, full)),
  };
}

/** What a listing may be narrowed to; every given field must match. */
export interface QueueFilter {
  /** any envelope in this state */
  readonly state?: StateLabel;
  /** case-insensitive substring of the envelope sender */
  readonly sender?: string;
  /** case-insensitive substring of any recipient (or its original form) */
  readonly recipient?: string;
  /** case-insensitive substring of any envelope's route ("smtp:mx.example.net") */
  readonly route?: string;
}

function has(text: string, part: string): boolean {
  return text.toLowerCase().includes(part.toLowerCase());
}

/** Messages matching the filter (messages whose envelopes match, with all their envelopes). */
export function filterQueue(queue: readonly QueuedMessage[], f: QueueFilter, now: number = Date.now()): QueuedMessage[] {
  return queue.filter((m) => {
    if (f.sender !== undefined && !has(reversePathToString(m.sender), f.sender)) return false;
    return m.envelopes.some((e) =>
      (f.state === undefined || stateLabel(e, now) === f.state) &&
      (f.recipient === undefined || has(addressToString(e.recipient), f.recipient) ||
        (e.originalRecipient !== undefined && has(addressToString(e.originalRecipient), f.recipient))) &&
      (f.route === undefined || has(routeText(e), f.route)));
  });
}

/** What `--limit`/`limit=` takes: a whole number of messages from 1 to this */
export const maxPageLimit = 1_000_000;

/** A page size from its text, or undefined when it is not a whole number from 1 to maxPageLimit. */
export function parsePageLimit(text: string): number | undefined {
  if (!/^\d{1,7}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= maxPageLimit ? n : undefined;
}

/**
 * Where a listing starts, from `--since`/`since=`: a message id (or an envelope id: its message)
 * lists the messages after it, the previous page's last id being the cursor of the next page;
 * an ISO 8601 time (with a date and a "T" or a zone, e.g. 2026-12-05T21:00:00Z) lists the
 * messages received from then on (message ids begin with that time). Undefined when it is neither.
 */
export function parseSince(text: string): string | undefined {
  // only ids of the form correio makes (a word such as "yesterday" would pass as an id)
  if (isUniqueId(text)) return text;
  const envelopeOf = messageIdOfEnvelope(text);
  if (envelopeOf !== undefined && isUniqueId(envelopeOf)) return envelopeOf;
  if (!/^\d{4}-\d{2}-\d{2}([T ].*)?$/.test(text)) return undefined;
  const ms = Date.parse(text);
  // the prefix sorts before every id made at that time (exclusive "after" = inclusive "from")
  return Number.isFinite(ms) && ms >= 0 ? uniqueIdTimePrefix(ms) : undefined;
}

/** The line that says what --since/since= takes (for the CLI's and the API's errors). */
export const sinceForms = 'a message id (the last one of the previous page) or a time such as 2026-12-05T21:00:00Z';
