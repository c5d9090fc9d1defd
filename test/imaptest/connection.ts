/**
 * @module connection
 * One IMAP client connection of an imaptest run, over any byte stream pair (a TCP socket to
 * correio, the pipes of a pre-authenticated Dovecot imap process): whole responses (literals
 * included) queued as they arrive, read only when the script's current command group is on
 * this connection, as imaptest does; commands written part by part, a synchronising literal
 * sent after the server's "+".
 * Standards: RFC 9051 §2.2 (commands, responses, continuation), §4.3 (literals), §7.4.1
 *   (EXISTS), §7.5.1 (EXPUNGE); RFC 3516 §4.3 (literal8).
 * Security: loopback peers only; every wait has a deadline.
 * Limitations: no TLS, no non-synchronising literals from the client side.
 */
import type { Readable, Writable } from 'node:stream';
import { readArgs, type ImapArg } from './imap-args.js';

/** The two directions of a connection and how to end it. */
export interface ImapLink {
  readonly input: Readable;
  readonly output: Writable;
  close(): void;
}

export type Response =
  | { readonly kind: 'untagged'; readonly args: ImapArg[] }
  | { readonly kind: 'tagged'; readonly tag: string; readonly args: ImapArg[] }
  | { readonly kind: 'continue' };

/** A command to write: chunks, each after the first sent once the server said "+". */
export interface Outgoing {
  readonly tag: string;
  readonly chunks: string[];
}

export class Connection {
  private buf = '';
  private scan = 0;
  private readonly queue: Response[] = [];
  private wake: (() => void) | undefined;
  closed = false;
  /** the message count of the selected mailbox, from EXISTS and EXPUNGE */
  messages = 0;
  sawBye = false;
  private tags = 0;

  constructor(
    private readonly link: ImapLink,
    private readonly prefix: string,
  ) {
    link.input.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.split();
      this.wake?.();
    });
    const end = (): void => {
      this.closed = true;
      this.wake?.();
    };
    link.input.on('end', end);
    link.input.on('close', end);
    link.input.on('error', end);
    link.output.on('error', end);
  }

  nextTag(): string {
    return `${this.prefix}.${++this.tags}`;
  }

  private split(): void {
    for (;;) {
      const nl = this.buf.indexOf('\r\n', this.scan);
      if (nl < 0) return;
      const lit = /~?\{(\d+)\}$/.exec(this.buf.slice(Math.max(this.scan, nl - 24), nl));
      if (lit) {
        const end = nl + 2 + Number(lit[1]);
        if (this.buf.length < end) return;
        this.scan = end;
        continue;
      }
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 2);
      this.scan = 0;
      this.queue.push(parseResponse(line));
    }
  }

  /** The next response, or undefined when the connection closed or the deadline passed. */
  async next(deadline: number): Promise<Response | undefined> {
    while (this.queue.length === 0) {
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    const r = this.queue.shift()!;
    if (r.kind === 'untagged') this.track(r.args);
    return r;
  }

  private track(args: ImapArg[]): void {
    const [a, b] = args;
    if (a?.t === 'atom' && /^bye$/i.test(a.v)) this.sawBye = true;
    if (a?.t !== 'atom' || b?.t !== 'atom' || !/^\d+$/.test(a.v)) return;
    if (/^exists$/i.test(b.v)) this.messages = Number(a.v);
    else if (/^expunge$/i.test(b.v)) this.messages--;
  }

  write(text: string): void {
    if (!this.closed) this.link.output.write(Buffer.from(text, 'latin1'));
  }

  /**
   * Writes `cmds` (pipelined) and reads until each has its tagged reply: untagged responses
   * and tagged replies go to the callbacks. Returns what went wrong, or undefined.
   */
  async exchange(cmds: readonly Outgoing[], timeoutMs: number, on: { untagged?: (args: ImapArg[]) => void; tagged?: (tag: string, args: ImapArg[]) => void } = {}): Promise<string | undefined> {
    const waiting = new Set(cmds.map((c) => c.tag));
    let sending = 0;
    let chunk = 0;
    let awaitingPlus = false;
    const writeMore = (): void => {
      while (!awaitingPlus && sending < cmds.length) {
        const c = cmds[sending];
        this.write(c.chunks[chunk]);
        chunk++;
        if (chunk < c.chunks.length) awaitingPlus = true;
        else {
          sending++;
          chunk = 0;
        }
      }
    };
    writeMore();
    const deadline = Date.now() + timeoutMs;
    while (waiting.size > 0) {
      const r = await this.next(deadline);
      if (!r) return this.closed ? 'unexpected disconnection' : `no tagged reply within ${timeoutMs} ms for ${[...waiting].join(', ')}`;
      if (r.kind === 'continue') {
        if (awaitingPlus) {
          awaitingPlus = false;
          writeMore();
        }
      } else if (r.kind === 'untagged') on.untagged?.(r.args);
      else {
        // a command refused before its literal was sent: the rest of it is not sent
        if (awaitingPlus && cmds[sending]?.tag === r.tag) {
          awaitingPlus = false;
          sending++;
          chunk = 0;
          writeMore();
        }
        if (waiting.delete(r.tag)) on.tagged?.(r.tag, r.args);
      }
    }
    return undefined;
  }

  /** One command: its tagged status word and text, and its untagged responses. */
  async command(text: string, timeoutMs: number): Promise<{ status: string; args: ImapArg[]; untagged: ImapArg[][]; error?: string }> {
    const untagged: ImapArg[][] = [];
    let args: ImapArg[] = [];
    const tag = this.nextTag();
    const error = await this.exchange([{ tag, chunks: [`${tag} ${text}\r\n`] }], timeoutMs, { untagged: (a) => untagged.push(a), tagged: (_t, a) => (args = a) });
    const status = args[0]?.t === 'atom' ? args[0].v.toUpperCase() : '';
    return { status, args, untagged, ...(error && { error }) };
  }

  close(): void {
    this.link.close();
  }
}

function parseResponse(line: string): Response {
  if (line.startsWith('+')) return { kind: 'continue' };
  if (line.startsWith('* ')) return { kind: 'untagged', args: readArgs(line.slice(2)) };
  const sp = line.indexOf(' ');
  return { kind: 'tagged', tag: sp < 0 ? line : line.slice(0, sp), args: readArgs(sp < 0 ? '' : line.slice(sp + 1)) };
}
