/**
 * @module intake
 * The one way into the spool (Postfix's cleanup): SMTP, submission, sendmail, bounces and list
 * re-injection all give intake an envelope and a body stream.
 * Standards: RFC 5321 §4.4 (trace fields), RFC 5322 §3.6 (Date/Message-ID for submissions).
 * Security: intake commits before anyone is told "accepted".
 * Limitations: none.
 */
import type { Readable } from 'node:stream';
import type { Address, ReversePath } from './address.js';
import type { DsnParams, MessageId } from './envelope.js';
import type { ResolvedRecipient } from './resolver.js';
import { MailError, type SmtpReply } from './smtp-reply.js';
import type { HeaderCheck, MessageHeader } from './policy.js';

/** Who handed us the message: feeds Received and relay decisions. */
export interface SessionInfo {
  /** "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", "LMTP", "HTTPA" (HTTP submission), "local" (sendmail), "internal" (bounces) */
  readonly protocol: string;
  readonly heloName?: string;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly remoteHostname?: string;
  readonly localAddress?: string;
  readonly tls?: { protocol: string; cipher: string };
  /** the authenticated user (AUTH), or the local login name for sendmail */
  readonly authUser?: string;
  /** trusted network or authenticated: may relay to non-local domains */
  readonly mayRelay: boolean;
  /** submission (port 587/465, sendmail): add Message-ID/Date when missing */
  readonly submission: boolean;
  /** for internal sources: no Received header is added twice, etc. */
  readonly internal?: boolean;
}

export interface MailParams {
  readonly size?: number;
  readonly body?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  readonly smtpUtf8?: boolean;
  readonly ret?: 'FULL' | 'HDRS';
  readonly envid?: string;
}

export interface AcceptedRecipient {
  readonly address: Address;
  readonly dsn: DsnParams;
  readonly targets: readonly ResolvedRecipient[];
}

export interface IntakeTransaction {
  readonly session: SessionInfo;
  readonly sender: ReversePath;
  readonly mail: MailParams;
  readonly recipients: readonly AcceptedRecipient[];
  /**
   * The end-of-data policy stage of the session that took the message (policy/), run by intake
   * once the header block is read and before anything is stored. Absent: no such checks (the
   * sendmail face, bounces, list re-injection).
   */
  readonly checkHeader?: HeaderCheck;
  /**
   * The end-of-data checks that need the body (SPF, DKIM, DMARC, ARC, rspamd on the MX port),
   * started by intake after checkHeader and fed the body while it is spooled: a refusal (the
   * draft is then dropped), or header fields to add and received ones to drop.
   */
  readonly checkMessage?: MessageCheck;
  /**
   * RFC 8617: the copy is sealed for `domain` by `sealer` as it is spooled (a list's copy,
   * list-transport.ts); intake's own forward sealing is then not applied to it.
   */
  readonly seal?: { readonly sealer: ListSealer; readonly domain: string };
  /**
   * LMTP (RFC 2033 §4.2): once the size is known, each recipient whose mailboxes are all over
   * their quota is refused on its own (IntakeResult.refused) instead of being queued
   */
  readonly perRecipientQuota?: boolean;
}

/** What an end-of-data message check decided (policy/trust). */
export interface MessageVerdict {
  readonly refusal?: SmtpReply;
  /** complete header fields to prepend (no trailing CRLF) */
  readonly fields: readonly string[];
  /** a received field to drop (lower-case name, unfolded trimmed value), e.g. a forged A-R */
  readonly remove?: (name: string, value: string) => boolean;
}

/**
 * Starts the end-of-data checks of one message: `header` parsed, and `start` the octets of the
 * message as received before its body (the header block and the empty line after it). The run
 * is then fed the body (policy/trust hashes it as it goes by: it is never held whole).
 */
export type MessageCheck = (header: MessageHeader, start: Buffer) => MessageCheckRun;

/** One message's end-of-data checks while its body streams into the spool. */
export interface MessageCheckRun {
  /** the next body octets, in order; a promise asks the caller to wait before the next ones */
  body(chunk: Buffer): void | Promise<void>;
  /** the body has all gone by: the verdict (`message` reads the whole of it again, spooled) */
  finish(message: ReceivedMessage): Promise<MessageVerdict>;
  /** the message is not taken after all: drop what the run holds (finish is not called) */
  abort(): void;
}

