/**
 * @module submission-api
 * HTTP submission (issue 18): `POST /api/v1/messages` takes a message from an application — raw
 * RFC 5322 (`Content-Type: message/rfc822`) or JSON (from, to, cc, bcc, subject, text, html,
 * attachments in base64) — and answers `202 {"id": QUEUE-ID}` once it is in the durable spool.
 * It is the submission port's path over HTTP, through the server's MessageSubmitter (the same
 * one JMAP's EmailSubmission uses): the submission listener's policy (sender rules on the
 * envelope sender and From, size, recipients, relay) and intake (Received, Message-ID/Date, DKIM).
 * Standards: RFC 9110 (202, 400, 401, 413, 415, 422, 429; Retry-After §10.2.3), RFC 6409
 *   (submission rules), RFC 5322, RFC 6585 §4 (429), draft-ietf-httpapi-idempotency-key-header
 *   (Idempotency-Key: a replay gets the first answer, a reuse with another body 422, a replay
 *   while the first runs 409).
 * Security: behind `authorize` (an API token or an account's password: the HTTP server's
 *   check); the caller is the authenticated account, and may send only as the addresses the
 *   sender rules give it. Each caller (token) gets `ratePerMinute` requests a minute (a token
 *   bucket), then 429. Bodies over `maxMessageSize` are 413. Input is checked before anything
 *   is stored; nothing is acknowledged before it is durable.
 * Limitations: idempotency keys are remembered for 24 h in the store given (the server's is
 *   `<data_dir>/idempotency.sqlite` or PostgreSQL's, kept across restarts; idempotency-store.ts); a JSON message
 *   is built whole in memory.
 */
import { createHash } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { MailError, RecipientsRefused, addressToString, type Address, type MessageSubmitter, type SmtpReply } from '../core/index.js';
import { parseAddressList } from '../address/index.js';
import { composeMessage, type ComposeAddress, type ComposePart } from '../protocol/mime/compose-message.js';
import { MemoryIdempotencyStore, type IdempotencyStore } from './idempotency-store.js';

/** Who is calling: the account mail goes out as, and the key its rate and idempotency keys count under. */
export interface SubmissionCaller {
  readonly account: string;
  readonly key: string;
  readonly remoteAddress?: string;
}

export interface SubmissionApiDeps {
  /** the server's submission path (app/message-submitter.ts) */
  readonly submitter: MessageSubmitter;
  /** admits authenticated callers only; answers 401 itself otherwise */
  readonly authorize: MiddlewareHandler;
  /** the caller `authorize` admitted */
  readonly caller: (c: Context) => SubmissionCaller | undefined;
  readonly maxMessageSize: number;
  /** requests a minute per caller key. Default 60. */
  readonly ratePerMinute?: number;
  /** where Idempotency-Key answers are kept (default: in memory, forgotten at a restart) */
  readonly idempotency?: IdempotencyStore;
  readonly now?: () => number;
  readonly onError?: (err: unknown) => void;
}

export const SUBMISSION_API_BASE = '/api/v1';

