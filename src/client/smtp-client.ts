/**
 * @module smtp-client
 * The client side of one SMTP (or LMTP) session: connect, greeting, EHLO with HELO fallback,
 * opportunistic STARTTLS, AUTH, transactions with per-recipient replies, RSET for reuse, QUIT.
 * The body streams from the spool to the socket with its backpressure (body-writer.ts), so a
 * big message is never held whole.
 * Standards: RFC 5321 §3.3 (transactions), §4.1.1 (commands), §4.5.3.2 (client timeouts),
 *   §4.5.2 (transparency); RFC 2920 (PIPELINING); RFC 1870 (SIZE); RFC 6152 (8BITMIME);
 *   RFC 6531 (SMTPUTF8); RFC 3461 (DSN parameters, xtext); RFC 3207 (STARTTLS); RFC 4954 and
 *   RFC 4616 (AUTH PLAIN); RFC 2034 (ENHANCEDSTATUSCODES); RFC 2033 (LMTP: LHLO and one reply
 *   per recipient after DATA).
 * Security: the server is untrusted: replies are bounded and parsed strictly; addresses with
 *   CR, LF, "<" or ">" are never written (no command injection). Opportunistic TLS does not
 *   verify certificates unless asked (RFC 7435); after STARTTLS every earlier extension is
 *   forgotten and EHLO is sent again (RFC 3207 §4.2).
 * Limitations: no CHUNKING/BDAT sending (advertised support is recorded only); AUTH PLAIN and
 *   LOGIN only; MTA-STS and DANE are the caller's (transport/smtp-transport.ts passes the
 *   certificate checks in `tlsOptions`). EHLO parsing and the MAIL/RCPT lines are in
 *   smtp-commands.ts, the socket and TLS handshake in client-socket.ts, the DATA body in
 *   body-writer.ts.
 */
import net from 'node:net';
import tls from 'node:tls';
import { reply, type SmtpReply } from '../core/index.js';
import { ReplyReader } from './reply-reader.js';
import { WaitDeadline } from '../util/index.js';
import { writeBody } from './body-writer.js';
import { connectSocket, handshake } from './client-socket.js';
import { mailCommand, noExtensions, parseExtensions, rcptCommand, type SmtpExtensions } from './smtp-commands.js';
import {
  SmtpClientError,
  defaultSmtpTimeouts,
  type ClientTransaction,
  type SmtpClientOptions,
  type SmtpTimeouts,
  type TransactionResult,
} from './smtp-client-types.js';

/** One session with one server. Methods must not be called concurrently. */
export class SmtpClient {
  greeting: SmtpReply = reply(220, undefined);
  extensions: SmtpExtensions = noExtensions;
  /** the reply to the last EHLO/HELO/LHLO */
  helloReply: SmtpReply | undefined;
  private reader = new ReplyReader();
  private socket: net.Socket;
  private closed = false;
  private readonly timeouts: SmtpTimeouts;
  /** transactions completed on this session */
  transactions = 0;
  /** how far the current (or last) transaction got: a failure in 'data' or later may mean the
   * server has the message (RFC 5321 §6.1 duplicates) */
  phase: 'idle' | 'mail' | 'data' | 'end' = 'idle';
  /** true while the server may hold the state of an unfinished transaction (MAIL sent, no
   * reply to the final "." yet); the next send() then starts with RSET */
  needsReset = false;

