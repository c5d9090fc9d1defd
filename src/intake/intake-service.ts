/**
 * @module intake-service
 * The cleanup stage: every way into the spool (SMTP, submission, sendmail, bounces, list
 * re-injection) hands intake a transaction and a body stream. Intake resolves recipients,
 * adds trace headers, checks for mail loops, and commits the message durably before anyone is
 * told "accepted".
 * Standards: RFC 5321 §4.4 (Received; hop counting, §6.3 loop detection), §3.9 (aliases),
 *   RFC 5322 §3.6 (Message-ID/Date for submissions, RFC 6409 §8), RFC 6152 (8-bit bodies).
 * Security: the header block is read with a cap before anything is written; a streamed body goes
 *   into the spool without being held whole (only a small SMTP body, up to 64 KB, arrives whole);
 *   size is enforced while streaming.
 * Limitations: the Delivered-To loop check only sees addresses this site added itself.
 */
import type { Readable, Writable } from 'node:stream';
import { isAscii } from 'node:buffer';
import diagnostics from 'node:diagnostics_channel';
import {
  MailError,
  addressToString,
  channels,
  replies,
  type AcceptedRecipient,
  type Address,
  type Clock,
  type DsnParams,
  type Envelope,
  type EnvelopeInit,
  type Intake,
  type IntakeResult,
  type IntakeTransaction,
  type MailParams,
  type QueueStore,
  type ResolvedRecipient,
  type Resolver,
  type ReversePath,
  type SessionInfo,
  targetRoute,
} from '../core/index.js';
import { formatReceived, formatDate, makeMessageId, splitMessage, splitMessageBuffer } from '../protocol/mime/index.js';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { parseAddrSpec } from '../address/index.js';

export interface IntakeOptions {
  readonly store: QueueStore;
  readonly resolver: Resolver;
  readonly hostname: string;
  readonly clock: Clock;
  /** octets; larger messages are refused with 552 5.3.4 */
  readonly maxMessageSize: number;
  /** Received fields beyond this mean a loop (RFC 5321 §6.3): 554 5.4.6 */
  readonly maxHops: number;
  /** told about every committed envelope so delivery starts at once */
  readonly onQueued?: (envelopes: readonly Envelope[]) => void;
  /**
   * For submissions with AUTH: whether the user may use this sender address (RFC 6409 §6.1).
   * Absent: any sender is allowed.
   */
  readonly senderAllowed?: (authUser: string, sender: Address) => Promise<boolean>;
}

const receivedChannel = diagnostics.channel(channels.received);
const CRLF = Buffer.from('\r\n');
const queuedChannel = diagnostics.channel(channels.queued);

export class IntakeService implements Intake {
  constructor(private readonly opts: IntakeOptions) {}

  async checkSender(session: SessionInfo, sender: ReversePath, mail: MailParams): Promise<void> {
    if (mail.size !== undefined && mail.size > this.opts.maxMessageSize) throw new MailError(replies.messageTooBig());
    if (sender && this.checksOwnership(session)) {
      if (!(await this.opts.senderAllowed!(session.authUser!, sender))) throw new MailError(replies.senderNotOwned());
    }
  }

  /**
   * RFC 6409 §6.1: on authenticated submission the sender is checked against the login. Only an
   * SMTP AUTH identity counts (RFC 3848: ESMTPA, ESMTPSA); the sendmail face ("local", or its
   * `-bs` dialogue) carries a login name, not an address, and a local user may set any sender.
   */
  private checksOwnership(session: SessionInfo): boolean {
    return session.submission && session.authUser !== undefined && /^ESMTPS?A$/.test(session.protocol) && this.opts.senderAllowed !== undefined;
  }

  /**
   * RFC 6409 §6.1 (and issue 5): every address in From must be the authenticated user's own
   * (or an alias, list or role they hold). An unparsable From cannot be shown to be theirs.
   */
  private async checkFromHeader(session: SessionInfo, fields: readonly { name: string; value: string }[]): Promise<void> {
    if (!this.checksOwnership(session)) return;
    for (const f of fields) {
      if (f.name !== 'from') continue;
      const addresses = fromAddresses(f.value);
      if (addresses.length === 0) throw new MailError(replies.senderNotOwned(), 'MAIL_ERR_SENDER_NOT_OWNED');
      for (const a of addresses) {
        if (a === undefined || !(await this.opts.senderAllowed!(session.authUser!, a))) {
          throw new MailError(replies.senderNotOwned(), 'MAIL_ERR_SENDER_NOT_OWNED');
        }
      }
    }
  }

