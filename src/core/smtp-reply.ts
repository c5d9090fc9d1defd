/**
 * @module smtp-reply
 * SMTP replies as values: a basic code, an optional enhanced status and text lines.
 * Standards: RFC 5321 §4.2 (reply codes), RFC 2034 (ENHANCEDSTATUSCODES), RFC 3463 (status codes).
 * Security: reply text is public; it must never reveal configuration or internal errors.
 * Limitations: none.
 */

/** A three-digit SMTP reply code (RFC 5321 §4.2.1). */
export type ReplyCode = number;

/** An RFC 3463 enhanced status code, "class.subject.detail", e.g. "5.1.1". */
export type EnhancedStatus = `${2 | 4 | 5}.${number}.${number}`;

export interface SmtpReply {
  readonly code: ReplyCode;
  readonly status?: EnhancedStatus;
  readonly lines: readonly string[];
}

export function reply(code: ReplyCode, status: EnhancedStatus | undefined, ...lines: string[]): SmtpReply {
  return status === undefined ? { code, lines } : { code, status, lines };
}

export function isTemporary(r: SmtpReply): boolean {
  return r.code >= 400 && r.code < 500;
}

/** One-line human form, e.g. "550 5.1.1 No such user here". */
export function formatReply(r: SmtpReply): string {
  const text = r.lines.join(' ');
  return r.status ? `${r.code} ${r.status} ${text}` : `${r.code} ${text}`;
}

/**
 * An error that carries the SMTP reply to give for it. Code that decides a reply throws
 * one of these; anything else that escapes is answered 451 4.3.0 (unknown errors are temporary).
 */
export class MailError extends Error {
  readonly reply: SmtpReply;
  readonly code: `MAIL_ERR_${string}`;
  constructor(reply: SmtpReply, code: `MAIL_ERR_${string}` = 'MAIL_ERR_REPLY', options?: { cause?: unknown }) {
    super(formatReply(reply), options);
    this.name = 'MailError';
    this.reply = reply;
    this.code = code;
  }
  get temporary(): boolean {
    return isTemporary(this.reply);
  }
}

/** The reply for any error: a MailError's own, else 451 4.3.0. */
export function replyForError(err: unknown): SmtpReply {
  if (err instanceof MailError) return err.reply;
  return { code: 451, status: '4.3.0', lines: ['Requested action aborted: local error in processing'] };
}
