/**
 * @module replies
 * Named reply factories: the reply for each decision is chosen where the decision is made.
 * Texts keep the seed's wording where it gives one (220, 250, 354, 550, 221).
 * Standards: RFC 5321 §4.2.2-§4.2.3, RFC 3463 (enhanced codes), RFC 2034, RFC 4954, RFC 3030.
 * Security: texts are plain RFC wording and reveal no configuration.
 * Limitations: none.
 */
import { reply, type SmtpReply } from './smtp-reply.js';

export const replies = {
  // 2xx
  greeting: (host: string): SmtpReply => reply(220, undefined, `${host} Simple Mail Transfer Service Ready`),
  // RFC 2033 §4.1: the greeting names LMTP so that an SMTP client talking to it by mistake sees why
  lmtpGreeting: (host: string): SmtpReply => reply(220, undefined, `${host} LMTP Service Ready`),
  closing: (host: string): SmtpReply => reply(221, '2.0.0', `${host} Service closing transmission channel`),
  ok: (): SmtpReply => reply(250, '2.0.0', 'OK'),
  senderOk: (): SmtpReply => reply(250, '2.1.0', 'OK'),
  recipientOk: (): SmtpReply => reply(250, '2.1.5', 'OK'),
  queued: (id: string): SmtpReply => reply(250, '2.0.0', `OK: queued as ${id}`),
  resetOk: (): SmtpReply => reply(250, '2.0.0', 'OK'),
  noopOk: (): SmtpReply => reply(250, '2.0.0', 'OK'),
  cannotVerify: (): SmtpReply =>
    reply(252, '2.5.0', 'Cannot VRFY user, but will accept message and attempt delivery'),
  verified: (addr: string): SmtpReply => reply(250, '2.1.5', `<${addr}>`),
  /** RFC 5321 §3.5.2: EXPN, one member per line */
  expansion: (addrs: readonly string[]): SmtpReply =>
    addrs.length === 0 ? reply(250, '2.1.5', 'List has no members') : reply(250, '2.1.5', ...addrs.map((a) => `<${a}>`)),
  authSucceeded: (): SmtpReply => reply(235, '2.7.0', 'Authentication successful'),
  readyForTls: (): SmtpReply => reply(220, '2.0.0', 'Ready to start TLS'),
  help: (): SmtpReply =>
    reply(214, '2.0.0', 'Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP', 'See RFC 5321'),

  // 3xx
  startMailInput: (): SmtpReply => reply(354, undefined, 'Start mail input; end with <CRLF>.<CRLF>'),

  // 4xx
  serviceUnavailable: (host: string, why = 'Service not available, closing transmission channel'): SmtpReply =>
    reply(421, '4.3.2', `${host} ${why}`),
  tooManyConnections: (host: string): SmtpReply =>
    reply(421, '4.7.0', `${host} Too many connections, try again later`),
  /** policy/rate-limits.ts: more connections a minute from one client than allowed */
  tooManyConnectionsPerMinute: (host: string): SmtpReply =>
    reply(421, '4.7.0', `${host} Too many connections from your address this minute, try again later`),
  /** policy/dns-lists.ts, RFC 5782: the client is on a DNS blocklist (554 at connect, RFC 5321 §3.1) */
  clientBlocklisted: (ip: string, zone: string): SmtpReply => reply(554, '5.7.1', `Service unavailable; client [${ip}] blocked using ${zone}`),
  clientBlocklistedTemporarily: (ip: string, zone: string): SmtpReply =>
    reply(421, '4.7.1', `Service unavailable; client [${ip}] listed by ${zone}, try again later`),
  /** policy/dns-lists.ts at RCPT (`dnsbl_stage = "rcpt"`): 550/450, the codes RCPT may give (RFC 5321 §4.3.2) */
  recipientRefusedForBlocklist: (ip: string, zone: string): SmtpReply => reply(550, '5.7.1', `Recipient refused; client [${ip}] blocked using ${zone}`),
  recipientDeferredForBlocklist: (ip: string, zone: string): SmtpReply => reply(450, '4.7.1', `Recipient refused; client [${ip}] listed by ${zone}, try again later`),
  /** policy/rate-limits.ts: more MAIL or RCPT commands a minute from one client than allowed */
  rateLimited: (what: 'messages' | 'recipients', from: 'address' | 'account' = 'address'): SmtpReply =>
    reply(451, '4.7.1', `Too many ${what} from your ${from} this minute, try again later`),
  /** policy/greylist.ts, RFC 6647 §4.2 */
  greylisted: (seconds: number): SmtpReply => reply(451, '4.7.1', `Greylisted, please try again in ${seconds} seconds`),
  commandTimeout: (host: string): SmtpReply => reply(421, '4.4.2', `${host} Timeout exceeded, closing connection`),
  tooManyErrors: (host: string): SmtpReply => reply(421, '4.7.0', `${host} Too many errors, closing connection`),
  localError: (): SmtpReply => reply(451, '4.3.0', 'Requested action aborted: local error in processing'),
  directoryFailure: (): SmtpReply => reply(451, '4.4.3', 'Directory server failure, try again later'),
  insufficientStorage: (): SmtpReply => reply(452, '4.3.1', 'Insufficient system storage'),
  tooManyRecipients: (): SmtpReply => reply(452, '4.5.3', 'Too many recipients'),
  /**
   * RFC 3463 X.2.2 "a persistent transient failure": the mailbox is over its quota now; the
   * sender retries and its queue lifetime decides (docs/quota.md)
   */
  mailboxFull: (): SmtpReply => reply(452, '4.2.2', 'Mailbox full'),
  tooManyAuthFailures: (host: string): SmtpReply => reply(421, '4.7.0', `${host} Too many authentication failures`),

  // 5xx syntax and sequence
  lineTooLong: (): SmtpReply => reply(500, '5.5.6', 'Line too long'),
  unknownCommand: (): SmtpReply => reply(500, '5.5.1', 'Command unrecognized'),
  syntaxError: (what = 'Syntax error in parameters or arguments'): SmtpReply => reply(501, '5.5.4', what),
  badSenderSyntax: (): SmtpReply => reply(501, '5.1.7', 'Bad sender address syntax'),
  badRecipientSyntax: (): SmtpReply => reply(501, '5.1.3', 'Bad recipient address syntax'),
  notImplemented: (): SmtpReply => reply(502, '5.5.1', 'Command not implemented'),
  badSequence: (what = 'Bad sequence of commands'): SmtpReply => reply(503, '5.5.1', what),
  parameterNotImplemented: (what = 'Command parameter not implemented'): SmtpReply => reply(504, '5.5.4', what),
  unknownParameter: (): SmtpReply => reply(555, '5.5.4', 'MAIL FROM/RCPT TO parameters not recognized or not implemented'),
  bareLineEnding: (): SmtpReply =>
    reply(554, '5.6.0', 'Message contains bare CR or LF; lines must end with <CRLF>'),
  textLineTooLong: (): SmtpReply => reply(552, '5.5.6', 'Message line exceeds 1000 octets'),

  // 5xx policy and mailbox
  noSuchUser: (): SmtpReply => reply(550, '5.1.1', 'No such user here'),
  /** RFC 3463 X.2.1: the account is disabled by its operator (docs/quota.md) */
  mailboxDisabled: (): SmtpReply => reply(550, '5.2.1', 'Mailbox disabled, not accepting messages'),
  /** RFC 5321 §4.2.2 552, RFC 3463 X.2.2: a message larger than the whole quota can never fit */
  messageExceedsQuota: (): SmtpReply => reply(552, '5.2.2', 'Mailbox full: message larger than the mailbox quota'),
  /** an SRS address (policy/trust/srs.ts) whose hash, shape or timestamp does not check out */
  srsInvalid: (why: string): SmtpReply => reply(550, '5.1.1', `Invalid SRS address (${why})`),
  badDestinationSystem: (): SmtpReply => reply(550, '5.1.2', 'Bad destination system address'),
  relayDenied: (): SmtpReply => reply(554, '5.7.1', 'Relay access denied'),
  senderNotOwned: (): SmtpReply => reply(553, '5.7.1', 'Sender address not owned by authenticated user'),
  messageTooBig: (): SmtpReply => reply(552, '5.3.4', 'Message size exceeds fixed maximum message size'),
  headerTooBig: (): SmtpReply => reply(552, '5.3.4', 'Message header size exceeds fixed maximum'),
  /** RFC 5322 §2.2.3: a folded line continues a field; the first line of a header cannot */
  headerStartsFolded: (): SmtpReply => reply(554, '5.6.0', 'Message header begins with a continuation line'),
  fromHeaderRequired: (): SmtpReply => reply(550, '5.7.1', 'A From header owned by the authenticated user is required'),
  mailLoop: (): SmtpReply => reply(554, '5.4.6', 'Mail loop detected'),
  listExpansionFailed: (): SmtpReply => reply(550, '5.2.4', 'Mailing list expansion problem'),
  /** a file or pipe target that the configuration or an unsafe include file does not allow (RFC 3463 X.7.1) */
  /** RFC 7489 §6.7, §10.3: the From domain's DMARC policy is reject and the message failed it */
  dmarcRejected: (domain: string): SmtpReply =>
    reply(550, '5.7.1', `Message refused: DMARC policy of ${domain} (SPF and DKIM not aligned with From)`),
  /** RFC 7489 §6.6.2, RFC 7208 §2.6.6: a temporary DNS error in SPF/DKIM/DMARC, when set to defer */
  senderAuthTemporaryFailure: (): SmtpReply => reply(451, '4.7.0', 'Temporary DNS failure checking sender authentication, try again later'),
  deliveryNotAuthorized: (): SmtpReply => reply(550, '5.7.1', 'Delivery not authorized, message refused'),
  /** a list member that is not an address (RFC 3463 X.1.3) */
  badListMember: (): SmtpReply => reply(553, '5.1.3', 'Bad destination mailbox address syntax'),
  authRequired: (): SmtpReply => reply(530, '5.7.0', 'Authentication required'),
  encryptionRequired: (): SmtpReply => reply(538, '5.7.11', 'Encryption required for requested authentication mechanism'),
  authFailed: (): SmtpReply => reply(535, '5.7.8', 'Authentication credentials invalid'),
  noValidRecipients: (): SmtpReply => reply(554, '5.5.1', 'No valid recipients'),
  transactionFailed: (why = 'Transaction failed'): SmtpReply => reply(554, '5.0.0', why),
  utf8NotPermitted: (): SmtpReply => reply(553, '5.6.7', 'Non-ASCII address requires SMTPUTF8'),
  // SMTP server session (added for src/server/smtp)
  helo: (host: string): SmtpReply => reply(250, undefined, host),
  ehlo: (host: string, extensions: readonly string[]): SmtpReply => reply(250, undefined, host, ...extensions),
  chunkReceived: (octets: number): SmtpReply => reply(250, '2.0.0', `${octets} octets received`),
  saslChallenge: (base64: string): SmtpReply => reply(334, undefined, base64),
  tlsNotAvailable: (): SmtpReply => reply(454, '4.7.0', 'TLS not available due to temporary reason'),
  authTemporaryFailure: (): SmtpReply => reply(454, '4.7.0', 'Temporary authentication failure'),
  /** RFC 4954 §6: the login waited too long behind others from the same address or for the same account */
  authBusy: (): SmtpReply => reply(454, '4.7.0', 'Temporary authentication failure: too many logins in progress, try again later'),
  authCancelled: (): SmtpReply => reply(501, '5.7.0', 'Authentication cancelled'),
  cannotDecodeAuth: (): SmtpReply => reply(501, '5.5.2', 'Cannot decode response'),
  unrecognizedAuthMechanism: (): SmtpReply => reply(504, '5.5.4', 'Unrecognized authentication type'),
} as const;
