/**
 * @module mail-transaction
 * One SMTP mail transaction inside a session (RFC 5321 §3.3): MAIL, RCPT, then the message by
 * DATA or BDAT chunks, each through its policy stage and intake, and the reply after the data.
 * Standards: RFC 5321 §3.3 (transactions), §4.1.1.2–4 (MAIL, RCPT, DATA), §4.5.3.1.8
 *   (recipient limit, via policy), §4.2.5 (reply after end of data); RFC 2920 §3.1 (DATA with no
 *   valid recipients: 554); RFC 3030 (BDAT); RFC 3461 (DSN parameters); RFC 2033 §4.2 (LMTP: 503
 *   without recipients, one reply per accepted recipient after the data; a recipient whose mailbox
 *   is over its quota once the size is known gets its own 452 4.2.2 / 552 5.2.2 there, RFC 3463).
 * Security: the body is checked by TextChecker/DataDecoder (bare CR and LF, line length,
 *   smuggling) while it streams; a flawed body is refused whole and nothing is queued. The
 *   session's refusals are published on the `rejected` channel for logs and metrics.
 * Limitations: one transaction at a time; the session decides when one may start (after HELO)
 *   and clears it on RSET, HELO and STARTTLS.
 */
import { addressToString, type Address, type ReversePath } from '../../core/address.js';
import { RecipientsRefusedAfterData, type AcceptedRecipient, type IntakeTransaction, type MailParams, type SessionInfo } from '../../core/intake.js';
import { MailError, formatReply, type SmtpReply } from '../../core/smtp-reply.js';
import { replies } from '../../core/replies.js';
import { channels } from '../../core/events.js';
import type { StagePolicy } from '../../policy/index.js';
import { BdatReader, TextChecker, parseBdatArgs, parseMailCommand, parseRcptCommand, replyForFlaw, type DataFlaw } from '../../protocol/smtp/index.js';
import type { LineConnection } from '../connection/index.js';
import { BodySink, type WholeBody } from './body-sink.js';
import { readChunk, readDataBody, type BodyReadEnd } from './body-reader.js';
import type { SessionContext } from './session-types.js';

/** What a transaction needs from its session. */
export interface TransactionHost {
  readonly ctx: SessionContext;
  readonly conn: LineConnection;
  readonly policy: StagePolicy;
  readonly remoteAddress: string;
  /** EHLO was used (ESMTP parameters allowed) */
  esmtp(): boolean;
  info(): SessionInfo;
  reply(r: SmtpReply): void;
  publish(name: string, message: object): void;
  /** a body or chunk was not read to its end: ends the session; never returns */
  readEnded(how: BodyReadEnd): Promise<never>;
}

/** What a `rejected` log line carries besides the stage and the reply (docs/logging.md). */
export interface RejectedDetail {
  readonly sender?: ReversePath;
  readonly recipient?: Address;
}

/** Publishes one `rejected` event: stage, the reply as sent, client, HELO name, sender, recipient. */
export function publishRejected(host: Pick<TransactionHost, 'publish' | 'remoteAddress' | 'info'>, stage: string, reply: SmtpReply, detail: RejectedDetail = {}): void {
  const helo = host.info().heloName;
  host.publish(channels.rejected, {
    stage,
    reply: formatReply(reply),
    client: host.remoteAddress,
    ...(helo !== undefined && { helo }),
    ...(detail.sender !== undefined && { sender: detail.sender === null ? '' : addressToString(detail.sender) }),
    ...(detail.recipient !== undefined && { recipient: addressToString(detail.recipient) }),
  });
}

/** A policy stage's verdict (policy/): a refusal is published and thrown as the reply. */
export function refuseIf(host: Pick<TransactionHost, 'publish' | 'remoteAddress' | 'info'>, stage: string, refusal: SmtpReply | undefined, detail: RejectedDetail = {}): void {
  if (refusal === undefined) return;
  publishRejected(host, stage, refusal, detail);
  throw new MailError(refusal);
}

export class MailTransaction {
  private sender: ReversePath | undefined;
  private mailParams: MailParams = {};
  private recipients: AcceptedRecipient[] = [];
  private bdat: { sink: BodySink; checker: TextChecker } | undefined;

  constructor(private readonly host: TransactionHost) {}

  /** MAIL was accepted and the transaction has not ended */
  get open(): boolean {
    return this.sender !== undefined;
  }

  /** Forgets the transaction (RSET, HELO, STARTTLS, end of session); a BDAT body is dropped. */
  async reset(): Promise<void> {
    this.clear();
    const b = this.bdat;
    this.bdat = undefined;
    if (b) await b.sink.abort();
  }

  private clear(): void {
    this.sender = undefined;
    this.mailParams = {};
    this.recipients = [];
  }

  private rejected(stage: string, err: unknown, detail: RejectedDetail): void {
    if (err instanceof MailError) publishRejected(this.host, stage, err.reply, detail);
  }

  async mail(args: string): Promise<void> {
    const h = this.host;
    if (this.sender !== undefined) throw new MailError(replies.badSequence('Nested MAIL command'));
    const { sender, params } = parseMailCommand(args, { esmtp: h.esmtp() });
    // the mail stage: AUTH on submission (RFC 6409 §4.3), declared SIZE (RFC 1870), sender rules
    refuseIf(h, 'mail', await h.policy.mail({ session: h.info(), sender, mail: params }), { sender });
    try {
      await h.ctx.intake.checkSender(h.info(), sender, params);
    } catch (err) {
      this.rejected('mail', err, { sender });
      throw err;
    }
    this.sender = sender;
    this.mailParams = params;
    this.recipients = [];
    h.reply(replies.senderOk());
  }

