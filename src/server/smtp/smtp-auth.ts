/**
 * @module smtp-auth
 * The SMTP AUTH command's exchange once the session allows it (RFC 4954): the SASL mechanism
 * run over 334 challenges, the shared authentication throttle, and the reply to each outcome.
 * Standards: RFC 4954 §4 (AUTH, "*" cancels, 334 challenges), §6 (235, 454 4.7.0, 501 5.5.2,
 *   504 5.5.4, 535 5.7.8), §9 (limit failed attempts); RFC 4616 (PLAIN); LOGIN as deployed.
 * Security: every attempt is counted by policy/auth-throttle (per address and per account)
 *   before its password is checked, so concurrent attempts cannot all be checked before the
 *   limit applies; failures are delayed; an address over its limit is disconnected with 421.
 * Limitations: the checks that come before an exchange (EHLO first, TLS, not inside a
 *   transaction, not twice) are the session's; mechanisms are protocol/sasl's (PLAIN, LOGIN).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { MailError, formatReply, type SmtpReply } from '../../core/smtp-reply.js';
import { replies } from '../../core/replies.js';
import { channels } from '../../core/events.js';
import { runSaslExchange } from '../../protocol/sasl/index.js';
import type { AuthThrottle } from '../../policy/auth-throttle.js';

/** What the exchange needs from its session. */
export interface AuthExchangeIo {
  readonly remoteAddress: string;
  readonly hostname: string;
  readonly authenticate: (user: string, password: string) => Promise<boolean>;
  readonly authThrottle: AuthThrottle;
  readonly authFailureDelayMs: number;
  reply(r: SmtpReply): void;
  /** sends the challenge and reads the client's response line; throws to end the session */
  challenge(base64: string): Promise<string>;
  /** sends `r` and ends the session; never returns */
  close(r: SmtpReply): Promise<never>;
  publish(name: string, message: object): void;
}

/**
 * Runs `AUTH <args>`. Resolves to the authenticated user, or undefined when the attempt failed
 * and its reply was sent; refusals the client may retry are thrown as MailError.
 */
export async function authExchange(args: string, io: AuthExchangeIo): Promise<string | undefined> {
  const throttle = io.authThrottle;
  if (throttle.addressBlocked(io.remoteAddress)) return io.close(replies.tooManyAuthFailures(io.hostname));
  const [mech, initial, extra] = args.split(' ');
  if (extra !== undefined || !mech) throw new MailError(replies.syntaxError());
  const outcome = await runSaslExchange(mech, initial, (c) => io.challenge(c));
  switch (outcome.kind) {
    case 'unsupported':
      throw new MailError(replies.unrecognizedAuthMechanism());
    case 'cancelled':
      throw new MailError(replies.authCancelled());
    case 'malformed':
      throw new MailError(replies.cannotDecodeAuth());
    case 'refused':
      return failed(io, throttle.fail(io.remoteAddress, outcome.authcid), outcome.authcid);
    case 'credentials':
      break;
  }
  const { authcid, password } = outcome.credentials;
  const verdict = await throttle.check(io.remoteAddress, authcid, () => io.authenticate(authcid, password));
  switch (verdict.kind) {
    case 'refused':
      if (verdict.why === 'address') return io.close(replies.tooManyAuthFailures(io.hostname));
      // the account is guessed from elsewhere: a temporary refusal, this client may go on
      await delay(io.authFailureDelayMs);
      io.publish(channels.rejected, { stage: 'auth', reply: formatReply(replies.authTemporaryFailure()), client: io.remoteAddress, user: authcid });
      throw new MailError(replies.authTemporaryFailure());
    case 'error':
      io.publish(channels.error, { error: verdict.error, where: 'authenticate' });
      throw new MailError(replies.authTemporaryFailure());
    case 'busy':
      // waited policy/auth-throttle's MAX_LOGIN_WAIT_MS behind other logins: not counted, try later
      io.publish(channels.rejected, { stage: 'auth', reply: formatReply(replies.authBusy()), client: io.remoteAddress, user: authcid });
      throw new MailError(replies.authBusy());
    case 'failed':
      return failed(io, verdict.blocked, authcid);
    case 'ok':
      io.reply(replies.authSucceeded());
      return authcid;
  }
}

/** 535 after a delay (RFC 4954 §9: slow guessing down); 421 and close once over the limit. */
async function failed(io: AuthExchangeIo, over: boolean, user: string | undefined): Promise<undefined> {
  await delay(io.authFailureDelayMs);
  io.publish(channels.rejected, { stage: 'auth', reply: formatReply(replies.authFailed()), client: io.remoteAddress, ...(user !== undefined && { user }) });
  io.reply(replies.authFailed());
  if (over) await io.close(replies.tooManyAuthFailures(io.hostname));
  return undefined;
}
