/**
 * @module imap-session
 * The server side of one IMAP connection: reading commands with their literals, the states
 * (not authenticated, authenticated, selected, logout), STARTTLS, LOGIN and AUTHENTICATE,
 * IDLE, and the untagged updates of the selected mailbox at the moments RFC 9051 allows.
 * Standards: RFC 9051 §2.2.2 and §7.5 (command continuation "+" before a synchronizing
 *   literal), §3 (states), §5.4 (autologout timer of at least 30 minutes), §6.1 (CAPABILITY,
 *   NOOP, LOGOUT), §6.2 (STARTTLS: pipelined input discarded; LOGIN; AUTHENTICATE with "*" to
 *   cancel: BAD), §7.5.1 (when EXPUNGE may be sent); RFC 3501 (IMAP4rev1); RFC 7888 (LITERAL+);
 *   RFC 4959 (SASL-IR); RFC 2177 (IDLE); RFC 2971 (ID); RFC 5161 (ENABLE: ENABLED lists what
 *   the command turned on); RFC 7162 (CONDSTORE, QRESYNC); RFC 4731 (ESEARCH); RFC 5182
 *   (SEARCHRES); RFC 5258 (LIST-EXTENDED); RFC 5819 (LIST-STATUS); RFC 2342 (NAMESPACE); RFC 3691
 *   (UNSELECT); RFC 7889 (APPENDLIMIT); RFC 5530 (response codes).
 * Security: everything the client sends is hostile. Command lines are limited to 64 KB and a
 *   literal to 64 KB (APPEND: the APPENDLIMIT), refused before it is read when synchronizing;
 *   passwords are refused before TLS except where `plaintextAuth` allows (LOGINDISABLED is
 *   then advertised); every password check goes through the shared AuthThrottle; failed
 *   logins are delayed and the session closed after too many; the user name is never echoed.
 *   Framing, backpressure and the TLS upgrade are server/connection's.
 * Limitations: IMAP4rev2 is not advertised yet (ESEARCH, LIST-EXTENDED/STATUS, BINARY are
 *   not complete); an APPEND literal is held in memory (bounded by the APPENDLIMIT).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import { literalAtEnd, parseImapCommand, type ImapCommand } from '../../protocol/imap/index.js';
import { runSaslExchange } from '../../protocol/sasl/index.js';
import { CLOSED, INTERRUPTED, LONG, LineConnection, TIMEOUT } from '../connection/index.js';
import { append, create, list, remove, rename, select, status, subscribe } from './mailbox-commands.js';
import { copyOrMove, expunge, fetch, search, store } from './message-commands.js';
import { MessageReader } from './message-reader.js';
import { UidValidityChanged, type SelectedMailbox } from './selected-mailbox.js';
import { bad, no, ok, type ImapSessionContext, type SessionIo, type TaggedResult } from './session-types.js';

export type { ImapSessionContext } from './session-types.js';

const maxLine = 64 * 1024;
const maxLiteral = 64 * 1024;

type State = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

class ExchangeEnded extends Error {}

/** Full address with its domain lower-cased. */
function normalizeUser(name: string): string {
  const at = name.lastIndexOf('@');
  return at < 0 ? name : `${name.slice(0, at)}@${name.slice(at + 1).toLowerCase()}`;
}

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

const anyState = new Set(['CAPABILITY', 'NOOP', 'LOGOUT', 'ID']);
const notAuthOnly = new Set(['STARTTLS', 'LOGIN', 'AUTHENTICATE']);
const selectedOnly = new Set(['CLOSE', 'UNSELECT', 'EXPUNGE', 'UID EXPUNGE', 'SEARCH', 'FETCH', 'STORE', 'COPY', 'MOVE', 'CHECK']);

