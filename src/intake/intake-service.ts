/**
 * @module intake-service
 * The cleanup stage: every way into the spool (SMTP, submission, sendmail, bounces, list
 * re-injection) hands intake a transaction and a body stream. Intake resolves recipients
 * (their envelopes: envelope-inits.ts), adds trace headers, checks for mail loops, and commits the message durably before anyone is
 * told "accepted".
 * Standards: RFC 5321 §4.4 (Received; hop counting, §6.3 loop detection), §3.9 (aliases),
 *   RFC 5322 §3.6 (Message-ID/Date for submissions, RFC 6409 §8), RFC 6152 (8-bit bodies).
 * Security: the header block is read with a cap before anything is written; a streamed body goes
 *   into the spool without being held whole (only a small SMTP body, up to 64 KB, arrives whole):
 *   the end-of-data checks, DKIM signing and ARC sealing are fed it as it is spooled
 *   (body-watch.ts), and the fields they give are put before it afterwards (MessageDraft.prepend);
 *   size is enforced while streaming (body-copy.ts). A message whose first line is a
 *   continuation line is refused (554 5.6.0): it would fold into the trace field prepended
 *   here. The session's end-of-data policy (sender rules) runs on the header block before the
 *   draft is made.
 * Limitations: the Delivered-To loop check only sees addresses this site added itself. A
 *   header block past the cap (256 KB) is neither DKIM-signed nor ARC-sealed (the block is not
 *   all known when its body starts); a copy with a list's seal (IntakeTransaction.seal) gets no
 *   forward seal besides.
 */
import { Readable } from 'node:stream';
import diagnostics from 'node:diagnostics_channel';
import {
  MailError,
  RecipientsRefusedAfterData,
  addressToString,
  channels,
  replies,
  type QuotaGate,
  type SmtpReply,
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
  type MessageSigner,
  type QueueStore,
  type ResolvedRecipient,
  type Resolver,
  type ReversePath,
  type SenderRewriter,
  type ListSealer,
  type SessionInfo,
} from '../core/index.js';
import { formatReceived, formatDate, makeMessageId, splitMessage, splitMessageBuffer } from '../protocol/mime/index.js';
import { dropFields } from './drop-fields.js';
import { SizeAndEightBit, copyBody, hasEightBit } from './body-copy.js';
import { BodyWatch, fieldLines, prefixed } from './body-watch.js';
import { envelopesFor } from './envelope-inits.js';
import { copyWith } from '../util/index.js';

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
  /** DKIM signing of local and authenticated mail (policy/trust), when configured */
  readonly signer?: MessageSigner;
  /** SRS (policy/trust/srs.ts): forwarded mail's reverse-path, and bounces to it reversed */
  readonly srs?: SenderRewriter;
  /** RFC 8617: the ARC set (and DKIM signature) of the alias's domain on mail forwarded to a remote target */
  readonly forwardSealer?: ListSealer;
  /** mailbox quotas: a recipient whose mailboxes are all full is refused (docs/quota.md) */
  readonly quota?: QuotaGate;
}

const receivedChannel = diagnostics.channel(channels.received);
const CRLF = Buffer.from('\r\n');
const queuedChannel = diagnostics.channel(channels.queued);

export class IntakeService implements Intake {
  constructor(private readonly opts: IntakeOptions) {}

  /** The declared size against intake's own limit (every source; SMTP's policy asks first). */
  checkSender(_session: SessionInfo, _sender: ReversePath, mail: MailParams): Promise<void> {
    if (mail.size !== undefined && mail.size > this.opts.maxMessageSize) return Promise.reject(new MailError(replies.messageTooBig()));
    return Promise.resolve();
  }

  async checkRecipient(
    session: SessionInfo,
    sender: ReversePath,
    rcpt: Address,
    dsn: DsnParams,
    declaredSize = 0,
  ): Promise<AcceptedRecipient> {
    // SRS: a bounce (or reply) to a rewritten reverse-path goes back to the address it hides,
    // once its hash and timestamp check out; a forged or stale one is 550 (srs.ts)
    const back = this.opts.srs?.reverse(rcpt);
    if (back?.refusal) throw new MailError(back.refusal);
    if (back?.address) {
      return { address: rcpt, dsn, targets: [{ kind: 'remote', address: back.address, original: rcpt, via: [addressToString(rcpt)] }] };
    }
    // A lookup failure is thrown by the resolver as a 4xx MailError and passes through as is:
    // a failed directory lookup is never "user unknown".
    const targets = await this.opts.resolver.resolve(rcpt, { sender });
    if (!targets.some((t) => t.kind !== 'error')) {
      const first = targets.find((t) => t.kind === 'error');
      throw new MailError(first && first.kind === 'error' ? first.reply : replies.noSuchUser());
    }
    if (this.opts.quota) {
      const full = await this.quotaRefusal(targets.filter((t) => t.kind !== 'error'), declaredSize);
      if (full) throw new MailError(full, 'MAIL_ERR_QUOTA');
    }
    return { address: rcpt, dsn, targets };
  }