  async checkRecipient(
    session: SessionInfo,
    sender: ReversePath,
    rcpt: Address,
    dsn: DsnParams,
  ): Promise<AcceptedRecipient> {
    // A lookup failure is thrown by the resolver as a 4xx MailError and passes through as is:
    // a failed directory lookup is never "user unknown".
    const targets = await this.opts.resolver.resolve(rcpt, { sender, mayRelay: session.mayRelay });
    const usable = targets.filter((t) => t.kind !== 'error');
    if (usable.length === 0) {
      const first = targets.find((t) => t.kind === 'error');
      throw new MailError(first && first.kind === 'error' ? first.reply : replies.noSuchUser());
    }
    return { address: rcpt, dsn, targets };
  }

  async receive(tx: IntakeTransaction, body: Readable | Buffer, signal?: AbortSignal): Promise<IntakeResult> {
    const whole = Buffer.isBuffer(body);
    if (tx.recipients.length === 0) {
      if (!whole) body.resume();
      throw new MailError(replies.noValidRecipients());
    }
    // Only the header block is read here (bounded); the body stays a stream (or, given whole,
    // a slice of the buffer: no stream is made for a message already in memory).
    const split = whole ? splitMessageBuffer(body) : await splitMessage(body);
    const rest = split.body;
    const drop = (): void => {
      if (!Buffer.isBuffer(rest)) rest.resume();
    };
    const fields = split.fields.map((f) => ({ name: f.name.toLowerCase(), value: f.value.trim() }));

    // RFC 5321 §6.3: count trace fields to stop loops between sites (seed §2.1).
    const hops = fields.filter((f) => f.name === 'received').length;
    if (hops >= this.opts.maxHops) {
      drop();
      throw new MailError(replies.mailLoop(), 'MAIL_ERR_LOOP');
    }
    try {
      await this.checkFromHeader(tx.session, fields);
    } catch (err) {
      drop();
      throw err;
    }
    const deliveredTo = new Set(
      fields.filter((f) => f.name === 'delivered-to').map((f) => f.value.replace(/^<|>$/g, '').toLowerCase()),
    );

    const draft = await this.opts.store.createMessage();
    try {
      const now = this.opts.clock.now();
      const envelopes: (EnvelopeInit | undefined)[] = [];
      const prepend: string[] = [];
      const seen = new Set<string>();
      let loops = 0;
      for (const r of tx.recipients) {
        const rcptKey = addressToString(r.address).toLowerCase();
        // A Delivered-To naming this recipient means the message has been here for it before.
        if (deliveredTo.has(rcptKey)) {
          loops++;
          envelopes.push(this.envelope(tx, r, errorTarget(r, replies.mailLoop()), now, seen));
          continue;
        }
        let forwarded = false;
        for (const t of r.targets) {
          if (t.kind === 'remote' || t.kind === 'list') forwarded = forwarded || t.via.length > 0;
          envelopes.push(this.envelope(tx, r, t, now, seen));
        }
        if (forwarded) prepend.push(`Delivered-To: ${addressToString(r.address)}`);
      }
      if (loops === tx.recipients.length) {
        drop();
        throw new MailError(replies.mailLoop(), 'MAIL_ERR_LOOP');
      }
      const live = envelopes.filter((e): e is EnvelopeInit => e !== undefined);

      const firstRcpt = tx.recipients.length === 1 ? addressToString(tx.recipients[0].address) : undefined;
      // RFC 5321 §4.4: every hop, internal re-injection included, adds a trace field; the
      // count of these fields is what stops loops through lists and forwarding.
      prepend.unshift(
        formatReceived({
          from: tx.session.heloName,
          remoteHostname: tx.session.remoteHostname,
          remoteAddress: tx.session.remoteAddress,
          by: this.opts.hostname,
          protocol: tx.session.protocol,
          id: draft.id,
          for: firstRcpt,
          tls: tx.session.tls,
          date: now,
        }),
      );
      if (tx.session.submission) {
        // RFC 6409 §8.2, §8.3: a submission server may add a missing Date and Message-ID.
        if (!fields.some((f) => f.name === 'message-id')) prepend.push(`Message-ID: ${makeMessageId(this.opts.hostname)}`);
        if (!fields.some((f) => f.name === 'date')) prepend.push(`Date: ${formatDate(now)}`);
      }

      const headText = prepend.map((l) => (l.endsWith('\r\n') ? l : l + '\r\n')).join('');
      const headBytes = Buffer.from(headText, 'utf8');
      const counter = new SizeAndEightBit(this.opts.maxMessageSize - headBytes.length);
      const head = split.hasBody && split.complete ? [split.header, CRLF] : [split.header];
      let pieces: Buffer[] | undefined;
      if (Buffer.isBuffer(rest)) {
        // counted as copyBody counts: the message as given (the prepended fields are in the limit)
        for (const p of [...head, rest]) counter.count(p);
        pieces = [headBytes, ...head, rest];
      } else {
        draft.body.write(headBytes);
        await copyBody(head, rest, counter, draft.body, signal);
      }
      const eightBit = counter.eightBit || hasEightBit(headBytes) || tx.mail.body === '8BITMIME';
      const size = counter.size + headBytes.length;
      const committed = await draft.commit(
        live.map((e) => ({ ...e, size, body: eightBit ? '8BITMIME' : (tx.mail.body ?? '7BIT') })),
        pieces,
      );
      if (receivedChannel.hasSubscribers) {
        receivedChannel.publish({
          messageId: draft.id,
          sender: tx.sender ? addressToString(tx.sender) : '',
          recipients: tx.recipients.map((r) => addressToString(r.address)),
          size,
          client: tx.session.remoteAddress ?? tx.session.protocol,
          protocol: tx.session.protocol,
        });
      }
      if (queuedChannel.hasSubscribers) {
        for (const e of committed) {
          queuedChannel.publish({
            envelopeId: e.id,
            messageId: e.messageId,
            recipient: addressToString(e.recipient),
            route: `${e.route.transport}:${e.route.nextHop}`,
          });
        }
      }
      this.opts.onQueued?.(committed);
      return { messageId: draft.id, reply: replies.queued(draft.id) };
    } catch (err) {
      await draft.abort().catch(() => undefined);
      if (!Buffer.isBuffer(rest) && !rest.destroyed) rest.destroy();
      if (!Buffer.isBuffer(body) && !body.readableEnded) body.resume();
      throw err;
    }
  }

