/**
 * @module imap-session
 * The server side of one IMAP connection: its state (not authenticated, authenticated,
 * selected, logout), the loop that reads a command (command-reader), runs it (command-dispatch)
 * and writes its tagged reply, and what the handlers share (SessionIo).
 * The parts: command-reader (framing and literals), session-auth (STARTTLS, LOGIN,
 * AUTHENTICATE), command-dispatch (states, handlers, updates after a command), idle-command
 * (IDLE), mailbox-commands and message-commands (the commands themselves).
 * Standards: RFC 9051 §3 (states), §5.4 (autologout timer of at least 30 minutes), §7.1.5
 *   (BYE), §2.3.1.1 (a changed UIDVALIDITY ends the session); RFC 3501 (IMAP4rev1); RFC 7888
 *   (LITERAL+); RFC 4959 (SASL-IR); RFC 2177 (IDLE); RFC 2971 (ID); RFC 5161 (ENABLE); RFC
 *   7162 (CONDSTORE, QRESYNC); RFC 4731 (ESEARCH); RFC 5182 (SEARCHRES); RFC 5258
 *   (LIST-EXTENDED); RFC 5819 (LIST-STATUS); RFC 2342 (NAMESPACE); RFC 3691 (UNSELECT); RFC
 *   7889 (APPENDLIMIT); RFC 5530 (response codes); the rest as advertised in capabilities()
 *   (docs/imap.md lists them).
 * Security: everything the client sends is hostile (see command-reader and session-auth);
 *   an unexpected error answers NO [SERVERBUG] and the session goes on. Framing, backpressure
 *   and the TLS upgrade are server/connection's.
 * Limitations: an APPEND literal under
 *   append-stream's threshold is held in memory (bounded by the APPENDLIMIT), a bigger one is
 *   streamed to the store (append-stream).
 */
import type { Duplex } from 'node:stream';
import { parseImapCommand } from '../../protocol/imap/index.js';
import { LineConnection } from '../connection/index.js';
import { readCommand } from './command-reader.js';
import { BodyCutShort } from './fetch-stream.js';
import { appendSoFar, appendStreamFromDefault, streamedAppend } from './append-stream.js';
import { dispatch, updatesAfter, type DispatchHost, type SessionState } from './command-dispatch.js';
import { MessageReader } from './message-reader.js';
import { quotaCapabilities } from './quota-commands.js';
import { MessageUnreadable } from './read-failure.js';
import { UidValidityChanged, type SelectedMailbox } from './selected-mailbox.js';
import { ExchangeEnded, SessionAuth } from './session-auth.js';
import { bad, no, ok, type ImapSessionContext, type TaggedResult } from './session-types.js';

export type { ImapSessionContext } from './session-types.js';

