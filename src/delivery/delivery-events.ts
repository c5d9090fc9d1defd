/**
 * @module delivery-events
 * What the dispatcher tells the mail log and metrics, through diagnostics_channel (core never
 * imports the logger): one event per recipient outcome (delivered, deferred, bounced, expired)
 * and errors that have no one else to go to.
 * Standards: none.
 * Security: the remote reply is logged as received (one line, formatted); no message content.
 * Limitations: none.
 */
import { channel } from 'node:diagnostics_channel';
import { addressToString, channels, formatReply, routeKey, type DeliveryStatus, type Envelope } from '../core/index.js';

/** Publishes one recipient's outcome on `channels[name]` (only when someone listens). */
export function publishOutcome(name: 'delivered' | 'deferred' | 'bounced' | 'expired', env: Envelope, r: DeliveryStatus): void {
  const ch = channel(channels[name]);
  if (!ch.hasSubscribers) return;
  ch.publish({
    envelopeId: env.id,
    messageId: env.messageId,
    recipient: addressToString(env.recipient),
    route: routeKey(env.route),
    status: r.status,
    action: r.action,
    ...(r.reply && { reply: formatReply(r.reply) }),
    ...(r.remoteMta && { host: r.remoteMta }),
    ...(r.ip && { ip: r.ip }),
    ...(r.error && { error: r.error }),
    attempts: env.attempts.length,
    // when the message was accepted: the delivery delay (metrics; Postfix's delay=)
    arrivedAt: env.arrivedAt,
  });
}

/** Publishes an error on channels.error with where it happened. */
export function publishError(err: unknown, where: string): void {
  const ch = channel(channels.error);
  if (ch.hasSubscribers) ch.publish({ error: err, where });
}
