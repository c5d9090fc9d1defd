/**
 * @module webhook-transport
 * The HTTP gateway out (route "webhook", next hop an https:// URL, or http:// to a loopback
 * host): posts the parsed message as JSON (envelope, header fields, text, html, attachments in
 * base64) to an application, signed with HMAC-SHA256 when a secret is configured for the URL.
 * One POST per message and route; every envelope of the route gets its outcome:
 *   2xx → delivered 2.0.0;
 *   408, 429, 5xx, a timeout, a refused or broken connection → delayed (retried like SMTP);
 *   any other status (4xx, 3xx: redirects are not followed) → failed 5.0.0, a DSN to the sender.
 * Standards: RFC 9110 (HTTP semantics: status classes, §15); RFC 2104 / FIPS 198-1 (HMAC);
 *   RFC 3463 (X.0.0 other, X.4.1 no answer, X.4.2 bad connection, X.4.7 delivery time expired).
 * Security: the signature covers a timestamp and the exact body ("<t>.<body>"), so a receiver
 *   can refuse replays and forgeries; the secret never leaves the process. https certificates
 *   are verified (Node's default CA store). Plain http:// is refused unless the host is a
 *   loopback address or "localhost" (mail must not cross a network in clear text). The
 *   response body is not read beyond a small bound.
 * Limitations: the whole message is parsed in memory (up to smtp.max_message_size); no retries
 *   within one attempt (the queue retries); no client certificates.
 */
import { createHmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  addressToString,
  reversePathToString,
  statusForAll,
  type DeliveryRequest,
  type DeliveryStatus,
  type EnhancedStatus,
  type Transport,
} from '../core/index.js';
import { httpUrlProblem } from '../util/index.js';

export interface WebhookTransportOptions {
  /** shared secrets by URL (exactly as in the route): the signature key */
  readonly secrets?: Readonly<Record<string, string>>;
  /** ms for the whole request, connect to the end of the response's status line. Default 30 s. */
  readonly timeoutMs?: number;
  /** our name, in User-Agent */
  readonly hostname?: string;
}

/** The signature header: "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>". */
export const signatureHeader = 'Correio-Signature';

/** The HMAC-SHA256 signature value for `body` at unix time `t` (receivers compute the same). */
export function webhookSignature(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const c of stream) chunks.push(c as Buffer);
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

/** The JSON document posted for one message. */
async function payload(req: DeliveryRequest, raw: Buffer): Promise<string> {
  // loaded at the first webhook delivery: a server without webhook routes never pays for it
  const { default: PostalMime } = await import('postal-mime');
  const mail = await PostalMime.parse(raw, { attachmentEncoding: 'base64' });
  return JSON.stringify({
    id: req.messageId,
    envelope: { from: reversePathToString(req.sender), to: req.envelopes.map((e) => addressToString(e.recipient)) },
    headers: mail.headers.map((h) => ({ name: h.originalKey ?? h.key, value: h.value })),
    messageId: mail.messageId ?? null,
    date: mail.date ?? null,
    subject: mail.subject ?? null,
    from: mail.from ?? null,
    to: mail.to ?? [],
    cc: mail.cc ?? [],
    replyTo: mail.replyTo ?? [],
    text: mail.text ?? null,
    html: mail.html ?? null,
    attachments: mail.attachments.map((a) => ({
      filename: a.filename ?? null,
      contentType: a.mimeType,
      disposition: a.disposition ?? null,
      contentId: a.contentId ?? null,
      content: a.content,
    })),
  });
}

export class WebhookTransport implements Transport {
  readonly name = 'webhook';

  constructor(private readonly options: WebhookTransportOptions = {}) {}

  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]> {
    const url = req.route.nextHop;
    const problem = httpUrlProblem(url);
    if (problem) return statusForAll(req, 'failed', '5.4.4', { error: `webhook route: ${problem}` });
    const remoteMta = new URL(url).host;
    let body: string;
    try {
      body = await payload(req, await readAll(await req.openMessage()));
    } catch (err) {
      return statusForAll(req, 'delayed', '4.3.0', { error: `reading the message for the webhook: ${(err as Error).message}` });
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `correio (${this.options.hostname ?? 'localhost'})`,
      // the same message id on every retry: a receiver dedupes with it
      'correio-message-id': req.messageId,
    };
    const secret = this.options.secrets?.[url];
    if (secret !== undefined) headers[signatureHeader.toLowerCase()] = webhookSignature(secret, Math.floor(Date.now() / 1000), body);
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([signal, timeout]) });
    } catch (err) {
      if (timeout.aborted) return statusForAll(req, 'delayed', '4.4.7', { remoteMta, error: `webhook ${url}: no answer within ${this.options.timeoutMs ?? 30_000} ms` });
      if (signal.aborted) return statusForAll(req, 'delayed', '4.3.0', { error: 'delivery interrupted (shutting down)' });
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return statusForAll(req, 'delayed', '4.4.2', { remoteMta, error: `webhook ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}` });
    }
    // the answer's body says nothing we act on: let go of it
    await res.body?.cancel().catch(() => undefined);
    const said = `webhook ${url} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    if (res.status >= 200 && res.status < 300) return statusForAll(req, 'delivered', '2.0.0', { remoteMta });
    // RFC 9110 §15.5.9, RFC 6585 §4: timeout and too many requests are worth trying again
    const temporary = res.status >= 500 || res.status === 408 || res.status === 429;
    const status: EnhancedStatus = temporary ? '4.0.0' : '5.0.0';
    return statusForAll(req, temporary ? 'delayed' : 'failed', status, { remoteMta, error: said });
  }
}
