/**
 * @module message-submitter
 * The MessageSubmitter (core/submission.ts) of the running server: a message sent by a
 * logged-in user over HTTP (JMAP EmailSubmission/set, HTTP submission) goes through the
 * submission listener's policy stages (mail, rcpt, data, end of data: sender rules, relay,
 * limits), then intake (trace fields, Message-ID/Date, resolving, DKIM signing, the durable
 * commit) — what an SMTP submission session does with the same message.
 * Standards: RFC 6409 §4–§8 (submission), RFC 5321 §4.4 (Received, "with HTTPA").
 * Security: the session is marked authenticated as `user` (AUTH done by the web) and may relay,
 *   exactly as an SMTP AUTH session; the sender rules check the envelope sender and From.
 * Limitations: all recipients or none: recipients refused for good are all checked and reported
 *   together (RecipientsRefused), and nothing is sent; a temporary refusal answers at once.
 */
import { MailError, RecipientsRefused, replies, type AcceptedRecipient, type Intake, type MessageSubmitter, type SessionInfo, type SubmitRequest, type SubmitResult } from '../core/index.js';
import { parseForwardPath, parseReversePath } from '../address/index.js';
import type { StagePolicy } from '../policy/index.js';

export function messageSubmitter(deps: { intake: () => Intake; policy: () => StagePolicy }): MessageSubmitter {
  return {
    async submit(req: SubmitRequest): Promise<SubmitResult> {
      const session: SessionInfo = {
        protocol: req.secure ? 'HTTPSA' : 'HTTPA',
        ...(req.remoteAddress !== undefined && { remoteAddress: req.remoteAddress }),
        authUser: req.user,
        mayRelay: true,
        submission: true,
      };
      const intake = deps.intake();
      const policy = deps.policy();
      const refuse = (reply: Awaited<ReturnType<StagePolicy['mail']>>): void => {
        if (reply) throw new MailError(reply);
      };
      const parsed = <T>(f: () => T, bad: () => ReturnType<typeof replies.badSenderSyntax>): T => {
        try {
          return f();
        } catch {
          throw new MailError(bad());
        }
      };
      const sender = parsed(() => parseReversePath(`<${req.sender}>`, { smtpUtf8: true }), replies.badSenderSyntax);
      const mail = { size: req.message.length, smtpUtf8: true };
      refuse(await policy.mail({ session, sender, mail }));
      await intake.checkSender(session, sender, mail);
      const recipients: AcceptedRecipient[] = [];
      const refused: { recipient: string; reply: MailError['reply'] }[] = [];
      for (const r of req.recipients) {
        try {
          const recipient = parsed(() => parseForwardPath(`<${r}>`, { smtpUtf8: true }), replies.badRecipientSyntax);
          refuse(await policy.rcpt({ session, sender, recipient, accepted: recipients.length }));
          recipients.push(await intake.checkRecipient(session, sender, recipient, {}));
        } catch (err) {
          // a permanent refusal is reported with the others; a temporary one ends the attempt
          if (!(err instanceof MailError) || err.reply.code < 500) throw err;
          refused.push({ recipient: r, reply: err.reply });
        }
      }
      if (refused.length > 0) throw new RecipientsRefused(refused);
      refuse(await policy.data({ session, sender, recipients }));
      const result = await intake.receive(
        { session, sender, mail, recipients, checkHeader: (header) => policy.endOfData({ session, sender, header }) },
        req.message,
      );
      return { queueId: result.messageId, accepted: recipients.map((r) => `${r.address.local}@${r.address.domain}`) };
    },
  };
}
