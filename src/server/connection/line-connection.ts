/**
 * @module line-connection
 * The framing layer every line protocol's session runs on (SMTP, POP3, IMAP), over any
 * Duplex: a TCP socket, a TLS socket, or stdin/stdout (`sendmail -bs`). It reads lines with a
 * length limit and raw octets (DATA, BDAT chunks, IMAP literals) from the input it holds
 * (input-buffer.ts: the chunks and the line finder), pauses reading past a bound, times whole
 * lines rather than the gaps between octets, writes what the session queues when it next waits
 * (output-queue.ts: queued replies and write backpressure), and upgrades the stream to TLS
 * (tls-handshake.ts) or COMPRESS=DEFLATE (deflate-duplex.ts) in one place.
 * Standards: RFC 5321 §2.3.8 and RFC 1939 §3 (lines end with CRLF; a bare LF is accepted as
 *   an end of line, the CR before it removed); RFC 2920 §3.1 and RFC 2449 §6.6 (pipelined
 *   replies are queued and written once the input is drained); RFC 3207 §4 and RFC 2595 §4
 *   (STARTTLS/STLS: input buffered before the handshake is discarded).
 * Security: everything the peer sends is hostile. Input held ahead of processing is bounded
 *   (reading pauses past `maxBuffered`); output the peer does not read is bounded too: once
 *   more than `maxUnsent` octets wait in the stream, no further input is processed (and so no
 *   further reply made) until it drains, so a client that pipelines without reading cannot
 *   grow the server (issue 12 item 2; output-queue.ts counts it). A line's deadline counts
 *   from when its wait began and is not renewed by each octet, so a client trickling octets
 *   cannot hold a slot forever (issue 12 item 5). Over-long lines are discarded to their end,
 *   never buffered whole, and input that comes while the session is busy is kept as the chunks
 *   came (input-buffer.ts).
 * Limitations: readBytes holds a literal in memory unless given a sink (readSome hands one out
 *   in pieces, views of the chunks as they came). TLS upgrade needs a net.Socket underneath (a
 *   stdio session has no STARTTLS).
 */
import { DeflateDuplex } from './deflate-duplex.js';
import { InputBuffer } from './input-buffer.js';
import { OutputQueue } from './output-queue.js';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { CLOSED, INTERRUPTED, LONG, TIMEOUT, type LineEnd, type LineResult, type WaitResult } from './read-results.js';
import { normalizeIp } from './peer-address.js';
import { tlsHandshake } from './tls-handshake.js';
import { WaitDeadline } from '../../util/index.js';

export interface LineConnectionOptions {
  /** input octets held ahead of processing before reading pauses. Default 256 KB. */
  readonly maxBuffered?: number;
  /** output octets waiting in the stream above which input is not processed until 'drain'. Default 64 KB. */
  readonly maxUnsent?: number;
}

export class LineConnection {
  private stream: Duplex;
  /** input received and not yet read */
  private readonly input = new InputBuffer();
  private paused = false;
  private waiter: ((r: 'data' | 'interrupted' | 'timeout') => void) | undefined;
  /** the wait's deadline: one timer for all of the connection's waits */
  private readonly deadline = new WaitDeadline(() => this.wake('timeout'));
  private interrupted = false;
  /** output queued and not yet written, and whether the peer must read before more input is processed */
  private readonly output: OutputQueue;
  private readonly maxBuffered: number;
  /** the stream is closed: nothing more is read or written */
  closed = false;
  /** the peer's input ended (stdin at EOF, or a half-close): what is buffered is still read */
  private ended = false;
  /** resolves when the stream is closed */
  readonly gone: Promise<void>;
  private markGone!: () => void;
  /** the peer's address ("" for stdio), normalized */
  readonly remoteAddress: string;

  constructor(stream: Duplex, options: LineConnectionOptions = {}) {
    this.stream = stream;
    this.maxBuffered = options.maxBuffered ?? 256 * 1024;
    this.output = new OutputQueue(options.maxUnsent ?? 64 * 1024);
    this.remoteAddress = normalizeIp(stream instanceof Socket ? stream.remoteAddress : undefined);
    this.gone = new Promise((r) => (this.markGone = r));
    // replies are small and each one waits for the client: never let Nagle hold them back
    if (stream instanceof Socket) stream.setNoDelay(true);
    this.attach(stream);
  }

  /** the stream under the session: a socket, a TLS socket after upgradeTls, or stdio */
  get socket(): Duplex {
    return this.stream;
  }
  /** the socket (or TLS socket) under a compression layer */
  private get base(): Duplex {
    return this.stream instanceof DeflateDuplex ? this.stream.raw : this.stream;
  }
  get remotePort(): number | undefined {
    const b = this.base;
    return b instanceof Socket ? b.remotePort : undefined;
  }
  get localAddress(): string | undefined {
    const b = this.base;
    return b instanceof Socket ? normalizeIp(b.localAddress) : undefined;
  }
  get encrypted(): boolean {
    return this.base instanceof TLSSocket;
  }