  /**
   * The refusal of a recipient whose targets are all mailboxes over their quota for `size` more
   * octets: 552 5.2.2 when the message is larger than every quota, else 452 4.2.2 (RFC 3463 X.2.2:
   * a persistent transient failure; docs/quota.md). A recipient with any other target (a remote
   * copy, a pipe) or a mailbox with room is accepted; a failed check refuses nothing (delivery
   * checks again).
   */
  private async quotaRefusal(targets: readonly ResolvedRecipient[], size: number): Promise<SmtpReply | undefined> {
    const quota = this.opts.quota;
    if (!quota || targets.length === 0 || targets.some((t) => t.kind !== 'mailbox')) return undefined;
    const users = new Set(targets.map((t) => (t.kind === 'mailbox' ? t.user : '')));
    let tooBig = true;
    for (const user of users) {
      const verdict = await quota.check(user, size).catch(() => 'ok' as const);
      if (verdict === 'ok') return undefined;
      tooBig &&= verdict === 'too-big';
    }
    return tooBig ? replies.messageExceedsQuota() : replies.mailboxFull();
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
    const rest: Readable | Buffer = split.body;
    const drop = (): void => {
      if (!Buffer.isBuffer(rest)) rest.resume();
    };
    const fields = split.fields.map((f) => ({ name: f.name.toLowerCase(), value: f.value.trim() }));
    // one pass over the fields: trace fields, Delivered-To (made a set only when there is one), Message-ID
    let hops = 0;
    let deliveredTo: Set<string> | undefined;
    let messageIdField: string | undefined;
    for (const f of fields) {
      if (f.name === 'received') hops++;
      else if (f.name === 'delivered-to') (deliveredTo ??= new Set()).add(f.value.replace(/^<|>$/g, '').toLowerCase());
      else if (f.name === 'message-id' && messageIdField === undefined) messageIdField = f.value;
    }

    // RFC 5321 §6.3: count trace fields to stop loops between sites (seed §2.1).
    if (hops >= this.opts.maxHops) {
      drop();
      throw new MailError(replies.mailLoop(), 'MAIL_ERR_LOOP');
    }
    // RFC 5322 §2.2.3: a continuation line continues the field before it; as the first line it
    // would continue the Received (or Date) prepended below, so the message is refused instead.
    const first = split.header.length > 0 ? split.header[0] : undefined;
    if (first === 0x20 || first === 0x09) {
      drop();
      throw new MailError(replies.headerStartsFolded(), 'MAIL_ERR_HEADER');
    }
    if (tx.checkHeader) {
      let refusal;
      try {
        refusal = await tx.checkHeader({ fields, complete: split.complete });
      } catch (err) {
        drop();
        throw err;
      }
      if (refusal !== undefined) {
        drop();
        throw new MailError(refusal, 'MAIL_ERR_POLICY');
      }
    }
    // What needs the body (the checks, signing, sealing) is fed it as it is spooled (body-watch.ts):
    // nothing of a streamed body is held, and the fields it gives go before it afterwards
    // (MessageDraft.prepend). Past the header cap (`complete` false) nothing is signed or sealed:
    // the header block is not all known.
    // RFC 8617 §4: an alias forwarding to a remote target seals as an intermediary (its domain's key)
    const forwardDomain = this.opts.forwardSealer ? tx.recipients.find((r) => r.targets.some((t) => t.kind === 'remote' && t.via.length > 0))?.address.domain : undefined;
    const sealWith = tx.seal ?? (forwardDomain && this.opts.forwardSealer ? { sealer: this.opts.forwardSealer, domain: forwardDomain } : undefined);
    const watch = new BodyWatch({
      check: tx.checkMessage?.({ fields, complete: split.complete }, Buffer.concat(split.hasBody && split.complete ? [split.header, CRLF] : [split.header])),
      sign: split.complete && this.opts.signer?.applies(tx.session) ? this.opts.signer.streaming() : undefined,
      seal: split.complete && sealWith && sealWith.sealer.enabled !== false ? sealWith.sealer.start(sealWith.domain, Buffer.concat(split.hasBody ? [split.header, CRLF] : [split.header])) : undefined,
    });

    let draft;
    try {
      draft = await this.opts.store.createMessage();
    } catch (err) {
      watch.abort();
      drop();
      throw err;
    }
    try {
      const now = this.opts.clock.now();
      // RFC 5321 §3.9: one envelope per distinct target (envelope-inits.ts)
      const { envelopes, owners, prepend, loops } = envelopesFor(tx, deliveredTo, now, this.opts.srs);
      if (loops === tx.recipients.length) throw new MailError(replies.mailLoop(), 'MAIL_ERR_LOOP');
      let live = envelopes.filter((e): e is EnvelopeInit => e !== undefined);

      const head = split.hasBody && split.complete ? [split.header, CRLF] : [split.header];
      const counter = new SizeAndEightBit(this.opts.maxMessageSize);
      if (Buffer.isBuffer(rest)) {
        // counted as copyBody counts: the message as given
        for (const p of [...head, rest]) counter.count(p);
        await watch.body(rest);
      } else {
        for (const p of head) counter.count(p);
        await copyBody([], rest, counter, draft.body, signal, watch.hasWatchers ? (chunk) => watch.body(chunk) : undefined);
      }
      const whole = rest;
      const verdict = await watch.finish({
        size: counter.size,
        read: () => (Buffer.isBuffer(whole) ? Readable.from([...head, whole]) : prefixed(head, draft.written())),
      });
      if (verdict?.refusal !== undefined) throw new MailError(verdict.refusal, 'MAIL_ERR_POLICY');
      const headerBlock = verdict?.remove ? dropFields(split.header, verdict.remove) : split.header;
      prepend.push(...(verdict?.fields ?? []));
      const firstRcpt = tx.recipients.length === 1 ? addressToString(tx.recipients[0].address) : undefined;
      // RFC 5321 §4.4: every hop, internal re-injection included, adds a trace field; the
      // count of these fields is what stops loops through lists and forwarding.
      const receivedField = formatReceived({
        from: tx.session.heloName,
        remoteHostname: tx.session.remoteHostname,
        remoteAddress: tx.session.remoteAddress,
        by: this.opts.hostname,
        protocol: tx.session.protocol,
        id: draft.id,
        for: firstRcpt,
        tls: tx.session.tls,
        date: now,
      });
      prepend.unshift(receivedField);
      if (tx.session.submission) {
        // RFC 6409 §8.2, §8.3: a submission server may add a missing Date and Message-ID.
        if (messageIdField === undefined) {
          messageIdField = makeMessageId(this.opts.hostname);
          prepend.push(`Message-ID: ${messageIdField}`);
        }
        if (!fields.some((f) => f.name === 'date')) prepend.push(`Date: ${formatDate(now)}`);
      }

      // RFC 6376 §5, RFC 8617 §4: signed, then sealed, as stored (our own trace and submission fields included)
      const headBytes = await watch.fieldsBefore(Buffer.from(fieldLines(prepend), 'utf8'), headerBlock);
      const stored = split.hasBody && split.complete ? [headBytes, headerBlock, CRLF] : [headBytes, headerBlock];
      const size = counter.size - split.header.length + headBytes.length + headerBlock.length;
      if (size > this.opts.maxMessageSize) throw new MailError(replies.messageTooBig(), 'MAIL_ERR_SIZE');
      let pieces: Buffer[] | undefined;
      if (Buffer.isBuffer(rest)) pieces = [...stored, rest];
      else await draft.prepend(Buffer.concat(stored));
      const eightBit = counter.eightBit || hasEightBit(headBytes) || tx.mail.body === '8BITMIME';
      // LMTP (RFC 2033 §4.2): now that the size is known, a recipient whose mailboxes are full is refused alone
      let refused: Map<number, SmtpReply> | undefined;
      if (tx.perRecipientQuota) {
        refused = new Map();
        for (const [i, r] of tx.recipients.entries()) {
          const full = await this.quotaRefusal(r.targets, size);
          if (full) refused.set(i, full);
        }
        if (refused.size === tx.recipients.length) throw new RecipientsRefusedAfterData(refused);
        const lost = refused;
        live = envelopes.filter((e, k): e is EnvelopeInit => e !== undefined && !lost.has(owners[k]));
      }
      // a copy, not the inits changed in place: a field added to an object after it was made
      // gives the store's copy of it (and so every queued envelope) a hidden class of its own
      const committed = await draft.commit(
        live.map((e) => copyWith(e, { size, body: eightBit ? '8BITMIME' : (tx.mail.body ?? '7BIT') })),
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
          ...(tx.session.heloName !== undefined && { helo: tx.session.heloName }),
          ...(tx.session.tls && { tls: `${tx.session.tls.protocol} ${tx.session.tls.cipher}` }),
          ...(tx.session.authUser !== undefined && { authUser: tx.session.authUser }),
          ...(messageIdField !== undefined && { messageIdHeader: messageIdField }),
          // our trace field as stored (unfolded, RFC 5322 §2.2.3), for correio trace after the message has left
          receivedField: receivedField.replace(/^Received:\s*/i, '').replace(/\r\n[ \t]+/g, ' '),
        });
      }
      if (queuedChannel.hasSubscribers) {
        for (const e of committed) {
          queuedChannel.publish({
            envelopeId: e.id,
            messageId: e.messageId,
            recipient: addressToString(e.recipient),
            route: `${e.route.transport}:${e.route.nextHop}`,
            // the alias chain: as given at RCPT, then each alias, role or list followed
            ...(e.originalRecipient !== undefined && { given: addressToString(e.originalRecipient) }),
            ...(e.resolvedVia !== undefined && e.resolvedVia.length > 0 && { via: e.resolvedVia }),
          });
        }
      }
      this.opts.onQueued?.(committed);
      return refused !== undefined && refused.size > 0
        ? { messageId: draft.id, reply: replies.queued(draft.id), refused }
        : { messageId: draft.id, reply: replies.queued(draft.id) };
    } catch (err) {
      watch.abort();
      await draft.abort().catch(() => undefined);
      if (!Buffer.isBuffer(rest) && !rest.destroyed) rest.destroy();
      if (!Buffer.isBuffer(body) && !body.readableEnded) body.resume();
      throw err;
    }
  }
}