export class ImapSession implements SessionIo {
  private readonly conn: LineConnection;
  private secure: boolean;
  private state: State = 'not-authenticated';
  private authFailures = 0;
  private leaveHub: (() => void) | undefined;
  private idling = false;
  private readonly abort = new AbortController();
  user = '';
  condstore = false;
  qresync = false;
  selected: SelectedMailbox | undefined;
  readonly reader: MessageReader;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private finished = false;

  constructor(
    socket: Duplex,
    readonly ctx: ImapSessionContext,
    secure: boolean,
  ) {
    this.conn = new LineConnection(socket);
    this.secure = secure;
    this.reader = new MessageReader(ctx.folders);
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  start(): void {
    void this.run();
  }

  /** Server shutdown: BYE and close. */
  shutdown(): void {
    this.conn.kill('* BYE Server shutting down\r\n', 500);
    this.finish();
  }

  private get plainAllowed(): boolean {
    if (this.secure || this.ctx.plaintextAuth === 'always') return true;
    return this.ctx.plaintextAuth === 'loopback' && isLoopback(this.conn.remoteAddress);
  }

  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'MOVE', 'CHILDREN', 'SPECIAL-USE', `APPENDLIMIT=${this.ctx.appendLimit}`, 'STATUS=SIZE', 'CONDSTORE', 'QRESYNC', 'ESEARCH', 'SEARCHRES', 'LIST-EXTENDED', 'LIST-STATUS'];
    if (this.state === 'not-authenticated') {
      if (this.ctx.secureContext && !this.secure) caps.push('STARTTLS');
      if (this.plainAllowed) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
      else caps.push('LOGINDISABLED');
    }
    return caps;
  }

  // ---- SessionIo ----
  untagged(line: string): void {
    if (!this.finished) this.conn.queue(`* ${line}\r\n`);
  }
  write(data: Buffer): Promise<boolean> {
    if (this.finished) return Promise.resolve(false);
    return this.conn.write(data, this.ctx.idleTimeoutMs);
  }
  select(m: SelectedMailbox): void {
    this.selected = m;
    this.state = 'selected';
    this.leaveHub = this.ctx.hub.join(this.user, m.folder, {
      changed: () => {
        m.dirty = true;
        if (this.idling) this.conn.interrupt();
      },
    });
  }
  enableCondstore(): void {
    if (this.condstore) return;
    this.condstore = true;
    if (this.selected) this.untagged(`OK [HIGHESTMODSEQ ${this.selected.highestModseq}] Highest`);
  }
  deselect(): void {
    this.leaveHub?.();
    this.leaveHub = undefined;
    this.selected = undefined;
    this.reader.forget();
    if (this.state === 'selected') this.state = 'authenticated';
  }

  // ---- the loop ----
  private async run(): Promise<void> {
    this.untagged(`OK [CAPABILITY ${this.capabilities().join(' ')}] ${this.ctx.hostname} IMAP ready`);
    try {
      while (!this.finished) {
        const input = await this.readCommand();
        if (input === 'closed') break;
        if ('bad' in input) {
          this.tagged(input.tag ?? '*', input.bad);
          continue;
        }
        const parsed = parseImapCommand(input.buf);
        if (!parsed.ok) {
          this.tagged(parsed.tag ?? '*', bad(parsed.unknown ? 'Unknown command' : `Syntax error: ${parsed.reason}`));
          continue;
        }
        let result: TaggedResult | undefined;
        try {
          result = await this.dispatch(parsed.tag, parsed.command);
        } catch (err) {
          if (err instanceof ExchangeEnded) break;
          if (err instanceof UidValidityChanged) {
            this.untagged('BYE [UIDVALIDITY] Mailbox was reset');
            break;
          }
          result = no('Internal error, try again later', 'SERVERBUG');
        }
        if (result) this.tagged(parsed.tag, result);
      }
    } finally {
      if (this.state !== 'logout') this.conn.destroy();
      this.finish();
    }
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.abort.abort();
    this.deselect();
    this.resolveClosed();
  }

  private tagged(tag: string, r: TaggedResult): void {
    this.conn.queue(`${tag} ${r.status} ${r.code ? `[${r.code}] ` : ''}${r.text}\r\n`);
  }

  private get timeoutMs(): number {
    return this.state === 'not-authenticated' ? this.ctx.loginTimeoutMs : this.ctx.idleTimeoutMs;
  }

  /**
   * One command with its literals: each line ending in "{n}" or "{n+}" is followed by n octets
   * (after our "+" for a synchronizing literal), then the command goes on.
   */
  private async readCommand(): Promise<{ buf: Buffer } | { bad: TaggedResult; tag?: string } | 'closed'> {
    const parts: Buffer[] = [];
    let tag: string | undefined;
    let total = 0;
    for (;;) {
      const line = await this.conn.readLine(maxLine, this.timeoutMs);
      if (line === INTERRUPTED) continue;
      if (line === CLOSED) return 'closed';
      if (line === TIMEOUT) {
        this.untagged('BYE Autologout; idle for too long');
        await this.conn.end();
        return 'closed';
      }
      if (line === LONG) return { bad: bad('Command line too long', 'TOOBIG'), ...(tag !== undefined && { tag }) };
      if (parts.length === 0) {
        if (line.length === 0) continue; // an empty line is no command
        tag = /^[^\s(){%*"\\]+/.exec(line.toString('latin1'))?.[0];
      }
      parts.push(line);
      const lit = literalAtEnd(line);
      if (!lit) return { buf: parts.length === 1 ? parts[0] : Buffer.concat(parts) };
      const isAppend = /^\S+ APPEND /i.test(parts[0].toString('latin1', 0, 64));
      const limit = isAppend ? this.ctx.appendLimit : maxLiteral;
      total += lit.size;
      if (lit.size > limit || total > limit + maxLiteral) {
        const r = isAppend ? no('Message too large', 'TOOBIG') : bad('Literal too large', 'TOOBIG');
        if (lit.sync) return { bad: r, ...(tag !== undefined && { tag }) };
        // RFC 7888 §4: a non-synchronizing literal is on its way: read and discard it, and the rest of the command
        const skipped = await this.conn.readBytes(lit.size, this.timeoutMs, () => undefined);
        if (typeof skipped === 'symbol') return 'closed';
        await this.discardRest();
        return { bad: r, ...(tag !== undefined && { tag }) };
      }
      if (lit.sync) {
        this.conn.queue('+ Ready for literal data\r\n');
        this.conn.flush();
      }
      const data = await this.conn.readBytes(lit.size, this.timeoutMs);
      if (typeof data === 'symbol') return 'closed';
      parts.push(Buffer.from('\r\n'), data);
    }
  }

  private async discardRest(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const line = await this.conn.readLine(maxLine, this.timeoutMs);
      if (typeof line === 'symbol' && line !== LONG) return;
      if (line === LONG) continue;
      const lit = literalAtEnd(line);
      if (!lit || lit.sync) return;
      const r = await this.conn.readBytes(lit.size, this.timeoutMs, () => undefined);
      if (typeof r === 'symbol') return;
    }
  }

  private async dispatch(tag: string, c: ImapCommand): Promise<TaggedResult | undefined> {
    const name = c.name;
    if (!anyState.has(name)) {
      if (notAuthOnly.has(name) && this.state !== 'not-authenticated') return bad('Already authenticated');
      if (!notAuthOnly.has(name) && this.state === 'not-authenticated') return bad('Not authenticated');
      if (selectedOnly.has(name) && this.state !== 'selected') return bad('No mailbox selected');
    }
    const r = await this.command(tag, c);
    if (this.selected && r !== undefined) {
      // RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE, SEARCH (their UID forms may)
      const uid = 'uid' in c && c.uid;
      const noExpunge = (name === 'FETCH' || name === 'STORE' || name === 'SEARCH') && !uid;
      const force = name === 'NOOP' || name === 'CHECK';
      for (const line of await this.selected.refresh(!noExpunge, force)) this.conn.queue(`${line}\r\n`);
    }
    return r;
  }

  private async command(tag: string, c: ImapCommand): Promise<TaggedResult | undefined> {
    switch (c.name) {
      case 'CAPABILITY':
        this.untagged(`CAPABILITY ${this.capabilities().join(' ')}`);
        return ok('CAPABILITY completed');
      case 'NOOP':
      case 'CHECK':
        return ok(`${c.name} completed`);
      case 'LOGOUT':
        this.untagged('BYE Logging out');
        this.tagged(tag, ok('LOGOUT completed'));
        this.state = 'logout';
        this.finish();
        await this.conn.end();
        return undefined;
      case 'ID':
        // RFC 2971 §3.3: the server's own fields; the client's are not kept
        this.untagged('ID ("name" "correio")');
        return ok('ID completed');
      case 'STARTTLS':
        return this.startTls(tag);
      case 'LOGIN':
        if (!this.plainAllowed) return no('Plaintext authentication is disabled here; use STARTTLS first', 'PRIVACYREQUIRED');
        return this.login(c.user, c.password);
      case 'AUTHENTICATE':
        return this.authenticate(c.mechanism, c.initial);
      case 'ENABLE':
        return this.enable(c.capabilities);
      case 'NAMESPACE':
        this.untagged('NAMESPACE (("" ".")) NIL NIL');
        return ok('NAMESPACE completed');
      case 'SELECT':
      case 'EXAMINE':
        return select(this, c);
      case 'CREATE':
        return create(this, c.mailbox);
      case 'DELETE':
        return remove(this, c.mailbox);
      case 'RENAME':
        return rename(this, c.from, c.to);
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE':
        return subscribe(this, c.mailbox, c.name === 'SUBSCRIBE');
      case 'LIST':
      case 'LSUB':
        return list(this, c);
      case 'STATUS':
        return status(this, c);
      case 'APPEND':
        return append(this, c);
      case 'IDLE':
        return this.idle();
      case 'CLOSE': {
        const r = await expunge(this, this.selected!, undefined, true);
        this.deselect();
        return r;
      }
      case 'UNSELECT':
        this.deselect();
        return ok('UNSELECT completed');
      case 'EXPUNGE':
        return expunge(this, this.selected!, undefined, false);
      case 'UID EXPUNGE':
        return expunge(this, this.selected!, c.set, false);
      case 'FETCH':
        return fetch(this, this.selected!, c);
      case 'STORE':
        return store(this, this.selected!, c);
      case 'SEARCH':
        return search(this, this.selected!, c, tag);
      case 'COPY':
      case 'MOVE':
        return copyOrMove(this, this.selected!, c);
    }
  }

  /** RFC 5161 §3.1: extensions we do not know (or need no enabling) are ignored. */
  private enable(caps: readonly string[]): TaggedResult {
    const now: string[] = [];
    for (const cap of caps) {
      if (cap === 'CONDSTORE' && !this.condstore) {
        this.enableCondstore();
        now.push(cap);
      } else if (cap === 'QRESYNC' && !this.qresync) {
        // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE
        this.qresync = true;
        this.enableCondstore();
        now.push(cap);
      }
    }
    this.untagged(['ENABLED', ...now].join(' '));
    return ok('ENABLE completed');
  }

  // ---- TLS and authentication ----
  private async startTls(tag: string): Promise<TaggedResult | undefined> {
    if (this.secure) return bad('TLS is already active');
    const context = this.ctx.secureContext;
    if (!context) return no('TLS is not available');
    this.tagged(tag, ok('Begin TLS negotiation now'));
    // RFC 9051 §6.2.1: whatever the client pipelined after STARTTLS is discarded by the upgrade
    const t = await this.conn.upgradeTls(context, this.ctx.loginTimeoutMs);
    if (!t) {
      this.finish();
      return undefined;
    }
    this.secure = true;
    return undefined;
  }

  private async authenticate(mechanism: string, initial: string | undefined): Promise<TaggedResult | undefined> {
    if (mechanism !== 'PLAIN' && mechanism !== 'LOGIN') return no('Unsupported authentication mechanism', 'CANNOT');
    if (!this.plainAllowed) return no('Plaintext authentication is disabled here; use STARTTLS first', 'PRIVACYREQUIRED');
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
        return this.failLogin(this.ctx.authThrottle.fail(this.conn.remoteAddress, normalizeUser(outcome.authcid)));
      case 'credentials':
        return this.login(outcome.credentials.authcid, outcome.credentials.password);
    }
  }

  /** RFC 9051 §6.2.2: "+ " and the base64 challenge; the response is one line. */
  private async challenge(base64: string): Promise<string> {
    this.conn.queue(`+ ${base64}\r\n`);
    const line = await this.conn.readLine(maxLine, this.ctx.loginTimeoutMs);
    if (typeof line === 'symbol') {
      if (line === LONG) return '=';
      throw new ExchangeEnded();
    }
    return line.toString('latin1').trim();
  }

  private async login(name: string, password: string): Promise<TaggedResult | undefined> {
    const user = normalizeUser(name);
    const verdict = await this.ctx.authThrottle.check(this.conn.remoteAddress, user, () => this.ctx.authenticate(user, password));
    switch (verdict.kind) {
      case 'refused':
        await sleep(this.ctx.authFailureDelayMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
        if (verdict.why === 'address') {
          this.untagged('BYE Too many authentication failures');
          this.state = 'logout';
          this.finish();
          void this.conn.end();
          return undefined;
        }
        return no('Too many authentication failures, try again later', 'UNAVAILABLE');
      case 'error':
        return no('Authentication is unavailable, try again later', 'UNAVAILABLE');
      case 'failed':
        return this.failLogin(verdict.blocked);
      case 'ok':
        break;
    }
    try {
      await this.ctx.folders.ensureDefaultFolders(user);
    } catch {
      return no('Mailbox is unavailable, try again later', 'UNAVAILABLE');
    }
    this.user = user;
    this.state = 'authenticated';
    return ok('Logged in', `CAPABILITY ${this.capabilities().join(' ')}`);
  }

  private async failLogin(blocked: boolean): Promise<TaggedResult | undefined> {
    this.authFailures++;
    await sleep(this.ctx.authFailureDelayMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
    if (blocked || this.authFailures >= this.ctx.maxAuthFailures) {
      this.untagged('BYE Too many authentication failures');
      this.state = 'logout';
      this.finish();
      void this.conn.end();
      return undefined;
    }
    return no('Authentication failed', 'AUTHENTICATIONFAILED');
  }

  // ---- IDLE (RFC 2177) ----
  private async idle(): Promise<TaggedResult | undefined> {
    const sel = this.selected;
    this.conn.queue('+ idling\r\n');
    this.idling = true;
    const stopWatch = sel ? this.ctx.folders.watch(this.user, sel.folder, () => ((sel.dirty = true), this.conn.interrupt())) : undefined;
    const poll = setInterval(() => this.conn.interrupt(), this.ctx.idlePollMs);
    try {
      for (;;) {
        if (sel && this.selected === sel) {
          for (const line of await sel.refresh(true)) this.conn.queue(`${line}\r\n`);
        }
        this.conn.flush();
        // RFC 9051 §5.4: an IDLE session is not idle; clients re-issue IDLE within 29 minutes
        const line = await this.conn.readLine(maxLine, 24 * 3600_000);
        if (line === INTERRUPTED) continue;
        if (line === CLOSED || line === TIMEOUT) throw new ExchangeEnded();
        if (line === LONG) return bad('Expected DONE');
        return line.toString('latin1').toUpperCase() === 'DONE' ? ok('IDLE terminated') : bad('Expected DONE');
      }
    } finally {
      this.idling = false;
      clearInterval(poll);
      stopWatch?.();
    }
  }
}