  private readonly options: SmtpClientOptions;
  /**
   * one timer for every wait for a reply (util/wait-deadline.ts), unref'd: the socket holds the
   * process while a reply is awaited; `waitingFor` names the wait
   */
  private readonly deadline = new WaitDeadline(() => this.expire(), { unref: true });
  private waitingFor = '';
  private constructor(socket: net.Socket, options: SmtpClientOptions) {
    this.options = { ...options };
    this.timeouts = { ...defaultSmtpTimeouts, ...options.timeouts };
    this.socket = socket;
    this.attach(socket);
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The peer's IP address and port. */
  readonly remoteAddress: string = '';
  readonly remotePort: number = 0;
  get secure(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }
  get tlsInfo(): { protocol: string; cipher: string } | undefined {
    if (!(this.socket instanceof tls.TLSSocket)) return undefined;
    return { protocol: this.socket.getProtocol() ?? '', cipher: this.socket.getCipher().name };
  }
  /** false once the connection was closed, dropped or broken by an error */
  get usable(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  /**
   * Connects, reads the greeting, says EHLO (HELO on refusal; LHLO for LMTP), and does STARTTLS
   * per options.tls. Throws SmtpClientError; a refused greeting is kind 'reply'.
   */
  static async connect(options: SmtpClientOptions): Promise<SmtpClient> {
    const timeouts = { ...defaultSmtpTimeouts, ...options.timeouts };
    const socket = await connectSocket(options, timeouts.connect);
    const client = new SmtpClient(socket, options);
    Object.assign(client, { remoteAddress: socket.remoteAddress ?? options.host, remotePort: socket.remotePort ?? options.port });
    try {
      await client.open();
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  private async open(): Promise<void> {
    this.greeting = await this.read(this.timeouts.greeting, 'greeting');
    if (this.greeting.code !== 220) {
      // RFC 5321 §3.1: a 554 greeting means no service; QUIT politely, then give up.
      await this.quit();
      throw new SmtpClientError('reply', `greeting refused: ${this.greeting.code}`, this.greeting);
    }
    await this.hello();
    const mode = this.options.tls ?? 'opportunistic';
    if (mode !== 'none' && this.extensions.starttls) {
      const r = await this.command('STARTTLS', this.timeouts.command);
      if (r.code === 220) {
        await this.upgrade();
        await this.hello();
      } else if (mode === 'required') {
        throw new SmtpClientError('tls', `STARTTLS refused: ${r.code}`, r);
      }
    } else if (mode === 'required') {
      throw new SmtpClientError('tls', 'STARTTLS not offered');
    }
  }

  private async hello(): Promise<void> {
    if (this.options.lmtp) {
      const r = await this.command(`LHLO ${this.options.helo}`, this.timeouts.command);
      this.helloReply = r;
      if (r.code !== 250) throw await this.refused(r, 'LHLO');
      this.extensions = parseExtensions(r);
      return;
    }
    const r = await this.command(`EHLO ${this.options.helo}`, this.timeouts.command);
    this.helloReply = r;
    if (r.code === 250) {
      this.extensions = parseExtensions(r);
      return;
    }
    if (r.code === 421) throw await this.refused(r, 'EHLO');
    // RFC 5321 §4.1.4: an old server refuses EHLO; fall back to HELO.
    const h = await this.command(`HELO ${this.options.helo}`, this.timeouts.command);
    this.helloReply = h;
    if (h.code !== 250) throw await this.refused(h, 'HELO');
    this.extensions = noExtensions;
  }

  private async refused(r: SmtpReply, what: string): Promise<SmtpClientError> {
    await this.quit();
    return new SmtpClientError('reply', `${what} refused: ${r.code}`, r);
  }

  private async upgrade(): Promise<void> {
    const plain = this.socket;
    this.detach(plain);
    const secure = await handshake(plain, this.options, this.timeouts.command).catch((err: unknown) => {
      this.closed = true;
      plain.destroy();
      throw err;
    });
    this.socket = secure;
    this.reader = new ReplyReader(); // RFC 3207 §4.2: discard anything from before TLS
    this.attach(secure);
    this.extensions = noExtensions;
  }

  /** AUTH PLAIN (RFC 4616), or LOGIN when PLAIN is not offered. Returns the final reply. */
  async auth(user: string, password: string): Promise<SmtpReply> {
    if (this.extensions.auth.includes('PLAIN') || !this.extensions.auth.includes('LOGIN')) {
      const token = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
      return this.command(`AUTH PLAIN ${token}`, this.timeouts.command);
    }
    let r = await this.command('AUTH LOGIN', this.timeouts.command);
    if (r.code !== 334) return r;
    r = await this.command(Buffer.from(user, 'utf8').toString('base64'), this.timeouts.command);
    if (r.code !== 334) return r;
    return this.command(Buffer.from(password, 'utf8').toString('base64'), this.timeouts.command);
  }

  /**
   * One transaction. With PIPELINING (RFC 2920 §3.1), MAIL, every RCPT and DATA go in one write
   * (preceded by RSET when the last transaction was left open); the body is sent only after a
   * 354 and when a recipient was accepted. Without PIPELINING, one command at a time, and DATA
   * only when a recipient was accepted.
   * Returns per-recipient replies; throws SmtpClientError when the session fails midway
   * (the caller must treat every recipient as not delivered).
   */
  async send(tx: ClientTransaction): Promise<TransactionResult> {
    const ext = this.extensions;
    const p = tx.params ?? {};
    const mailCmd = mailCommand(tx.sender, p, ext);
    const rcptCmds = tx.recipients.map((r) => rcptCommand(r, ext));
    const toSend = rcptCmds.filter((c): c is string => typeof c === 'string');

    // RFC 5321 §4.1.1.5: RSET only when an earlier transaction was left open (MAIL or RCPT
    // accepted but no end of data); after "250" to the final "." the state is already clear.
    const reset = this.needsReset;
    // RFC 2920 §3.1: DATA may end a command group; sent only when there is a RCPT before it.
    const pipelineData = ext.pipelining && toSend.length > 0;
    let mail: SmtpReply;
    const rcptReplies: SmtpReply[] = [];
    let data: SmtpReply | undefined;
    this.phase = 'mail';
    if (ext.pipelining) {
      // One write: [RSET] MAIL RCPT… [DATA] (RFC 2920 §3.1), then the replies in order.
      const group = [...(reset ? ['RSET'] : []), mailCmd, ...toSend, ...(pipelineData ? ['DATA'] : [])];
      this.write(group.map((c) => c + '\r\n').join(''));
      this.needsReset = true;
      if (reset) await this.readReset();
      mail = await this.read(this.timeouts.mail, 'MAIL');
      let prev = mail;
      const next = async (timeoutMs: number, what: string): Promise<SmtpReply> => {
        try {
          prev = await this.read(timeoutMs, what);
        } catch (err) {
          // RFC 5321 §3.8: after a 421 the server closes; the 421 answers what is left
          if (prev.code !== 421) throw err;
        }
        return prev;
      };
      for (let i = 0; i < toSend.length; i++) rcptReplies.push(await next(this.timeouts.rcpt, 'RCPT'));
      if (pipelineData) data = await next(this.timeouts.dataInit, 'DATA');
    } else {
      if (reset) {
        this.write('RSET\r\n');
        await this.readReset();
      }
      mail = await this.command(mailCmd, this.timeouts.mail);
      this.needsReset = true;
      if (mail.code === 250) for (const c of toSend) rcptReplies.push(await this.command(c, this.timeouts.rcpt));
    }
    let k = 0;
    const recipients = rcptCmds.map((c) => (typeof c === 'string' ? (mail.code === 250 ? rcptReplies[k++] : mail) : c));
    this.markClosedOn421(mail, ...recipients);
    const accepted = recipients.map((r, i) => (mail.code === 250 && r.code >= 250 && r.code < 260 ? i : -1)).filter((i) => i >= 0);
    if (mail.code !== 250 || accepted.length === 0) {
      // RFC 2920 §3.1: a DATA accepted despite no accepted recipient gets a lone "." (which
      // ends the transaction); a refused one leaves it open: RSET goes with the next one.
      if (data?.code === 354 && this.usable) {
        // LMTP (RFC 2033 §4.2) would answer a lone "." with no reply at all: drop the session.
        if (this.options.lmtp) this.close();
        else {
          this.write('.\r\n');
          await this.read(this.timeouts.dataTerm, 'end of data').catch(() => this.close());
          this.needsReset = false;
        }
      }
      return { mail, recipients, ...(data ? { data } : {}), final: recipients, bytesSent: 0 };
    }

    const dataReply = data ?? (await this.command('DATA', this.timeouts.dataInit));
    this.markClosedOn421(dataReply);
    if (dataReply.code !== 354) {
      return { mail, recipients, data: dataReply, final: recipients.map((r, i) => (accepted.includes(i) ? dataReply : r)), bytesSent: 0 };
    }
    this.phase = 'data';
    const bytesSent = await writeBody(this.socket, tx.body, this, this.timeouts.dataBlock);
    const final = [...recipients];
    if (this.options.lmtp) {
      // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
      for (const i of accepted) final[i] = await this.read(this.timeouts.dataTerm, 'end of data');
    } else {
      const end = await this.read(this.timeouts.dataTerm, 'end of data');
      for (const i of accepted) final[i] = end;
    }
    // RFC 5321 §4.1.1.4: the reply to the final "." (success or not) clears the transaction.
    this.needsReset = false;
    this.markClosedOn421(...final);
    this.transactions++;
    this.phase = 'end';
    return { mail, recipients, data: dataReply, final, bytesSent };
  }

  /** The reply to an RSET sent ahead of a transaction; anything but 250 ends the session. */
  private async readReset(): Promise<void> {
    const r = await this.read(this.timeouts.command, 'RSET');
    if (r.code !== 250) {
      this.close();
      throw new SmtpClientError('reply', `RSET refused: ${r.code}`, r);
    }
    this.needsReset = false;
  }

  async noop(): Promise<SmtpReply> {
    return this.command('NOOP', this.timeouts.command);
  }

  /** QUIT and close; never throws. */
  async quit(): Promise<void> {
    if (this.usable) {
      try {
        await this.command('QUIT', this.timeouts.quit);
      } catch {
        // the goodbye is a courtesy
      }
    }
    this.close();
  }

  /** Replaces the AbortSignal that ends this session (a pooled session serves many callers). */
  bindSignal(signal: AbortSignal | undefined): void {
    this.options.signal?.removeEventListener('abort', this.onAbort);
    (this.options as { signal?: AbortSignal }).signal = signal;
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Drops the connection at once. */
  close(): void {
    this.closed = true;
    this.deadline.close();
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.socket.destroy();
    this.reader.end(new SmtpClientError('closed', 'connection closed'));
  }

  /** Sends one command line and reads its reply. */
  async command(line: string, timeoutMs = this.timeouts.command): Promise<SmtpReply> {
    this.write(line + '\r\n');
    return this.read(timeoutMs, line.split(' ')[0]);
  }

  private write(data: string): void {
    if (!this.usable) throw new SmtpClientError('closed', 'connection closed');
    this.socket.write(data, 'latin1');
  }

  private async read(timeoutMs: number, what: string): Promise<SmtpReply> {
    this.waitingFor = what;
    this.deadline.start(Date.now() + timeoutMs);
    try {
      return await this.reader.next();
    } catch (err) {
      if (err instanceof SmtpClientError) throw err;
      this.close();
      throw new SmtpClientError('protocol', (err as Error).message, undefined, { cause: err });
    } finally {
      this.deadline.stop();
    }
  }

  /** A reply did not come in time: the wait fails with the timeout, and the session is dropped. */
  private expire(): void {
    this.reader.end(new SmtpClientError('timeout', `timeout waiting for the reply to ${this.waitingFor}`));
    this.close();
  }

  /** RFC 5321 §3.8: after 421 the server closes the channel. */
  private markClosedOn421(...rs: SmtpReply[]): void {
    if (rs.some((r) => r.code === 421)) this.close();
  }

  private readonly onData = (d: Buffer): void => this.reader.push(d);
  private readonly onEnd = (): void => {
    this.closed = true;
    this.deadline.close();
    this.reader.end(new SmtpClientError('closed', 'connection closed by the server'));
  };
  private readonly onError = (err: Error): void => {
    this.closed = true;
    this.deadline.close();
    this.reader.end(new SmtpClientError('closed', `connection error: ${err.message}`, undefined, { cause: err }));
  };
  private readonly onAbort = (): void => {
    this.closed = true;
    this.deadline.close();
    this.socket.destroy();
    this.reader.end(new SmtpClientError('aborted', 'aborted'));
  };

  private attach(s: net.Socket): void {
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('close', this.onEnd);
    s.on('error', this.onError);
  }

  private detach(s: net.Socket): void {
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('close', this.onEnd);
    s.off('error', this.onError);
  }
}
