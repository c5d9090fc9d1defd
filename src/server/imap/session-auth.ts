/**
 * @module session-auth
 * The not-authenticated state of an IMAP session: STARTTLS, LOGIN and AUTHENTICATE (PLAIN and
 * LOGIN, with SASL-IR), the password rule before TLS and the failure throttle.
 * Standards: RFC 9051 §6.2.1 (STARTTLS: pipelined input discarded), §6.2.2 (AUTHENTICATE:
 *   "+ " challenges, "*" cancels with BAD), §6.2.3 (LOGIN), §7.1 (CAPABILITY in the tagged OK
 *   of a login); RFC 4959 (SASL-IR); RFC 5530 (PRIVACYREQUIRED, AUTHENTICATIONFAILED,
 *   UNAVAILABLE, CANNOT).
 * Security: passwords are refused before TLS except where `plaintextAuth` allows (loopback by
 *   default; LOGINDISABLED is then advertised); every password check goes through the shared
 *   AuthThrottle (per address and per account, with SMTP AUTH and POP3); a failure is delayed
 *   and the session closed after `maxAuthFailures`; the user name is never echoed.
 * Limitations: only PLAIN and LOGIN (no SCRAM, no EXTERNAL).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { runSaslExchange } from '../../protocol/sasl/index.js';
import { LONG, type LineConnection } from '../connection/index.js';
import { maxLine } from './command-reader.js';
import { bad, no, ok, type ImapSessionContext, type TaggedResult } from './session-types.js';

/** The client went away in the middle of an exchange: the session ends. */
export class ExchangeEnded extends Error {}

/** What the authentication steps need of their session. */
export interface AuthHost {
  readonly conn: LineConnection;
  readonly ctx: ImapSessionContext;
  /** aborted when the session ends (cuts the failure delay short) */
  readonly signal: AbortSignal;
  tagged(tag: string, r: TaggedResult): void;
  untagged(line: string): void;
  /** the session is over, resources released; `loggedOut`: the connection is ended gracefully (BYE sent), not cut */
  finish(loggedOut: boolean): void;
  /** the state goes to authenticated as `user`; the capabilities for the tagged OK */
  loggedIn(user: string): string[];
}

/** Full address with its domain lower-cased. */
function normalizeUser(name: string): string {
  const at = name.lastIndexOf('@');
  return at < 0 ? name : `${name.slice(0, at)}@${name.slice(at + 1).toLowerCase()}`;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

const privacyRequired = (): TaggedResult => no('Plaintext authentication is disabled here; use STARTTLS first', 'PRIVACYREQUIRED');

export class SessionAuth {
  private failures = 0;

  constructor(
    private readonly host: AuthHost,
    /** the connection is encrypted (implicit TLS, or after STARTTLS) */
    public secure: boolean,
  ) {}

  /** Whether passwords may be sent on this connection now. */
  get plainAllowed(): boolean {
    const { ctx, conn } = this.host;
    if (this.secure || ctx.plaintextAuth === 'always') return true;
    return ctx.plaintextAuth === 'loopback' && isLoopback(conn.remoteAddress);
  }

  /** The capabilities only offered before login (STARTTLS, AUTH= or LOGINDISABLED). */
  preLoginCapabilities(): string[] {
    const caps: string[] = [];
    if (this.host.ctx.secureContext && !this.secure) caps.push('STARTTLS');
    if (this.plainAllowed) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
    else caps.push('LOGINDISABLED');
    return caps;
  }

  async startTls(tag: string): Promise<TaggedResult | undefined> {
    if (this.secure) return bad('TLS is already active');
    const context = this.host.ctx.secureContext;
    if (!context) return no('TLS is not available');
    this.host.tagged(tag, ok('Begin TLS negotiation now'));
    // RFC 9051 §6.2.1: whatever the client pipelined after STARTTLS is discarded by the upgrade
    const t = await this.host.conn.upgradeTls(context, this.host.ctx.loginTimeoutMs);
    if (!t) {
      this.host.finish(false);
      return undefined;
    }
    this.secure = true;
    return undefined;
  }

  loginCommand(user: string, password: string): Promise<TaggedResult | undefined> {
    if (!this.plainAllowed) return Promise.resolve(privacyRequired());
    return this.login(user, password);
  }

  async authenticate(mechanism: string, initial: string | undefined): Promise<TaggedResult | undefined> {
    if (mechanism !== 'PLAIN' && mechanism !== 'LOGIN') return no('Unsupported authentication mechanism', 'CANNOT');
    if (!this.plainAllowed) return privacyRequired();
    const outcome = await runSaslExchange(mechanism, initial, (challenge) => this.challenge(challenge));
    switch (outcome.kind) {
      case 'unsupported':
        return no('Unsupported authentication mechanism', 'CANNOT');
      case 'cancelled':
        // RFC 9051 §6.2.2: a cancelled exchange is answered BAD
        return bad('Authentication cancelled');
      case 'malformed':
        return bad('Invalid SASL response');
      case 'refused':
        return this.failLogin(this.host.ctx.authThrottle.fail(this.host.conn.remoteAddress, normalizeUser(outcome.authcid)));
      case 'credentials':
        return this.login(outcome.credentials.authcid, outcome.credentials.password);
    }
  }

  /** RFC 9051 §6.2.2: "+ " and the base64 challenge; the response is one line. */
  private async challenge(base64: string): Promise<string> {
    const { conn } = this.host;
    conn.queue(`+ ${base64}\r\n`);
    const line = await conn.readLine(maxLine, this.host.ctx.loginTimeoutMs);
    if (typeof line === 'symbol') {
      if (line === LONG) return '=';
      throw new ExchangeEnded();
    }
    return line.toString('latin1').trim();
  }

  private async login(name: string, password: string): Promise<TaggedResult | undefined> {
    const { ctx, conn } = this.host;
    const user = normalizeUser(name);
    const verdict = await ctx.authThrottle.check(conn.remoteAddress, user, () => ctx.authenticate(user, password));
    switch (verdict.kind) {
      case 'refused':
        await this.delay();
        if (verdict.why === 'address') return this.bye();
        return no('Too many authentication failures, try again later', 'UNAVAILABLE');
      case 'error':
        return no('Authentication is unavailable, try again later', 'UNAVAILABLE');
      case 'busy':
        return no('Too many logins in progress, try again later', 'UNAVAILABLE');
      case 'failed':
        return this.failLogin(verdict.blocked);
      case 'ok':
        break;
    }
    try {
      await ctx.folders.ensureDefaultFolders(user);
    } catch {
      return no('Mailbox is unavailable, try again later', 'UNAVAILABLE');
    }
    return ok('Logged in', `CAPABILITY ${this.host.loggedIn(user).join(' ')}`);
  }

  private async failLogin(blocked: boolean): Promise<TaggedResult | undefined> {
    this.failures++;
    await this.delay();
    if (blocked || this.failures >= this.host.ctx.maxAuthFailures) return this.bye();
    return no('Authentication failed', 'AUTHENTICATIONFAILED');
  }

  private delay(): Promise<void> {
    return sleep(this.host.ctx.authFailureDelayMs, undefined, { signal: this.host.signal }).catch(() => undefined);
  }

  private bye(): undefined {
    this.host.untagged('BYE Too many authentication failures');
    this.host.finish(true);
    void this.host.conn.end();
    return undefined;
  }
}
