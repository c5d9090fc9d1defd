/**
 * @module checks
 * The named checks of each SMTP stage, each a small factory taking its setting and returning a
 * Check (check.ts). smtp-policy.ts puts them in lists per stage and per listener.
 * Standards: RFC 5321 §4.5.3.1.8 (at least 100 recipients), §3.6.1 and §7.1 (relaying only for
 *   known clients), §3.5 and §7.3 (VRFY/EXPN may be refused to strangers); RFC 1870 §6 (SIZE
 *   declared at MAIL); RFC 6409 §4.3 (submission needs AUTH), §6.1 (sender ownership);
 *   RFC 3463 (the enhanced codes of each refusal).
 * Security: relay control and the sender rules are the two checks an open relay or a forged
 *   sender would have to pass; both are on for every listener the configuration builds.
 * Limitations: the DNS lists, rate limits and greylisting are in dns-lists.ts, rate-limits.ts and
 *   greylist.ts; SPF, DKIM and DMARC run at end of data (trust/inbound.ts).
 */
import { replies, type AcceptedRecipient, type Address, type MailParams, type MessageHeader, type ReversePath, type SessionInfo } from '../core/index.js';
import type { Check } from './check.js';
import type { SenderRules } from './sender-rules.js';

/** connect: a new connection, counted with the ones already open. */
export interface ConnectFacts {
  readonly session: SessionInfo;
  /** open connections, this one included */
  readonly connections: number;
  /** open connections from this client address, this one included */
  readonly fromClient: number;
}
export interface HeloFacts {
  readonly session: SessionInfo;
  readonly name: string;
}
export interface MailFacts {
  readonly session: SessionInfo;
  readonly sender: ReversePath;
  readonly mail: MailParams;
}
export interface RcptFacts {
  readonly session: SessionInfo;
  readonly sender: ReversePath;
  readonly recipient: Address;
  /** recipients already accepted in this transaction */
  readonly accepted: number;
}
export interface DataFacts {
  readonly session: SessionInfo;
  readonly sender: ReversePath;
  readonly recipients: readonly AcceptedRecipient[];
}
export interface EndOfDataFacts {
  readonly session: SessionInfo;
  readonly sender: ReversePath;
  readonly header: MessageHeader;
}
/** VRFY and EXPN: the client's argument as given. */
export interface LookupFacts {
  readonly session: SessionInfo;
  readonly argument: string;
}

// ---- connect ----

/** Past `max` open connections in all: 421 4.7.0. */
export function connectionLimit(max: number, hostname: string): Check<ConnectFacts> {
  return { name: 'connection-limit', check: (f) => (f.connections > max ? replies.tooManyConnections(hostname) : undefined) };
}

/** Past `max` open connections from one client address: 421 4.7.0. */
export function clientConnectionLimit(max: number, hostname: string): Check<ConnectFacts> {
  return { name: 'client-connection-limit', check: (f) => (f.fromClient > max ? replies.tooManyConnections(hostname) : undefined) };
}

// ---- mail ----

/** RFC 6409 §4.3: a submission listener takes no transaction before AUTH (530 5.7.0). */
export function authenticationRequired(): Check<MailFacts> {
  return { name: 'authentication-required', check: (f) => (f.session.authUser === undefined ? replies.authRequired() : undefined) };
}

/** RFC 1870 §6: a SIZE declared over the limit is refused at MAIL (552 5.3.4). */
export function declaredSize(max: number): Check<MailFacts> {
  return { name: 'declared-size', check: (f) => (f.mail.size !== undefined && f.mail.size > max ? replies.messageTooBig() : undefined) };
}

/** RFC 6409 §6.1: an authenticated session's MAIL FROM must be the user's own (553 5.7.1). */
export function envelopeSenderOwned(rules: SenderRules): Check<MailFacts> {
  return { name: 'envelope-sender-owned', check: (f) => rules.envelope(f.session, f.sender) };
}

// ---- rcpt ----

/** RFC 5321 §4.5.3.1.8: past `max` recipients, 452 4.5.3 (at least 100 are always taken). */
export function recipientLimit(max: number): Check<RcptFacts> {
  const limit = Math.max(100, max);
  return { name: 'recipient-limit', check: (f) => (f.accepted >= limit ? replies.tooManyRecipients() : undefined) };
}

/**
 * RFC 5321 §7.1: a recipient outside the local domains only from a client that may relay (a
 * trusted network, or authenticated): else 554 5.7.1. An alias may still forward anywhere: only
 * the client's own recipient is judged here. A failed domain lookup throws its 4xx.
 */
export function relayControl(isLocalDomain: (domain: string) => Promise<boolean>): Check<RcptFacts> {
  return {
    name: 'relay-control',
    check: async (f) => {
      // RFC 5321 §4.1.1.3: "<postmaster>" with no domain is this host's
      if (f.session.mayRelay || f.recipient.domain === '') return undefined;
      return (await isLocalDomain(f.recipient.domain.toLowerCase())) ? undefined : replies.relayDenied();
    },
  };
}

// ---- end of data ----

/**
 * RFC 6409 §6.1, §8: From must be the authenticated user's own, a null sender needs one, and a
 * header block past intake's cap is refused (sender-rules.ts).
 */
export function fromHeaderOwned(rules: SenderRules): Check<EndOfDataFacts> {
  return { name: 'from-header-owned', check: (f) => rules.header(f.session, f.sender, f.header) };
}

// ---- VRFY / EXPN ----

/**
 * RFC 5321 §3.5, §7.3: VRFY and EXPN help address harvesters: strangers get `refusal` (252 for
 * VRFY, 502 for EXPN) whatever the name; trusted networks and authenticated users get answers.
 */
export function lookupOnlyForKnownClients(refusal: () => ReturnType<typeof replies.cannotVerify>): Check<LookupFacts> {
  return { name: 'known-clients-only', check: (f) => (f.session.mayRelay ? undefined : refusal()) };
}
