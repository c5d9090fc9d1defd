/**
 * @module submission
 * Sending a message on behalf of a logged-in user from outside SMTP (JMAP EmailSubmission, HTTP
 * submission): the same checks and path as SMTP submission (RFC 6409) — sender rules, relay,
 * limits, intake, DKIM signing — behind one small interface, wired in app/.
 * Standards: RFC 6409 (message submission), RFC 8621 §7 (EmailSubmission).
 * Security: the caller has authenticated `user`; the sender rules decide which envelope sender
 *   and From addresses that user may use.
 * Limitations: none.
 */
import { MailError, type SmtpReply } from './smtp-reply.js';

export interface SubmitRequest {
  /** the authenticated account */
  readonly user: string;
  /** what the caller is ("HTTP"), the client's address, whether the connection was TLS (Received: with HTTPA/HTTPSA) */
  readonly protocol: string;
  readonly remoteAddress?: string;
  readonly secure: boolean;
  /** the envelope: MAIL FROM (an address, "" for <>) and RCPT TO */
  readonly sender: string;
  readonly recipients: readonly string[];
  /** the whole message, CRLF line ends */
  readonly message: Buffer;
}

export interface SubmitResult {
  /** the spool's id of the message */
  readonly queueId: string;
  /** recipients accepted */
  readonly accepted: readonly string[];
}

/**
 * Some recipients were refused for good (unknown, not allowed): nothing was sent. Each carries
 * the reply an SMTP submission session would have given at its RCPT; the error's own reply is
 * the first of them.
 */
export class RecipientsRefused extends MailError {
  constructor(readonly refused: readonly { readonly recipient: string; readonly reply: SmtpReply }[]) {
    super(refused[0].reply, 'MAIL_ERR_RECIPIENTS_REFUSED');
    this.name = 'RecipientsRefused';
  }
}

/**
 * Throws MailError (with the SMTP reply a submission session would have given) when refused:
 * RecipientsRefused when recipients were refused for good, a plain MailError for the sender,
 * the message or a temporary failure.
 */
export interface MessageSubmitter {
  submit(req: SubmitRequest): Promise<SubmitResult>;
}
