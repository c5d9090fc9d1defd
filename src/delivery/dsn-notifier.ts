/**
 * @module dsn-notifier
 * Sends delivery status notifications: one report per message listing every recipient of the
 * batch, composed by protocol/mime's composeDsn and handed to intake with the null sender, as
 * any other message (bounces re-enter through intake: DESIGN.md §1).
 * Standards: RFC 3461 §4.1-§4.4 (NOTIFY, RET, ENVID, ORCPT), §5.2.7 and §6 (which DSNs to
 *   send), RFC 3464 (the report), RFC 5321 §4.5.5 (notifications are sent with the null
 *   reverse-path; a failed one is not bounced again, §6.1), RFC 3834 (auto-replies).
 * Security: a notice about a message from "<>" never goes back to "<>": failures go to the
 *   postmaster and delay or success notices are dropped, so two sites cannot bounce a message
 *   between them forever. A report to the sender keeps the default NOTIFY, so that if it fails
 *   the postmaster hears of it (once); a report to the postmaster is sent with NOTIFY=NEVER, so
 *   its own failure ends there (Postfix's double bounce).
 * Limitations: delay and success notices for a null-sender message are not sent at all (the
 *   postmaster gets failures only).
 */
import type { Readable } from 'node:stream';
import type { Address, ReversePath } from '../core/address.js';
import { addressToString } from '../core/address.js';
import { notifyWants, type MessageId, type NoticeKind } from '../core/envelope.js';
import type { AcceptedRecipient, Intake, SessionInfo } from '../core/intake.js';
import type { QueueStore } from '../core/queue-store.js';
import type { Clock } from '../core/scheduler.js';
import { MailError } from '../core/smtp-reply.js';
import type { DeliveryReport, Notifier } from '../core/transport.js';
import { composeDsn, dsnIsEightBit } from '../protocol/mime/dsn.js';
import type { DsnInput, DsnRecipient } from '../protocol/mime/dsn-parts.js';
import { findHeader, splitMessage } from '../protocol/mime/header-block.js';
import { makeMessageId } from '../protocol/mime/trace-headers.js';

export interface DsnNotifierOptions {
  /** our host name: Reporting-MTA and MAILER-DAEMON@hostname */
  readonly hostname: string;
  /** where the original is read from */
  readonly store: QueueStore;
  readonly intake: Intake;
  readonly clock: Clock;
  /** the postmaster's address, e.g. "postmaster@example.org": gets failures of "<>" mail */
  readonly postmaster: string;
  /** ms; with it, delay notices say until when delivery is tried (Will-Retry-Until) */
  readonly maxQueueLifetime?: number;
}

type Kind = NoticeKind;

/** The session notices come from: trusted, internal, not a submission. */
export const internalSession: SessionInfo = {
  protocol: 'internal',
  internal: true,
  mayRelay: true,
  submission: false,
};

/** RFC 3461 §4.1: the one rule of which notices NOTIFY asks for lives beside the envelope. */
export { notifyWants };

function parseMailbox(s: string): Address {
  const bare = s.trim().replace(/^<(.*)>$/, '$1');
  const at = bare.lastIndexOf('@');
  if (at <= 0 || at === bare.length - 1) throw new Error(`postmaster address "${s}" is not local@domain`);
  return { local: bare.slice(0, at), domain: bare.slice(at + 1).toLowerCase() };
}

const isAscii = (s: string): boolean => /^[\x00-\x7f]*$/.test(s);

export class DsnNotifier implements Notifier {
  private readonly postmaster: Address;

  constructor(private readonly opts: DsnNotifierOptions) {
    this.postmaster = parseMailbox(opts.postmaster);
  }

