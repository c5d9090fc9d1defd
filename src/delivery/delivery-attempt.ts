/**
 * @module delivery-attempt
 * One delivery batch handed to the transport of its route, always answered with a status per
 * recipient: a missing transport or a transport that throws is a temporary failure (4.3.5,
 * 4.3.0), and a local failure without a remote reply while the runner stops is recorded as the
 * shutdown's doing, so the envelope stays queued and due at once.
 * Standards: RFC 3463 (4.3.0, 4.3.5), RFC 5321 §4.5.4.1 (a temporary failure is retried).
 * Security: none.
 * Limitations: recipients the transport leaves out are the caller's to fill in.
 */
import { statusForAll, type DeliveryRequest, type DeliveryStatus, type QueueStore, type Transport } from '../core/index.js';
import { shutdownError, type Batch } from '../queue/index.js';

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function attemptDelivery(
  b: Batch, transports: ReadonlyMap<string, Transport>, store: QueueStore, signal: AbortSignal, neverTried?: ReadonlySet<string>,
): Promise<DeliveryStatus[]> {
  const transport = transports.get(b.route.transport);
  const req: DeliveryRequest = {
    route: b.route,
    messageId: b.messageId,
    sender: b.envelopes[0].sender,
    envelopes: b.envelopes,
    size: b.envelopes[0].size,
    openMessage: () => store.openMessage(b.messageId),
    ...(neverTried && neverTried.size > 0 && { neverTried }),
  };
  let results: DeliveryStatus[];
  if (!transport) {
    results = statusForAll(req, 'delayed', '4.3.5', { error: `no transport "${b.route.transport}" configured` });
  } else {
    try {
      results = await transport.deliver(req, signal);
    } catch (err) {
      results = statusForAll(req, 'delayed', '4.3.0', { error: errorText(err) });
    }
  }
  // stopped midway: a local failure without a remote reply is the shutdown's doing
  if (signal.aborted) {
    results = results.map((r) => (r.action === 'delayed' && r.reply === undefined ? { envelopeId: r.envelopeId, action: 'delayed', status: '4.3.0', error: shutdownError } : r));
  }
  return results;
}