  // ---- stream events ----
  private readonly onData = (chunk: Buffer): void => {
    this.input.push(chunk);
    if (this.buffered > this.maxBuffered && !this.paused) {
      this.paused = true;
      this.stream.pause();
    }
    this.wake('data');
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake('data');
  };
  private readonly onClose = (): void => {
    this.closed = true;
    this.deadline.close();
    this.markGone();
    this.wake('data');
  };
  private readonly onError = (): void => {
    // 'close' follows; a reset by the peer is not our error
  };

  private attach(s: Duplex): void {
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('close', this.onClose);
    s.on('error', this.onError);
  }
  private detach(s: Duplex): void {
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onClose);
    s.removeListener('error', this.onError);
  }
  /** Stops reading `raw` for the session, flowing again: the layer put over it (TLS, DEFLATE) reads it now. */
  private release(raw: Duplex): void {
    this.detach(raw);
    if (this.paused) {
      this.paused = false;
      raw.resume();
    }
  }
  private wake(r: 'data' | 'interrupted' | 'timeout'): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.(r);
  }

  /** Wakes a waiting read with INTERRUPTED (once); the session decides whether to stop. */
  interrupt(): void {
    this.interrupted = true;
    this.wake('interrupted');
  }

  // ---- input ----
  /** octets received and not yet read */
  get buffered(): number {
    return this.input.length;
  }

  /** Resumes reading once what is held is back under maxBuffered. */
  private resumeBelowLimit(): void {
    if (this.paused && this.buffered < this.maxBuffered) {
      this.paused = false;
      this.stream.resume();
    }
  }

  /**
   * Waits for more input until `deadline` (ms since the epoch). Before waiting, queued output
   * is written (RFC 2920 §3.1: once the input is drained).
   */
  async waitInput(deadline: number): Promise<WaitResult> {
    this.flush();
    if (this.closed || this.ended) return 'closed';
    if (this.interrupted) {
      this.interrupted = false;
      return 'interrupted';
    }
    if (deadline - Date.now() <= 0) return 'timeout';
    this.deadline.start(deadline);
    const r = await new Promise<'data' | 'interrupted' | 'timeout'>((resolve) => (this.waiter = resolve));
    this.deadline.stop();
    this.waiter = undefined;
    if (r === 'interrupted') this.interrupted = false;
    if ((this.closed || this.ended) && this.input.empty) {
      this.deadline.close();
      return 'closed';
    }
    return r;
  }

  /**
   * Reads one line (CRLF or LF ended, the line end removed) that must be complete by
   * `timeoutMs` from the moment this call first has to wait. A line longer than `limit`
   * octets (counting a CRLF) is discarded to its end and reported as LONG. Before a buffered
   * line is handed out, output the peer has not read must drain below maxUnsent. `decode`
   * turns the line's octets into what the session reads (a stable function: no allocation per
   * line beyond its result).
   */
  async readLine(limit: number, timeoutMs: number): Promise<LineResult>;
  async readLine<T>(limit: number, timeoutMs: number, decode: (line: Buffer) => T): Promise<T | LineEnd>;
  async readLine<T>(limit: number, timeoutMs: number, decode?: (line: Buffer) => T): Promise<T | Buffer | LineEnd> {
    let deadline = 0;
    for (;;) {
      if (this.output.over) this.flush();
      if (this.output.mustDrain) {
        deadline ||= Date.now() + timeoutMs;
        const d = await this.output.drained(this.stream, deadline);
        if (d !== 'data') return d === 'timeout' ? TIMEOUT : CLOSED;
      }
      const line = this.input.nextLine(limit);
      this.resumeBelowLimit();
      if (line !== undefined) return line === LONG || !decode ? line : decode(line);
      deadline ||= Date.now() + timeoutMs;
      const w = await this.waitInput(deadline);
      if (w === 'closed') return CLOSED;
      if (w === 'timeout') return TIMEOUT;
      if (w === 'interrupted') return INTERRUPTED;
    }
  }

  /**
   * Reads exactly `n` raw octets (an IMAP literal), all of them by `timeoutMs` from the first
   * wait (like a line). With `sink`, the octets are handed to it as they come and not kept
   * (a literal being discarded); otherwise they are returned in one Buffer.
   */
  async readBytes(n: number, timeoutMs: number, sink?: (chunk: Buffer) => void): Promise<Buffer | typeof TIMEOUT | typeof CLOSED> {
    const parts: Buffer[] = [];
    let left = n;
    let deadline = 0;
    while (left > 0) {
      if (!this.input.empty) {
        const chunk = this.take();
        const mine = chunk.length > left ? chunk.subarray(0, left) : chunk;
        if (chunk.length > left) this.unshift(chunk.subarray(left));
        left -= mine.length;
        if (sink) sink(mine);
        else parts.push(mine);
        continue;
      }
      deadline ||= Date.now() + timeoutMs;
      const w = await this.waitInput(deadline);
      if (w === 'closed') return CLOSED;
      if (w === 'timeout') return TIMEOUT;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /**
   * Reads the next 1 to `max` raw octets (a piece of a literal streamed elsewhere), waiting for
   * them at most `timeoutMs`: a view of the oldest chunk held, never a copy. readBytes joins the
   * pieces of a range that spans two socket reads into a new buffer, which for a literal read
   * 64 KB at a time was one more 64 KB allocation per read beside the socket's own.
   */
  async readSome(max: number, timeoutMs: number): Promise<Buffer | typeof TIMEOUT | typeof CLOSED> {
    const deadline = Date.now() + timeoutMs;
    while (this.input.empty) {
      const w = await this.waitInput(deadline);
      if (w === 'closed') return CLOSED;
      if (w === 'timeout') return TIMEOUT;
    }
    const chunk = this.take();
    if (chunk.length <= max) return chunk;
    this.unshift(chunk.subarray(max));
    return chunk.subarray(0, max);
  }

  /**
   * Takes the oldest buffered octets (raw octets: DATA, BDAT chunks, literals): a chunk as it
   * came (or what is left of it), not copied; `buffered` says whether more is there.
   */
  take(): Buffer {
    const b = this.input.take();
    this.resumeBelowLimit();
    return b;
  }

  /** Puts back octets read past the end of a body or chunk. */
  unshift(b: Buffer | undefined): void {
    if (b && b.length > 0) this.input.unshift(b);
  }

  /** Forgets buffered input (after STARTTLS/STLS: CVE-2011-0411). */
  discard(): void {
    this.input.clear();
  }

  // ---- output (output-queue.ts) ----
  /** Queues output; it is written by flush(), or when the session next waits for input. */
  queue(text: string): void {
    this.output.queue(text);
  }
  /** Drops queued output (the session is being killed). */
  dropQueued(): void {
    this.output.drop();
  }
  /** Writes the queued output in one write. */
  flush(): void {
    this.output.flush(this.stream);
  }
  /**
   * Writes now (after queued output) and resolves once the stream can take more: true, or
   * false when it did not within `timeoutMs` or closed (a message body to a peer that stopped
   * reading).
   */
  write(data: string | Buffer, timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    return this.output.write(this.stream, data, timeoutMs);
  }

  /**
   * Writes what is queued and closes. `now` (after QUIT): once the output is with the kernel
   * (nothing left queued; plain TCP, where no TLS close_notify is owed) the stream is
   * destroyed at once, and the kernel sends the reply, then FIN. Otherwise the stream is ended
   * and closed once the peer has closed too (or after 2 s), so a peer still sending does not
   * turn our last reply into a reset.
   */
  async end(now = false): Promise<void> {
    this.flush();
    const s = this.stream;
    if (this.closed || s.destroyed) return;
    if (now && s instanceof Socket && !(s instanceof TLSSocket) && s.writableLength === 0) {
      s.destroy();
      return;
    }
    if (!s.writableEnded) s.end();
    const t = setTimeout(() => s.destroy(), 2000);
    // Only a socket's peer can turn unread input into a reset, and only one still sending:
    // stdio, or a peer whose input already ended, needs no more than the end of our output.
    const waitPeer = s instanceof Socket && !this.ended;
    await (waitPeer ? this.gone : Promise.race([this.gone, new Promise<void>((r) => s.once('finish', r))]));
    clearTimeout(t);
  }

  /** Ends with `text` and destroys after `graceMs`, whatever the session is doing. */
  kill(text: string, graceMs = 1000): void {
    this.dropQueued();
    if (!this.stream.destroyed && !this.stream.writableEnded) this.stream.end(text);
    setTimeout(() => this.stream.destroy(), graceMs).unref();
  }

  destroy(): void {
    this.deadline.close();
    this.stream.destroy();
  }

  // ---- COMPRESS=DEFLATE (RFC 4978) ----
  /** Whether startDeflate() was called. */
  get compressed(): boolean {
    return this.stream instanceof DeflateDuplex;
  }
  /**
   * From now on both directions are raw DEFLATE (RFC 4978 §3): the output queued so far (the
   * tagged OK) goes out uncompressed first; input already buffered is taken as compressed.
   */
  startDeflate(): void {
    const raw = this.stream;
    this.flush();
    const pending = this.input.takeAll();
    this.release(raw);
    const d = new DeflateDuplex(raw, pending);
    this.stream = d;
    this.attach(d);
  }

  // ---- TLS (RFC 3207, RFC 2595 §4, RFC 8314) ----
  /**
   * Turns the socket into a TLS server socket and waits for the handshake (at most
   * `timeoutMs`). Input buffered before it is discarded. On failure the connection is closed
   * and undefined returned.
   */
  async upgradeTls(secureContext: SecureContext, timeoutMs: number): Promise<{ protocol: string; cipher: string } | undefined> {
    const raw = this.stream;
    if (!(raw instanceof Socket) || raw instanceof TLSSocket) return undefined;
    this.flush();
    this.discard();
    this.release(raw);
    const { socket: t, ok } = await tlsHandshake(raw, secureContext, timeoutMs);
    this.stream = t;
    this.attach(t);
    if (!ok) {
      t.destroy();
      raw.destroy();
      this.onClose();
      return undefined;
    }
    t.setNoDelay(true);
    return { protocol: t.getProtocol() ?? 'TLS', cipher: t.getCipher().name };
  }
}
