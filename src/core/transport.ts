/**
 * @module transport
 * A transport delivers one message to many recipients that share a route, and says per
 * recipient what happened, shaped like a DSN per-recipient field group.
 * Standards: RFC 3464 §2.3 (Action, Status, Remote-MTA, Diagnostic-Code).
 * Security: transports never throw for a recipient's failure; they return it.
 * Limitations: none.
 */
import type { Readable } from 'node:stream';
import type { Envelope, MessageId, Route } from './envelope.js';
import type { ReversePath } from './address.js';
import type { EnhancedStatus, SmtpReply } from './smtp-reply.js';

export interface DeliveryRequest {
  readonly route: Route;
  readonly messageId: MessageId;
  readonly sender: ReversePath;
  /** all envelopes of this message on this route */
  readonly envelopes: readonly Envelope[];
  /** opens the stored message (CRLF line ends, not dot-stuffed); may be called more than once */
  openMessage(): Promise<Readable>;
  readonly size: number;
  /**
   * Envelopes of this request that no delivery can have stored before: the queue took them from
   * an acceptor's notice (a record no scan had seen) and this is their first try. A transport
   * may skip its look for an earlier copy of them (the local transport: the store's freshKey, no
   * look in cur/ and a rename() into new/ that would replace, not find, such a copy).
   */
  readonly neverTried?: ReadonlySet<string>;
}

export type DeliveryAction = 'delivered' | 'relayed' | 'expanded' | 'delayed' | 'failed';

export interface DeliveryStatus {
  readonly envelopeId: string;
  /** delivered/relayed/expanded: done; delayed: retry later; failed: bounce */
  readonly action: DeliveryAction;
  readonly status: EnhancedStatus;
  /** the remote server's reply, when there was one */
  readonly reply?: SmtpReply;
  /** the host that answered or was tried (Remote-MTA) */
  readonly remoteMta?: string;
  readonly ip?: string;
  /** local failure text when there was no remote reply */
  readonly error?: string;
  /** set when the next hop does not do DSN itself and NOTIFY=SUCCESS was asked (relayed) */
  readonly remoteDsn?: boolean;
}

/** What a DeliveryStatus says beside its envelope, action and status. */
export type StatusDetail = Omit<Partial<DeliveryStatus>, 'envelopeId' | 'action' | 'status'>;

/**
 * The same outcome for every envelope of a request (a transport that delivers the message once
 * for all its recipients: a file, a command, a list), with extra fields such as `error`.
 */
export function statusForAll(
  req: DeliveryRequest,
  action: DeliveryAction,
  status: EnhancedStatus,
  extra: StatusDetail = {},
): DeliveryStatus[] {
  return req.envelopes.map((e) => ({ envelopeId: e.id, action, status, ...extra }));
}

export interface Transport {
  readonly name: string;
  deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]>;
}

/** One envelope with the outcome of its last attempt. */
export interface DeliveryReport {
  readonly envelope: Envelope;
  readonly result: DeliveryStatus;
}

/**
 * Sends delivery status notifications (RFC 3464) to a message's envelope sender: a failure
 * report (bounce), a delay warning, or a success notice. Implementations re-enter through intake
 * with the null sender; a notice for a message from "<>" goes to postmaster, never bounced again.
 */
export interface Notifier {
  notify(kind: 'failure' | 'delay' | 'success', messageId: MessageId, reports: readonly DeliveryReport[]): Promise<void>;
}
