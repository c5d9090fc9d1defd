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

/** Throws MailError (with the SMTP reply a submission session would have given) when refused. */
export interface MessageSubmitter {
  submit(req: SubmitRequest): Promise<SubmitResult>;
}