class Refusal extends Error {
  constructor(
    readonly status: 400 | 403 | 409 | 413 | 415 | 422 | 429 | 503,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** An SMTP refusal as HTTP: 4xx replies are temporary (503), 552 too large (413), others 422. */
function refusalOf(r: SmtpReply, what: string): Refusal {
  const text = `${what}: ${r.code} ${r.status ?? ''} ${r.lines.join(' ')}`.replace(/\s+/g, ' ').trim();
  if (r.code < 500) return new Refusal(503, text);
  if (r.code === 552) return new Refusal(413, text);
  if (r.status?.startsWith('5.7.')) return new Refusal(403, text);
  return new Refusal(422, text);
}

/** One address of a JSON field: for the envelope (`address`) and for the header (`shown`). */
function oneMailbox(text: string, field: string): { address: Address; shown: ComposeAddress } {
  const items = parseAddressList(text);
  const m = items.length === 1 ? items[0] : undefined;
  if (m?.kind !== 'mailbox') throw new Refusal(400, `"${field}": "${text}" is not one address`);
  return { address: m.address, shown: { name: m.name || null, email: addressToString(m.address) } };
}

function mailbox(text: string, field: string): Address {
  return oneMailbox(text, field).address;
}

function strings(v: unknown, field: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Refusal(400, `"${field}" must be an array of strings`);
  return v;
}

function optionalString(v: unknown, field: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new Refusal(400, `"${field}" must be a string`);
  return v;
}

interface Submission {
  readonly sender: Address;
  readonly recipients: Address[];
  readonly message: Buffer;
}

/** A JSON submission: envelope from the fields, the message composed here. */
function fromJson(body: unknown): Submission {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new Refusal(400, 'the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const from = optionalString(b.from, 'from');
  if (from === undefined) throw new Refusal(400, '"from" is required');
  const [to, cc, bcc] = [strings(b.to, 'to'), strings(b.cc, 'cc'), strings(b.bcc, 'bcc')];
  const recipients = [...to.map((t) => mailbox(t, 'to')), ...cc.map((t) => mailbox(t, 'cc')), ...bcc.map((t) => mailbox(t, 'bcc'))];
  if (recipients.length === 0) throw new Refusal(400, 'at least one of "to", "cc", "bcc" is required');
  const text = optionalString(b.text, 'text');
  const html = optionalString(b.html, 'html');
  const raw = b.attachments ?? [];
  if (!Array.isArray(raw)) throw new Refusal(400, '"attachments" must be an array');
  const attachments: ComposePart[] = raw.map((a: unknown, i) => {
    const o = (a ?? {}) as Record<string, unknown>;
    const filename = optionalString(o.filename, `attachments[${i}].filename`) ?? `attachment-${i + 1}`;
    const content = optionalString(o.content, `attachments[${i}].content`);
    if (content === undefined || !/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(content)) throw new Refusal(400, `attachments[${i}].content must be base64`);
    return { name: filename, disposition: 'attachment', type: optionalString(o.contentType, `attachments[${i}].contentType`) ?? 'application/octet-stream', data: Buffer.from(content, 'base64') };
  });
  const sender = oneMailbox(from, 'from');
  const shown = (list: string[], field: string): ComposeAddress[] => list.map((t) => oneMailbox(t, field).shown);
  const message = composeMessage({
    from: [sender.shown],
    to: shown(to, 'to'),
    cc: shown(cc, 'cc'),
    subject: optionalString(b.subject, 'subject') ?? '',
    ...(text !== undefined ? { text } : {}),
    ...(html !== undefined ? { html } : {}),
    attachments,
    domain: sender.address.domain,
  });
  return { sender: sender.address, recipients, message };
}

/** A raw submission: the envelope from `?from=` and `?to=` (repeated), else From and To/Cc. */
function fromRaw(c: Context, message: Buffer): Submission {
  const head = message.toString('utf8', 0, Math.min(message.length, 256 * 1024)).split(/\r?\n\r?\n/, 1)[0].replace(/\r?\n[ \t]+/g, ' ');
  const field = (name: string): string[] => head.split(/\r?\n/).filter((l) => l.toLowerCase().startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).trim());
  const fromQ = c.req.query('from');
  const toQ = c.req.queries('to') ?? [];
  const senderText = fromQ ?? field('from')[0];
  if (senderText === undefined) throw new Refusal(400, 'no sender: give ?from= or a From field');
  const rcptTexts = toQ.length > 0 ? toQ : [...field('to'), ...field('cc')].flatMap((v) => parseAddressList(v).map((i) => i.text));
  if (rcptTexts.length === 0) throw new Refusal(400, 'no recipients: give ?to= or To/Cc fields');
  // intake takes CRLF line ends
  const text = message.toString('latin1');
  const crlf = text.replace(/\r?\n/g, '\r\n');
  return { sender: mailbox(senderText, 'from'), recipients: rcptTexts.map((t) => mailbox(t, 'to')), message: crlf === text ? message : Buffer.from(crlf, 'latin1') };
}

/** A token bucket per caller key: `perMinute` requests, refilled evenly. */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
  ) {}
  /** 0 when allowed, else the seconds to wait */
  take(key: string): number {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: t };
    b.tokens = Math.min(this.perMinute, b.tokens + ((t - b.at) * this.perMinute) / 60_000);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 60) / this.perMinute);
  }
}