  private envelope(
    tx: IntakeTransaction,
    r: AcceptedRecipient,
    t: ResolvedRecipient,
    now: number,
    seen: Set<string>,
  ): EnvelopeInit | undefined {
    const route = targetRoute(t);
    const recipient = envelopeRecipient(t, r.address);
    const key = `${route.transport}\0${route.nextHop}\0${addressToString(recipient).toLowerCase()}`;
    // Many-to-one: two recipients that end in the same mailbox make one envelope.
    if (seen.has(key)) return undefined;
    seen.add(key);
    return {
      sender: tx.sender,
      recipient,
      originalRecipient: r.address,
      route,
      arrivedAt: now,
      size: 0,
      nextAttemptAt: 0,
      dsn: { ...r.dsn, ...(tx.mail.ret ? { ret: tx.mail.ret } : {}), ...(tx.mail.envid ? { envid: tx.mail.envid } : {}) },
      smtpUtf8: tx.mail.smtpUtf8 ?? false,
      resolvedVia: t.via,
    };
  }
}

/**
 * The mailboxes of a From field (RFC 5322 §3.6.2: a mailbox-list; group members included),
 * each parsed as an addr-spec; undefined for one that does not parse.
 */
export function fromAddresses(value: string): (Address | undefined)[] {
  // splitMessage already decoded the field (UTF-8 when valid: RFC 6532)
  const out: (Address | undefined)[] = [];
  // addressparser is lenient: "a@x b@y" or "John Doe@x" would yield one plausible address while
  // a mail reader might show another sender. An element that is not a proper mailbox counts as
  // one that does not parse, so the ownership check refuses it.
  for (const a of addressparser(value, { flatten: true })) {
    try {
      out.push(parseAddrSpec(a.address));
    } catch {
      out.push(undefined);
    }
  }
  if (!out.includes(undefined) && !mailboxElements(value).every(soundMailbox)) out.push(undefined);
  return out;
}

