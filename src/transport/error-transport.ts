/**
 * @module error-transport
 * Delivers nothing: every envelope fails (or defers) with the reply stored in its route.
 * Used for alias targets `error:5.x.x text`, expansion loops and per-recipient loop detection,
 * so that the failure reaches the sender as a DSN instead of being dropped.
 * Standards: RFC 3464 (the failure becomes a DSN), RFC 3463 codes as given by the route.
 * Security: none. Limitations: none.
 */
import { statusForAll, type DeliveryRequest, type DeliveryStatus, type EnhancedStatus, type Transport } from '../core/index.js';

export class ErrorTransport implements Transport {
  readonly name = 'error';
  async deliver(req: DeliveryRequest): Promise<DeliveryStatus[]> {
    const m = /^(\d{3})(?: ([245]\.\d{1,3}\.\d{1,3}))?\s*(.*)$/.exec(req.route.nextHop);
    const code = m ? Number(m[1]) : 550;
    const status = (m?.[2] ?? (code >= 500 ? '5.0.0' : '4.0.0')) as EnhancedStatus;
    const text = m?.[3] || 'Delivery failed';
    const reply = { code, status, lines: [text] };
    return statusForAll(req, code >= 500 ? 'failed' : 'delayed', status, { reply });
  }
}