/** The submission API as a hono app, to be mounted at SUBMISSION_API_BASE. */
export function submissionApi(deps: SubmissionApiDeps): Hono {
  const now = deps.now ?? Date.now;
  const limiter = new RateLimiter(deps.ratePerMinute ?? 60, now);
  const remembered = deps.idempotency ?? new MemoryIdempotencyStore();
  const app = new Hono();
  app.use('*', deps.authorize);

  app.post('/messages', async (c) => {
    const caller = deps.caller(c);
    if (!caller) return c.json({ error: 'authentication required' }, 401);
    const wait = limiter.take(caller.key);
    if (wait > 0) return c.json({ error: `too many requests: try again in ${wait} s` }, 429, { 'Retry-After': String(wait) });
    const declared = Number(c.req.header('content-length') ?? 0);
    if (declared > deps.maxMessageSize) return c.json({ error: `the message is larger than ${deps.maxMessageSize} octets` }, 413);
    const raw = Buffer.from(await c.req.arrayBuffer());
    if (raw.length > deps.maxMessageSize) return c.json({ error: `the message is larger than ${deps.maxMessageSize} octets` }, 413);

    const idem = c.req.header('idempotency-key');
    const digest = createHash('sha256').update(c.req.header('content-type') ?? '').update(raw).digest('hex');
    const idemKey = idem === undefined ? undefined : `${caller.key}\0${idem}`;
    if (idemKey !== undefined) {
      const seen = await remembered.claim(idemKey, digest, now());
      if (seen.kind === 'other-request') return c.json({ error: 'this Idempotency-Key was used with another request' }, 422);
      if (seen.kind === 'running') return c.json({ error: 'a request with this Idempotency-Key is still being processed' }, 409);
      if (seen.kind === 'done') return c.json(seen.answer.body, seen.answer.status as 202, { 'Idempotent-Replayed': 'true' });
    }
    let status = 500;
    let body: Record<string, unknown> = { error: 'internal error' };
    try {
      const id = await submit(c, caller, raw);
      status = 202;
      body = { id };
    } catch (err) {
      if (err instanceof Refusal) {
        status = err.status;
        body = { error: err.message, ...err.extra };
      } else if (err instanceof RecipientsRefused) {
        // all or nothing: an application learns of every refused recipient before anything is sent
        status = 422;
        body = { error: 'some recipients were refused; nothing was sent', refused: err.refused.map((r) => ({ recipient: r.recipient, error: refusalOf(r.reply, r.recipient).message })) };
      } else if (err instanceof MailError) {
        const r = refusalOf(err.reply, 'refused');
        status = r.status;
        body = { error: r.message };
      } else deps.onError?.(err);
    }
    if (idemKey !== undefined) {
      // a temporary failure may be tried again with the same key
      if (status === 202 || (status >= 400 && status < 500 && status !== 409 && status !== 429)) await remembered.finish(idemKey, { status, body });
      else await remembered.release(idemKey);
    }
    return c.json(body, status as 202);
  });

  app.all('*', (c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    deps.onError?.(err);
    return c.json({ error: 'internal error' }, 500);
  });
  return app;

  async function submit(c: Context, caller: SubmissionCaller, raw: Buffer): Promise<string> {
    const type = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
    let s: Submission;
    if (type === 'application/json') {
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new Refusal(400, 'the body is not JSON');
      }
      s = fromJson(json);
    } else if (type === 'message/rfc822') s = fromRaw(c, raw);
    else throw new Refusal(415, 'send Content-Type: application/json or message/rfc822');
    if (s.message.length > deps.maxMessageSize) throw new Refusal(413, `the message is larger than ${deps.maxMessageSize} octets`);

    // the submission port's path (RFC 6409): sender rules, size, each recipient, intake, DKIM
    const result = await deps.submitter.submit({
      user: caller.account,
      protocol: 'HTTP',
      ...(caller.remoteAddress !== undefined ? { remoteAddress: caller.remoteAddress } : {}),
      secure: false,
      sender: addressToString(s.sender),
      recipients: s.recipients.map(addressToString),
      message: s.message,
    });
    return result.queueId;
  }
}
