/**
 * @module pop3-session
 * The server side of one POP3 connection: AUTHORIZATION (USER/PASS, AUTH PLAIN, STLS),
 * TRANSACTION over a snapshot of the maildrop taken at login (its commands in
 * transaction-commands.ts), and UPDATE at QUIT.
 * Standards: RFC 1939 §3-§7 (states, commands, autologout timer, UPDATE only after QUIT),
 *   §7 (UIDL, maildrop-snapshot.ts; RETR/TOP, message-transfer.ts); RFC 2449 §5-§6 (CAPA, PIPELINING), §8 (IN-USE);
 *   RFC 3206 (SYS/TEMP, AUTH response codes); RFC 2595 §4 (STLS: discard pipelined input);
 *   RFC 5034 §4 (AUTH with initial response, "*" cancels); RFC 4616 (PLAIN).
 * Security: everything the client sends is hostile. Command lines over 255 octets are refused;
 *   the autologout timer counts a whole command line, not the gaps between its octets;
 *   responses the client leaves unread stop the reading of its further commands (framing,
 *   backpressure and the STLS upgrade are server/connection's, shared with SMTP);
 *   passwords (USER/PASS and AUTH PLAIN) are refused before TLS unless explicitly allowed;
 *   SASL decoding and its rules are protocol/sasl's; every login is counted by the shared
 *   policy/auth-throttle (per address and account) before its password is checked; failed
 *   logins are delayed, and the session is closed after too many; whether a
 *   user exists is never revealed; input sent after STLS before the handshake is discarded
 *   (CVE-2011-0411 class); the maildrop is locked for one session at a time; a dropped
 *   connection never enters UPDATE, so DELE without QUIT removes nothing.
 * Limitations: APOP and LOGIN-DELAY/EXPIRE are not offered; the maildrop is the INBOX folder
 *   only; TOP reads (and discards) the rest of the stored message after the lines it sends.
 */
import type tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import type { MailboxStore } from '../../core/index.js';
import {
  formatPop3Response,
  formatSaslChallenge,
  parsePop3Command,
  pop3Limits,
  pop3Responses,
  type Pop3Command,
  type Pop3Response,
} from '../../protocol/pop3/index.js';
import { runSaslExchange } from '../../protocol/sasl/index.js';
import { CLOSED, INTERRUPTED, LONG, LineConnection, TIMEOUT } from '../connection/index.js';
import type { AuthThrottle } from '../../policy/auth-throttle.js';
import type { MaildropLocks } from './maildrop-locks.js';
import { MaildropSnapshot, type SnapshotMessage } from './maildrop-snapshot.js';
import { transferMessage } from './message-transfer.js';
import { transactionCommand, type TransactionSession } from './transaction-commands.js';

export { uidForKey } from './maildrop-snapshot.js';

/** What a session needs from its server (resolved options plus shared state). */
export interface Pop3SessionContext {
  readonly hostname: string;
  readonly mailboxes: MailboxStore;
  readonly authenticate: (user: string, password: string) => Promise<boolean>;
  /** present when STLS may be offered */
  readonly secureContext?: tls.SecureContext;
  readonly allowPlainWithoutTls: boolean;
  readonly idleTimeoutMs: number;
  readonly authFailureDelayMs: number;
  /** failed logins in one session before it is closed */
  readonly maxAuthFailures: number;
  /** the authentication throttle shared with the other protocols (per address and account) */
  readonly authThrottle: AuthThrottle;
  readonly locks: MaildropLocks;
}

type State = 'authorization' | 'transaction' | 'update' | 'closed';

/** Thrown to unwind a SASL exchange whose connection ended or timed out. */
class ExchangeEnded extends Error {}
/** Thrown when a SASL response line is too long: answered like a long command line. */
class ResponseTooLong extends Error {}

/** Full address with its domain lower-cased, as the directory and the mailbox store use it. */
export function normalizeUser(name: string): string {
  const at = name.lastIndexOf('@');
  return at < 0 ? name : `${name.slice(0, at)}@${name.slice(at + 1).toLowerCase()}`;
}