/** The top-level comma-separated elements of an address list, group syntax removed. */
function mailboxElements(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let depth = 0;
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted) {
      cur += c;
      if (c === '\\') cur += value[++i] ?? '';
      else if (c === '"') quoted = false;
      continue;
    }
    if (depth > 0) {
      // RFC 5322 §3.2.2: comments nest and are dropped
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === '(') depth++;
    else if (c === '"') {
      quoted = true;
      cur += c;
    } else if (c === '<') {
      angle = true;
      cur += c;
    } else if (c === '>') {
      angle = false;
      cur += c;
    } else if (!angle && (c === ',' || c === ';')) {
      out.push(cur);
      cur = '';
    } else if (!angle && c === ':') {
      cur = ''; // group name (RFC 5322 §3.4)
    } else cur += c;
  }
  out.push(cur);
  return out.map((e) => e.trim()).filter((e) => e !== '');
}

/** mailbox = name-addr / addr-spec (RFC 5322 §3.4), judged with quoted strings set aside. */
function soundMailbox(element: string): boolean {
  const bare = element.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const lt = bare.indexOf('<');
  if (lt >= 0) return !bare.slice(0, lt).includes('@') && /^<[^<>\s]+>$/.test(bare.slice(lt).trim());
  return !/\s/.test(bare) && bare.includes('@');
}

function errorTarget(r: AcceptedRecipient, reply: ReturnType<typeof replies.mailLoop>): ResolvedRecipient {
  return { kind: 'error', reply, original: r.address, via: [] };
}

/**
 * The envelope recipient for one resolved target (its route is core's targetRoute): the
 * mailbox address keeps a +tag for Delivered-To; a list is addressed as itself; pipe, file and
 * error targets keep the address the client gave.
 */
function envelopeRecipient(t: ResolvedRecipient, rcpt: Address): Address {
  switch (t.kind) {
    case 'mailbox':
    case 'remote':
      return t.address;
    case 'list': {
      const at = t.list.lastIndexOf('@');
      return { local: t.list.slice(0, at), domain: t.list.slice(at + 1) };
    }
    default:
      return rcpt;
  }
}

/** Counts the octets copied into the draft and notes any 8-bit octet (RFC 6152). */
class SizeAndEightBit {
  size = 0;
  eightBit = false;
  constructor(private readonly limit: number) {}
  /** Throws 552 (RFC 5321 §4.5.3.1.10) once the message passes the limit. */
  count(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.limit) throw new MailError(replies.messageTooBig(), 'MAIL_ERR_SIZE');
    if (!this.eightBit && hasEightBit(chunk)) this.eightBit = true;
  }
}

/**
 * Copies `head` then `body` into `dest` with backpressure, counting through `counter`, and ends
 * `dest`. One loop instead of stream.pipeline, which builds per call a Duplex around a
 * generator, a Transform, an AbortController and, when it finishes, a DOMException (measurable
 * when every message streamed; since small SMTP bodies arrive whole, this copies the larger
 * ones, BDAT, sendmail and re-injected mail). On any failure (body error, size
 * limit, `signal` aborted, `dest` error) `body` and `dest` are destroyed, as pipeline did.
 */
async function copyBody(
  head: readonly Buffer[],
  body: Readable,
  counter: SizeAndEightBit,
  dest: Writable,
  signal?: AbortSignal,
): Promise<void> {
  let destError: unknown;
  let wake: (() => void) | undefined;
  const onDestError = (err: unknown): void => {
    destError ??= err;
    wake?.();
  };
  const onAbort = (): void => {
    body.destroy(abortError(signal));
    wake?.();
  };
  dest.on('error', onDestError);
  signal?.addEventListener('abort', onAbort);
  try {
    if (signal?.aborted) throw abortError(signal);
    const put = async (chunk: Buffer): Promise<void> => {
      counter.count(chunk);
      if (destError !== undefined) throw destError;
      if (dest.write(chunk)) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        dest.once('drain', resolve);
      });
      dest.removeListener('drain', wake!);
      wake = undefined;
      if (destError !== undefined) throw destError;
      if (signal?.aborted) throw abortError(signal);
    };
    for (const chunk of head) await put(chunk);
    for await (const chunk of body) await put(chunk as Buffer);
    if (signal?.aborted) throw abortError(signal);
    if (destError !== undefined) throw destError;
    dest.end();
  } catch (err) {
    if (!body.destroyed) body.destroy();
    if (!dest.destroyed) dest.destroy();
    throw err;
  } finally {
    // onDestError stays: an error after end() is then never an unhandled 'error' event (the
    // draft's commit reports it through finished())
    signal?.removeEventListener('abort', onAbort);
  }
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

function hasEightBit(buf: Buffer): boolean {
  // native scan, no copy: a body chunk must not be duplicated just to look at it
  return !isAscii(buf);
}