export class ImapSession implements DispatchHost {
  readonly conn: LineConnection;
  readonly auth: SessionAuth;
  state: SessionState = 'not-authenticated';
  private leaveHub: (() => void) | undefined;
  idling = false;
  private readonly abort = new AbortController();
  user = '';
  condstore = false;
  qresync = false;
  rev2 = false;
  utf8 = false;
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
    this.reader = new MessageReader(ctx.folders);
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.auth = new SessionAuth(
      {
        conn: this.conn,
        ctx,
        signal: this.abort.signal,
        tagged: (tag, r) => this.tagged(tag, r),
        untagged: (line) => this.untagged(line),
        finish: (loggedOut) => {
          if (loggedOut) this.state = 'logout';
          this.finish();
        },
        loggedIn: (user) => {
          this.user = user;
          this.state = 'authenticated';
          return this.capabilities();
        },
      },
      secure,
    );
  }

  start(): void {
    void this.run();
  }

  /** Server shutdown: BYE and close. */
  shutdown(): void {
    this.conn.kill('* BYE Server shutting down\r\n', 500);
    this.finish();
  }

  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'MOVE', 'CHILDREN', 'SPECIAL-USE', `APPENDLIMIT=${this.ctx.appendLimit}`, 'STATUS=SIZE', 'CONDSTORE', 'QRESYNC', 'ESEARCH', 'SEARCHRES', 'LIST-EXTENDED', 'LIST-STATUS', 'BINARY', 'UTF8=ACCEPT', 'SORT', 'ESORT', 'PARTIAL', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES', 'COMPRESS=DEFLATE', 'CATENATE', 'MULTIAPPEND', 'SORT=DISPLAY'];
    caps.push(...quotaCapabilities(this));
    // RFC 6154 §3: only where the store keeps a use given at CREATE
    if (this.ctx.folders.canCreateSpecialUse) caps.push('CREATE-SPECIAL-USE');
    if (this.state === 'not-authenticated') caps.push(...this.auth.preLoginCapabilities());
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
  enableQresync(): void {
    this.qresync = true;
    this.enableCondstore();
  }
  enableRev2(): void {
    this.rev2 = true;
  }
  enableUtf8(): void {
    this.utf8 = true;
  }
  deselect(): void {
    this.leaveHub?.();
    this.leaveHub = undefined;
    this.selected = undefined;
    this.reader.forget();
    if (this.state === 'selected') this.state = 'authenticated';
  }

  async logout(tag: string): Promise<void> {
    this.untagged('BYE Logging out');
    this.tagged(tag, ok('LOGOUT completed'));
    this.state = 'logout';
    this.finish();
    await this.conn.end();
  }

  // ---- the loop ----
  private async run(): Promise<void> {
    this.untagged(`OK [CAPABILITY ${this.capabilities().join(' ')}] ${this.ctx.hostname} IMAP ready`);
    try {
      while (!this.finished) {
        const limits = { timeoutMs: this.timeoutMs, appendLimit: this.ctx.appendLimit, appendStreamFrom: this.ctx.appendStreamFrom ?? appendStreamFromDefault, streamable: this.streamable };
        const input = await readCommand(this.conn, limits);
        if (input === 'closed') break;
        if (input === 'timeout') {
          this.untagged('BYE Autologout; idle for too long');
          await this.conn.end();
          break;
        }
        if ('bad' in input) {
          this.tagged(input.tag ?? '*', input.bad);
          continue;
        }
        if ('append' in input) {
          // a big APPEND literal goes to the store as it arrives (append-stream)
          const r = await streamedAppend(this, input.append, limits).catch(() => 'failed' as const);
          if (r === 'closed') break;
          if (r === 'failed') {
            // the command's end is not known: the session cannot go on reading it
            this.tagged(input.append.tag, no('Internal error, try again later', 'SERVERBUG'));
            break;
          }
          const updating = updatesAfter(this, 'APPEND', false);
          if (updating) await updating;
          this.tagged(input.append.tag, r);
          continue;
        }
        const parsed = parseImapCommand(input.buf);
        if (!parsed.ok) {
          this.tagged(parsed.tag ?? '*', bad(parsed.unknown ? 'Unknown command' : `Syntax error: ${parsed.reason}`));
          continue;
        }
        let result: TaggedResult | undefined;
        try {
          result = await dispatch(this, parsed.tag, parsed.command);
        } catch (err) {
          // a streamed literal cut short: the client would read what follows as its octets
          if (err instanceof ExchangeEnded || err instanceof BodyCutShort) break;
          if (err instanceof UidValidityChanged) {
            this.untagged('BYE [UIDVALIDITY] Mailbox was reset');
            break;
          }
          // a message that could not be read (read-failure): its own answer, already logged
          result = err instanceof MessageUnreadable ? err.result : no('Internal error, try again later', 'SERVERBUG');
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

  tagged(tag: string, r: TaggedResult): void {
    this.conn.queue(`${tag} ${r.status} ${r.code ? `[${r.code}] ` : ''}${r.text}\r\n`);
  }

  /** Whether an APPEND with a big literal is streamed: in a state that takes APPEND, one made of literals alone. */
  private readonly streamable = (head: Buffer): boolean => (this.state === 'authenticated' || this.state === 'selected') && appendSoFar(head) !== undefined;

  private get timeoutMs(): number {
    return this.state === 'not-authenticated' ? this.ctx.loginTimeoutMs : this.ctx.idleTimeoutMs;
  }
}