export class Pop3Session {
  /** the client's address ("::ffff:" removed), as the throttle and connection limits count it */
  readonly remoteAddress: string;
  /** framing, backpressure, whole-line timeouts and STLS, shared with SMTP */
  private readonly conn: LineConnection;
  private secure: boolean;
  private state: State = 'authorization';
  private ending = false;
  private pendingUser: string | undefined;
  private authFailures = 0;
  /** the locked maildrop owner once in TRANSACTION */
  private user: string | undefined;
  private maildrop = MaildropSnapshot.empty();
  private readonly abort = new AbortController();
  /** what the TRANSACTION commands (transaction-commands.ts) use of this session */
  private readonly transaction: TransactionSession = {
    send: (r) => this.send(r),
    sendMessage: (m, bodyLines) => this.sendMessage(m, bodyLines),
  };
  /** resolves once the connection is closed and the lock released */
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    socket: Duplex,
    private readonly ctx: Pop3SessionContext,
    secure: boolean,
  ) {
    // LineConnection turns Nagle off: RETR/TOP answers are several small writes, which
    // Nagle and the client's delayed ACK would hold ~40 ms each (issue 12 item 8)
    this.conn = new LineConnection(socket);
    this.secure = secure;
    this.remoteAddress = this.conn.remoteAddress;
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  /** Sends the greeting and runs the session until the connection ends. */
  start(): void {
    void this.run();
  }

  /** Closes the connection without UPDATE (server shutdown). */
  destroy(): void {
    this.conn.destroy();
    this.finish();
  }

  private async run(): Promise<void> {
    this.send(pop3Responses.greeting(this.ctx.hostname));
    try {
      while (!this.isClosed) {
        // RFC 1939 §3: the autologout timer covers the wait for a whole command line
        const line = await this.conn.readLine(pop3Limits.commandLine, this.ctx.idleTimeoutMs);
        if (line === INTERRUPTED) continue;
        // RFC 1939 §3: on autologout the server closes without a response and without UPDATE
        if (line === CLOSED || line === TIMEOUT) break;
        try {
          await this.handleInput(line);
        } catch (err) {
          if (err instanceof ExchangeEnded) break;
          // Unknown errors are temporary (RFC 3206 §4 SYS/TEMP) and never end the process.
          if (!this.isClosed && !this.abort.signal.aborted) this.send(pop3Responses.localError());
        }
      }
    } finally {
      if (!this.ending) this.conn.destroy();
      this.finish();
    }
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.abort.abort();
    if (this.user !== undefined) this.ctx.locks.release(this.user);
    this.user = undefined;
    this.resolveClosed();
  }

  /** a getter, so that TypeScript does not narrow `state` across awaits */
  private get isClosed(): boolean {
    return this.state === 'closed';
  }

  private get plainAllowed(): boolean {
    return this.secure || this.ctx.allowPlainWithoutTls;
  }

  private async handleInput(line: Buffer | typeof LONG): Promise<void> {
    if (line === LONG) return this.send(pop3Responses.lineTooLong());
    const parsed = parsePop3Command(line.toString('utf8'));
    if (!parsed.ok) return this.send(parsed.response);
    return this.command(parsed.command);
  }

  private async command(c: Pop3Command): Promise<void> {
    // Valid in every state before UPDATE.
    if (c.verb === 'CAPA') return this.send(pop3Responses.capabilities(this.capabilities()));
    if (c.verb === 'QUIT') return this.quit();

    if (this.state === 'authorization') {
      switch (c.verb) {
        case 'STLS':
          return this.stls();
        case 'USER':
          if (!this.plainAllowed) return this.send(pop3Responses.plaintextNeedsTls());
          // RFC 1939 §7: answer +OK whether or not the user exists.
          this.pendingUser = c.name;
          return this.send(pop3Responses.userAccepted());
        case 'PASS': {
          if (!this.plainAllowed) return this.send(pop3Responses.plaintextNeedsTls());
          const user = this.pendingUser;
          this.pendingUser = undefined;
          if (user === undefined) return this.send(pop3Responses.userFirst());
          return this.login(user, c.password);
        }
        case 'AUTH':
          return this.auth(c.mechanism, c.initialResponse);
        default:
          return this.send(pop3Responses.badState());
      }
    }

    // TRANSACTION state (RFC 1939 §5): transaction-commands.ts
    return transactionCommand(c, this.maildrop, this.transaction);
  }

  private capabilities(): string[] {
    const caps = ['TOP', 'UIDL', 'PIPELINING', 'RESP-CODES', 'AUTH-RESP-CODE'];
    if (this.state === 'authorization') {
      // Announce password logins only where they would be accepted (RFC 2595 §4).
      if (this.plainAllowed) caps.unshift('USER');
      if (this.plainAllowed) caps.push('SASL PLAIN');
      if (this.ctx.secureContext !== undefined && !this.secure) caps.push('STLS');
    }
    caps.push('IMPLEMENTATION correio');
    return caps;
  }

  // --- AUTHORIZATION ---

  private async auth(mechanism: string | undefined, initial: string | undefined): Promise<void> {
    if (mechanism === undefined) return this.send(pop3Responses.mechanisms(this.plainAllowed ? ['PLAIN'] : []));
    if (mechanism !== 'PLAIN') return this.send(pop3Responses.unsupportedMechanism());
    if (!this.plainAllowed) return this.send(pop3Responses.plaintextNeedsTls());
    // the decoding and rules are protocol/sasl's, the same as SMTP AUTH's; POP3 offers PLAIN
    let outcome;
    try {
      outcome = await runSaslExchange(mechanism, initial, (c) => this.challenge(c), ['PLAIN']);
    } catch (err) {
      if (err instanceof ResponseTooLong) return this.send(pop3Responses.lineTooLong());
      throw err;
    }
    switch (outcome.kind) {
      case 'unsupported':
        return this.send(pop3Responses.unsupportedMechanism());
      case 'cancelled':
        return this.send(pop3Responses.authCancelled());
      case 'malformed':
        return this.send(outcome.reason === 'base64' ? pop3Responses.badBase64() : pop3Responses.badSaslMessage());
      case 'refused':
        // No proxy authorization (RFC 4616 §2): an authzid for another user is a failed login.
        return this.failLogin(this.ctx.authThrottle.fail(this.remoteAddress, normalizeUser(outcome.authcid)));
      case 'credentials':
        return this.login(outcome.credentials.authcid, outcome.credentials.password);
    }
  }

  /** RFC 5034 §4: "+ " and the challenge, then the client's response on its own line. */
  private async challenge(base64: string): Promise<string> {
    this.conn.queue(formatSaslChallenge(base64));
    const line = await this.conn.readLine(pop3Limits.saslLine, this.ctx.idleTimeoutMs);
    if (line === LONG) throw new ResponseTooLong();
    if (typeof line === 'symbol') throw new ExchangeEnded();
    return line.toString('latin1').trim();
  }

  private async login(name: string, password: string): Promise<void> {
    const user = normalizeUser(name);
    // Counted before the password is checked (policy/auth-throttle): concurrent sessions from
    // one address, or many addresses guessing one account, cannot all be checked.
    const verdict = await this.ctx.authThrottle.check(this.remoteAddress, user, () => this.ctx.authenticate(user, password));
    switch (verdict.kind) {
      case 'refused':
        this.pendingUser = undefined;
        if (verdict.why === 'address') {
          this.send(pop3Responses.tooManyAuthFailures());
          return this.end();
        }
        await sleep(this.ctx.authFailureDelayMs, undefined, { signal: this.abort.signal });
        return this.send(pop3Responses.authThrottled());
      case 'error':
        return this.send(pop3Responses.localError());
      case 'busy':
        this.pendingUser = undefined;
        return this.send(pop3Responses.authBusy());
      case 'failed':
        return this.failLogin(verdict.blocked);
      case 'ok':
        break;
    }
    // RFC 1939 §4: exclusive access; RFC 2449 §8.1.2: [IN-USE] when locked elsewhere.
    if (!this.ctx.locks.tryAcquire(user)) return this.send(pop3Responses.inUse());
    if (this.isClosed) {
      this.ctx.locks.release(user);
      return;
    }
    this.user = user;
    try {
      // The snapshot: messages arriving later are not part of this session.
      this.maildrop = await MaildropSnapshot.take(this.ctx.mailboxes, user);
    } catch {
      this.ctx.locks.release(user);
      this.user = undefined;
      return this.send(pop3Responses.maildropUnavailable());
    }
    if (this.isClosed) return; // finish() released the lock
    this.state = 'transaction';
    this.send(pop3Responses.loggedIn(this.maildrop.count, this.maildrop.size));
  }

  /** `blocked`: the throttle now refuses this address, so the session ends here too. */
  private async failLogin(blocked: boolean): Promise<void> {
    this.authFailures++;
    this.pendingUser = undefined;
    // Slow down password guessing; the delay ends early if the connection goes away.
    await sleep(this.ctx.authFailureDelayMs, undefined, { signal: this.abort.signal });
    if (blocked || this.authFailures >= this.ctx.maxAuthFailures) {
      this.send(pop3Responses.tooManyAuthFailures());
      return this.end();
    }
    this.send(pop3Responses.authFailed());
  }

  private async stls(): Promise<void> {
    if (this.secure) return this.send(pop3Responses.tlsActive());
    const context = this.ctx.secureContext;
    if (context === undefined) return this.send(pop3Responses.tlsUnavailable());
    this.send(pop3Responses.beginTls());
    // RFC 2595 §4 / CVE-2011-0411: whatever the client pipelined after STLS is discarded by the
    // upgrade, which happens in one place for every protocol (LineConnection.upgradeTls)
    const tls = await this.conn.upgradeTls(context, this.ctx.idleTimeoutMs);
    if (!tls) return this.destroy();
    this.secure = true;
    // RFC 2595 §4: the session starts afresh; no USER given before counts.
    this.pendingUser = undefined;
  }

  // --- TRANSACTION ---

  private async sendMessage(m: SnapshotMessage, bodyLines: number | undefined): Promise<void> {
    const user = this.user!;
    return transferMessage({
      open: () => this.ctx.mailboxes.open(user, m.key),
      send: (r) => this.send(r),
      write: (data) => this.flushWrite(data),
      closed: () => this.isClosed,
      drop: () => this.destroy(),
    }, m.size, bodyLines);
  }

  private async quit(): Promise<void> {
    if (this.state !== 'transaction') {
      this.send(pop3Responses.signingOff(this.ctx.hostname));
      return this.end();
    }
    // RFC 1939 §6: UPDATE state, only reached through QUIT.
    this.state = 'update';
    const user = this.user!;
    const { failed, left } = await this.maildrop.update(this.ctx.mailboxes, user);
    this.ctx.locks.release(user);
    this.user = undefined;
    this.send(failed > 0 ? pop3Responses.notAllRemoved() : pop3Responses.signingOffWithCount(this.ctx.hostname, left));
    this.end();
  }

  // --- output ---

  /** Queues a response; responses are written when the input is drained (RFC 2449 §6.6). */
  private send(r: Pop3Response): void {
    if (this.isClosed) return;
    this.conn.queue(formatPop3Response(r));
  }

  /** Writes now and waits until the client takes more (message bodies); false if it never does. */
  private async flushWrite(data: Buffer): Promise<boolean> {
    if (this.isClosed) return false;
    return this.conn.write(data, this.ctx.idleTimeoutMs);
  }

  private end(): void {
    this.ending = true;
    this.finish();
    void this.conn.end();
  }
}
