/**
 * @module delivery-request
 * Building blocks for the DeliveryRequest a transport test hands to Transport.deliver: an
 * Envelope with neutral defaults, and the message as a stream of small chunks.
 * Limitations: test only; nothing is queued or stored.
 */
import { Readable } from 'node:stream';
import type { Envelope } from '../../src/core/index.js';

/** An Envelope that arrived at time 0, was never tried, has no DSN parameters, and the fields given. */
export function testEnvelope(fields: Pick<Envelope, 'id' | 'messageId' | 'sender' | 'recipient' | 'route' | 'size'> & Partial<Envelope>): Envelope {
  return { arrivedAt: 0, attempts: [], nextAttemptAt: 0, dsn: {}, ...fields };
}

/** The bytes as a stream of `size`-byte chunks, so that lines and CRLF pairs fall across chunk boundaries. */
export function chunkedStream(bytes: Buffer, size: number): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
  );
}