  async notify(kind: Kind, messageId: MessageId, reports: readonly DeliveryReport[]): Promise<void> {
    const wanted = reports.filter((r) => notifyWants(r.envelope.dsn.notify, kind));
    if (wanted.length === 0) return;
    const first = wanted[0].envelope;
    const sender: ReversePath = first.sender;
    // RFC 5321 §6.1: never bounce a bounce. A failed "<>" message goes to the postmaster;
    // delay and success notices about one are of no use to anyone.
    if (sender === null && kind !== 'failure') return;

    const now = this.opts.clock.now();
    const recipients: DsnRecipient[] = wanted.map((r) => {
      const env = r.envelope;
      const res = r.result;
      const last = env.attempts.at(-1);
      const rec: DsnRecipient = {
        finalRecipient: addressToString(env.recipient),
        action: res.action,
        status: res.status,
      };
      // RFC 3461 §4.2: ORCPT as given; else the address first given at RCPT, as Postfix does
      if (env.dsn.orcpt) rec.originalRecipient = env.dsn.orcpt;
      else if (env.originalRecipient) rec.originalRecipient = `rfc822;${addressToString(env.originalRecipient)}`;
      if (res.remoteMta) rec.remoteMta = res.remoteMta;
      const diagnostic = res.reply ?? res.error;
      if (diagnostic !== undefined) rec.diagnostic = diagnostic;
      rec.lastAttemptAt = last?.at ?? now;
      if (res.action === 'delayed' && this.opts.maxQueueLifetime !== undefined) {
        rec.willRetryUntil = env.arrivedAt + this.opts.maxQueueLifetime;
      }
      return rec;
    });

    const originalMessageId = await this.readMessageId(messageId);
    const base = {
      kind,
      reportingMta: this.opts.hostname,
      from: `MAILER-DAEMON@${this.opts.hostname}`,
      arrivalDate: first.arrivedAt,
      recipients,
      // RFC 3461 §4.3: RET applies to failure reports; others carry the header block
      ret: kind === 'failure' && first.dsn.ret === 'FULL' ? ('FULL' as const) : ('HDRS' as const),
      original: () => this.opts.store.openMessage(messageId),
      date: now,
      messageId: makeMessageId(this.opts.hostname),
      originalBody: first.body ?? '7BIT',
      ...(first.dsn.envid !== undefined && { envid: first.dsn.envid }),
      ...(originalMessageId !== undefined && { originalMessageId }),
    };

    if (sender !== null) {
      const to = addressToString(sender);
      try {
        await this.submit({ ...base, to, smtpUtf8: first.smtpUtf8 === true || !isAscii(to) }, sender, false);
        return;
      } catch (err) {
        // A temporary refusal: the caller retries later. A permanent one (the sender's address
        // cannot take mail): the postmaster is told instead, so the report is not lost.
        if (!(err instanceof MailError) || err.temporary) throw err;
      }
    }
    const to = addressToString(this.postmaster);
    await this.submit({ ...base, to, smtpUtf8: first.smtpUtf8 === true || !isAscii(to) }, this.postmaster, true);
  }

  /** The original's Message-ID, for In-Reply-To/References; undefined when absent or unreadable. */
  private async readMessageId(messageId: MessageId): Promise<string | undefined> {
    let stream: Readable | undefined;
    try {
      stream = await this.opts.store.openMessage(messageId);
      const split = await splitMessage(stream, { maxHeaderBytes: 64 * 1024 });
      split.body.destroy();
      return findHeader(split.fields, 'message-id')?.trim();
    } catch {
      stream?.destroy();
      return undefined; // composing opens the message again and reports the real error
    }
  }

  /** `last`: no notice about this notice (the postmaster's copy); else a failure reaches the postmaster. */
  private async submit(input: DsnInput, rcpt: Address, last: boolean): Promise<void> {
    const intake = this.opts.intake;
    const mail = {
      body: dsnIsEightBit(input) ? ('8BITMIME' as const) : ('7BIT' as const),
      ...(input.smtpUtf8 && { smtpUtf8: true }),
    };
    await intake.checkSender(internalSession, null, mail);
    // A notice to the sender that fails goes to the postmaster (RFC 5321 §6.1: never back to
    // "<>"); the postmaster's copy is sent with NOTIFY=NEVER so its failure ends the round.
    const accepted: AcceptedRecipient = await intake.checkRecipient(internalSession, null, rcpt, last ? { notify: ['NEVER'] } : {});
    const body = composeDsn(input);
    try {
      await intake.receive({ session: internalSession, sender: null, mail, recipients: [accepted] }, body);
    } finally {
      body.destroy();
    }
  }
}