  async rcpt(args: string): Promise<void> {
    const h = this.host;
    if (this.sender === undefined) throw new MailError(replies.badSequence('Need MAIL before RCPT'));
    if (this.bdat) throw new MailError(replies.badSequence('RCPT during BDAT'));
    const { recipient, dsn } = parseRcptCommand(args, { esmtp: h.esmtp(), smtpUtf8: this.mailParams.smtpUtf8 });
    // the rcpt stage: recipient limit (RFC 5321 §4.5.3.1.8), relay control
    const detail = { sender: this.sender, recipient };
    refuseIf(h, 'rcpt', await h.policy.rcpt({ session: h.info(), sender: this.sender, recipient, accepted: this.recipients.length }), detail);
    try {
      // the declared SIZE (RFC 1870) counts against a mailbox quota already at RCPT (docs/quota.md)
      const accepted = await h.ctx.intake.checkRecipient(h.info(), this.sender, recipient, dsn, this.mailParams.size);
      this.recipients.push(accepted);
    } catch (err) {
      this.rejected('rcpt', err, detail);
      throw err;
    }
    h.reply(replies.recipientOk());
  }

  private transaction(): IntakeTransaction {
    const h = this.host;
    const session = h.info();
    const sender = this.sender ?? null;
    const checkMessage = h.policy.messageCheck(session, sender);
    return {
      session,
      sender,
      mail: this.mailParams,
      recipients: [...this.recipients],
      // the end-of-data stage, run by intake once it has read the header block
      checkHeader: (header) => h.policy.endOfData({ session, sender, header }),
      // SPF, DKIM and DMARC on the whole message (MX, strangers only; policy/trust)
      ...(checkMessage ? { checkMessage } : {}),
      // RFC 2033 §4.2: LMTP answers each recipient after the data, so a full mailbox refuses only its own
      ...(h.ctx.mode === 'lmtp' ? { perRecipientQuota: true } : {}),
    };
  }

  // ---- DATA (RFC 5321 §4.1.1.4) ----
  async data(args: string): Promise<void> {
    const h = this.host;
    if (args !== '') throw new MailError(replies.syntaxError());
    if (this.sender === undefined) throw new MailError(replies.badSequence('Need MAIL command'));
    if (this.bdat) throw new MailError(replies.badSequence('DATA during BDAT'));
    // RFC 2920 §3.1: no valid recipients → DATA fails with 554; RFC 2033 §4.2: LMTP says 503
    if (this.recipients.length === 0) throw new MailError(this.noRecipients());
    refuseIf(h, 'data', await h.policy.data({ session: h.info(), sender: this.sender, recipients: this.recipients }), { sender: this.sender });
    h.reply(replies.startMailInput());
    h.conn.flush();
    const r = await readDataBody(h.conn, h.ctx, this.transaction());
    if (typeof r === 'string') return h.readEnded(r);
    await this.complete(r.body, r.flaw);
  }

  // ---- BDAT (RFC 3030) ----
  async bdatCommand(args: string): Promise<void> {
    const h = this.host;
    const { size, last } = parseBdatArgs(args);
    let refusal: SmtpReply | undefined;
    if (this.sender === undefined) refusal = replies.badSequence('Need MAIL command');
    else if (this.recipients.length === 0) refusal = this.noRecipients();
    else if (!this.bdat) refusal = await h.policy.data({ session: h.info(), sender: this.sender, recipients: this.recipients });
    if (refusal === undefined && !this.bdat) {
      this.bdat = { sink: new BodySink(h.ctx.intake, this.transaction()), checker: new TextChecker(h.ctx.maxMessageSize) };
    }
    const b = this.bdat;
    const ended = await readChunk(h.conn, h.ctx, new BdatReader(size), b);
    if (ended !== undefined) return h.readEnded(ended);
    if (refusal !== undefined || !b) {
      h.reply(refusal ?? replies.badSequence());
      return;
    }
    if (!last) {
      h.reply(replies.chunkReceived(size));
      return;
    }
    this.bdat = undefined;
    b.checker.end();
    await this.complete(b.sink, b.checker.flaw);
  }

  private noRecipients(): SmtpReply {
    return this.host.ctx.mode === 'lmtp' ? replies.badSequence('No valid recipients') : replies.noValidRecipients();
  }

  /**
   * The reply after the data: SMTP gives one; LMTP (RFC 2033 §4.2) one per accepted recipient,
   * in the order of their RCPT commands. The message is stored once for all of them, so each
   * gets the same outcome, except those `refused` once the size was known (a full mailbox).
   */
  private replyAfterData(r: SmtpReply, refused?: ReadonlyMap<number, SmtpReply>): void {
    const n = this.host.ctx.mode === 'lmtp' ? this.recipients.length : 1;
    for (let i = 0; i < n; i++) this.host.reply(refused?.get(i) ?? r);
  }

  private async complete(body: BodySink | WholeBody, flaw: DataFlaw | undefined): Promise<void> {
    const h = this.host;
    if (flaw !== undefined) {
      const r = replyForFlaw(flaw);
      body.fail(r);
      await body.finish();
      publishRejected(h, 'data', r, { sender: this.sender });
      this.replyAfterData(r);
    } else {
      // An accepted message's `received` event is intake's (it sees every source: SMTP,
      // sendmail, bounces, lists); publishing it here as well would log each message twice.
      const { reply, result, error } = await body.finish();
      if (!result) {
        if (error instanceof MailError) publishRejected(h, 'data', reply, { sender: this.sender });
        else h.publish(channels.error, { error, where: 'intake.receive' });
      }
      this.replyAfterData(reply, result?.refused ?? (error instanceof RecipientsRefusedAfterData ? error.refused : undefined));
    }
    this.clear();
  }
}
