/**
 * @module envelope
 * One recipient's delivery state for a stored message (store once, one envelope per recipient).
 * An envelope's state is explicit (EnvelopeState): only the pure functions of
 * queue/envelope-transitions.ts change it; intake commits new envelopes as `queued`; one
 * written before states existed has none and gets one once, when it is loaded (`withState`).
 * Standards: RFC 5321 §4.5.4 (retry strategy), RFC 3461 (DSN parameters), seed §2 (spool entries).
 * Security: an envelope is trusted data written by us; never fill it from unvalidated input.
 * Limitations: none.
 */
import type { Address, ReversePath } from './address.js';
import type { EnhancedStatus, SmtpReply } from './smtp-reply.js';

export type MessageId = string;
export type EnvelopeId = string;

/**
 * A message id is util's uniqueId (lower-case base32), an envelope id "<messageId>-<n>" (n from
 * 1, in the order of the recipients given to commit). Only ids of this alphabet are accepted
 * (no "/", no ".", bounded length): an id becomes a file name in the files queue. The grammar is
 * here, not in queue/, so the layers beside queue (log/'s delivery history) read ids by it too.
 */
const idPattern = /^[0-9a-z]{1,64}$/;
const envelopeSeparator = '-';

/** Whether `id` has the form of a message id (and so is safe as a file name). */
export function isQueueId(id: string): boolean {
  return idPattern.test(id);
}

/** The id of a message's `index`-th envelope (0-based index; ids count from 1). */
export function envelopeIdOf(messageId: MessageId, index: number): EnvelopeId {
  return `${messageId}${envelopeSeparator}${index + 1}`;
}

/** The n of an envelope id "<messageId>-<n>" (its index in the message), or undefined. */
export function envelopeIndexOf(id: EnvelopeId): number | undefined {
  return messageIdOfEnvelope(id) === undefined ? undefined : Number(id.slice(id.lastIndexOf(envelopeSeparator) + 1));
}

/** The message id an envelope id belongs to (envelope ids are "<messageId>-<n>"). */
export function messageIdOfEnvelope(id: EnvelopeId): MessageId | undefined {
  const i = id.lastIndexOf(envelopeSeparator);
  if (i <= 0) return undefined;
  const msg = id.slice(0, i);
  return idPattern.test(msg) && /^\d{1,6}$/.test(id.slice(i + 1)) ? msg : undefined;
}

/**
 * Where an envelope goes: a transport and its next hop.
 * - local:    nextHop is the mailbox owner's address ("user@domain")
 * - smtp:     nextHop is the destination domain, or "[ip]:port" / "host:port" for a static route
 * - lmtp, pipe, file, http, error: gateways; nextHop is transport specific
 */
export interface Route {
  readonly transport: string;
  readonly nextHop: string;
}

export function routeKey(r: Route): string {
  return `${r.transport}:${r.nextHop}`;
}

/** RFC 3461 parameters carried from MAIL/RCPT to the envelope. */
export interface DsnParams {
  /** NOTIFY=NEVER or a set of SUCCESS, FAILURE, DELAY; undefined = the default (FAILURE, DELAY). */
  notify?: ('NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY')[];
  /** ORCPT, as "addr-type;address" decoded from xtext. */
  orcpt?: string;
  ret?: 'FULL' | 'HDRS';
  envid?: string;
}

/** The kinds of delivery status notification (RFC 3464): failure (bounce), delay warning, success. */
export type NoticeKind = 'failure' | 'delay' | 'success';

/**
 * Where an envelope stands (the glossary's states):
 * - queued:         due at nextAttemptAt (0 = now): not tried yet, or flushed/released by the operator
 * - deferred:       tried, failed temporarily; tried again at nextAttemptAt
 * - held:           the operator's hold: never tried until released (`notice` keeps a pending notice)
 * - notice-pending: a notice of kind `notice` must be sent; failure/success: the envelope leaves
 *                   the spool once it is sent (tried at nextAttemptAt); delay: it goes back to deferred
 * An envelope that is done (delivered without a notice, or its notice sent) is removed.
 */
export type EnvelopeState = 'queued' | 'deferred' | 'held' | 'notice-pending';

export const envelopeStates: readonly EnvelopeState[] = ['queued', 'deferred', 'held', 'notice-pending'];

/** RFC 3461 §4.1: whether NOTIFY asks for this kind of notice (no NOTIFY = FAILURE,DELAY). */
export function notifyWants(notify: readonly string[] | undefined, kind: NoticeKind): boolean {
  if (notify === undefined || notify.length === 0) return kind !== 'success';
  if (notify.includes('NEVER')) return false;
  return notify.includes(kind === 'failure' ? 'FAILURE' : kind === 'delay' ? 'DELAY' : 'SUCCESS');
}

/** One delivery attempt, as the seed asks: each attempt is recorded. */
export interface Attempt {
  /** ms since epoch */
  readonly at: number;
  /** the host name tried, if any */
  readonly host?: string;
  /** the IP address tried, if any */
  readonly ip?: string;
  /** the remote reply, when there was one */
  readonly reply?: SmtpReply;
  /** the local failure when there was no reply: "connection refused", "timeout", "TLS error" ... */
  readonly error?: string;
  readonly status: EnhancedStatus;
}

export interface Envelope {
  readonly id: EnvelopeId;
  readonly messageId: MessageId;
  readonly sender: ReversePath;
  readonly recipient: Address;
  /** the address as first given at RCPT, before alias expansion */
  readonly originalRecipient?: Address;
  readonly route: Route;
  /** ms since epoch when the message was accepted */
  readonly arrivedAt: number;
  /** message size in octets as stored */
  readonly size: number;
  readonly attempts: readonly Attempt[];
  /** ms since epoch; 0 = as soon as possible */
  readonly nextAttemptAt: number;
  readonly dsn: DsnParams;
  /** body type from MAIL (RFC 6152, RFC 6531) */
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtpUtf8?: boolean;
  /** see EnvelopeState; absent on envelopes written before states existed (intake commits new ones as queued) */
  readonly state?: EnvelopeState;
  /** the notice pending (state notice-pending, or held with a failure/success notice pending) */
  readonly notice?: NoticeKind;
  /**
   * true while held: written with state 'held' by the transitions so that an older correio
   * reading this spool still sees the hold; `state` is the truth
   */
  readonly held?: boolean;
  /** set once a delay warning was sent */
  readonly delayWarnedAt?: number;
  /** trace of how the recipient was resolved (alias chain), for `correio trace` */
  readonly resolvedVia?: readonly string[];
}

/** What intake gives the store for each envelope; the store assigns ids. */
export type EnvelopeInit = Omit<Envelope, 'id' | 'messageId' | 'attempts'> & { attempts?: readonly Attempt[] };

/** An envelope whose state is known: what the scheduler, the dispatcher and queue control handle. */
export type StatedEnvelope = Envelope & { readonly state: EnvelopeState };
