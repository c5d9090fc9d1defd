/**
 * @module policy
 * The vocabulary of SMTP policy (DESIGN.md §2, layer 4 `policy/`): the listener modes, the
 * header an end-of-data check sees, and who owns which address. The checks themselves live in
 * `policy/`; intake (the same layer) meets them only through these types, wired in `app/` and
 * handed over by the server with each transaction.
 * Standards: RFC 5321 §3.3 (the stages of a transaction), RFC 6409 §6.1 (sender ownership).
 * Security: see policy/.
 * Limitations: none.
 */
import type { Address } from './address.js';
import type { SmtpReply } from './smtp-reply.js';

/**
 * The header field the inbound checks add to a message DMARC says to quarantine (RFC 7489
 * §6.3 p=quarantine; policy/trust/inbound.ts), and that final delivery reads to put it in the
 * recipient's Junk folder (transport/maildir-transport.ts). A received field of that name is
 * removed on the MX port, so a stranger cannot set it.
 */
export const QUARANTINE_FIELD = 'X-Correio-Quarantine';

/**
 * An SMTP listener's service: MX (25), submission (587, STARTTLS), submissions (465, TLS), or
 * LMTP (RFC 2033: another mail system hands over mail for local mailboxes).
 */
export type ListenMode = 'mx' | 'submission' | 'submissions' | 'lmtp';

/** The header block of a message, as intake read it for the end-of-data checks. */
export interface MessageHeader {
  /** the fields in order: names lower case, values unfolded and trimmed */
  readonly fields: readonly { readonly name: string; readonly value: string }[];
  /**
   * false when the header block did not end within intake's cap (256 KB): then `fields` are
   * only those before the cap, and a check must not conclude from them alone
   */
  readonly complete: boolean;
}

/**
 * The end-of-data stage, run by intake once it has read the header block (before anything is
 * written to the spool): a refusal, or undefined to accept.
 */
export type HeaderCheck = (header: MessageHeader) => Promise<SmtpReply | undefined>;

/** Whether an authenticated user may use an address as a sender (their own, or one they hold). */
export interface SenderOwnership {
  mayUse(authUser: string, address: Address): Promise<boolean>;
}