/** The message as received (`start` and body), once spooled: read again from the spool, not from memory. */
export interface ReceivedMessage {
  readonly size: number;
  read(): Readable;
}

/**
 * Signs mail at intake (DKIM, RFC 6376) while its body streams into the spool. `applies` says
 * whether a session's mail is signed at all; `streaming` starts one message's signing: `body`
 * is fed every octet after the header block's empty line, in order, and `finish` gets the
 * complete header block as it will be stored (without the empty line) and gives the
 * DKIM-Signature fields to put before it.
 */
export interface MessageSigner {
  applies(session: SessionInfo): boolean;
  streaming(): StreamingSignature;
}

/** One message's signing while its body streams (MessageSigner.streaming). */
export interface StreamingSignature {
  body(chunk: Buffer): void;
  /** the signature fields, once the header is complete (the key operation off the event loop) */
  finish(header: Buffer): Promise<readonly string[]>;
}

/**
 * The Sender Rewriting Scheme (policy/trust/srs.ts): `forward` gives the reverse-path of a
 * message an alias sends on to a remote address (so SPF at the next hop checks our domain);
 * `reverse` turns a recipient in the SRS domain back into the address to bounce to, or refuses
 * it; undefined when the recipient is not an SRS address.
 */
export interface SenderRewriter {
  forward(sender: Address): Address;
  reverse(rcpt: Address): SrsReversal | undefined;
}

export type SrsReversal = { readonly address: Address; readonly refusal?: undefined } | { readonly refusal: SmtpReply; readonly address?: undefined };

/**
 * Seals a mailing list's copy, or forwarded mail, for an intermediary's domain
 * (policy/trust/list-sealer.ts) while intake spools it: `start` is the message as received
 * before its body (header block and empty line: its ARC chain is validated on it), the run is
 * fed the body, and `finish` gets the header block as it will be stored (without the empty
 * line) and gives the fields to put before it (DKIM-Signature, ARC set, RFC 8617); [] when the
 * domain has no key.
 */
export interface ListSealer {
  start(domain: string, start: Buffer): SealRun;
  /** false: no key to seal with now; absent: true */
  readonly enabled?: boolean;
}

/** One copy's sealing while its body streams by (ListSealer.start). */
export interface SealRun {
  body(chunk: Buffer): void | Promise<void>;
  finish(header: Buffer): Promise<readonly string[]>;
  abort(): void;
}

export interface IntakeResult {
  readonly messageId: MessageId;
  /** the reply to give the client: 250 2.0.0 OK ... */
  readonly reply: SmtpReply;
  /** with perRecipientQuota: the recipients refused after the data, by their index in the transaction */
  readonly refused?: ReadonlyMap<number, SmtpReply>;
}

/** With perRecipientQuota, every recipient was refused after the data: nothing was queued. */
export class RecipientsRefusedAfterData extends MailError {
  readonly refused: ReadonlyMap<number, SmtpReply>;
  constructor(refused: ReadonlyMap<number, SmtpReply>) {
    super([...refused.values()][0], 'MAIL_ERR_QUOTA');
    this.refused = refused;
  }
}

export interface Intake {
  /** MAIL FROM checks of intake's own (the declared size); throws MailError to refuse */
  checkSender(session: SessionInfo, sender: ReversePath, mail: MailParams): Promise<void>;
  /**
   * RCPT TO: resolves the recipient; throws MailError (550 5.1.1, 554 5.7.1, 451 4.3.0, 452 4.2.2
   * when its mailboxes are all full, counting `declaredSize`: MAIL FROM's SIZE ...)
   */
  checkRecipient(session: SessionInfo, sender: ReversePath, rcpt: Address, dsn: DsnParams, declaredSize?: number): Promise<AcceptedRecipient>;
  /**
   * Takes the message (CRLF line ends, already dot-unstuffed) and commits it: a stream, or a
   * Buffer when the whole message is already in memory (a small SMTP DATA body).
   * Resolves only when durable. Throws MailError to refuse (552, 554 5.4.6, 451 ...).
   * A stream is always consumed or destroyed.
   */
  receive(tx: IntakeTransaction, body: Readable | Buffer, signal?: AbortSignal): Promise<IntakeResult>;
}
