/**
 * @module output-queue
 * What a LineConnection writes (line-connection.ts): replies queued while the session works
 * through pipelined input and written in one write when it next waits for input or flushes,
 * writes that wait for the stream to drain, and the bound on output the peer does not read.
 * The connection owns the stream (it changes at STARTTLS and COMPRESS) and passes it in.
 * Standards: RFC 2920 §3.1 and RFC 2449 §6.6 (pipelined replies are queued and written once
 *   the input is drained: the connection flushes before it waits).
 * Security: output the peer does not read is bounded: once more than `maxUnsent` octets wait
 *   in the stream after a flush, `mustDrain` holds until it drains, and the connection
 *   processes no further input (and so makes no further reply) meanwhile, so a client that
 *   pipelines without reading cannot grow the server (issue 12 item 2).
 * Limitations: what is queued between two flushes is not bounded here; the connection flushes
 *   as soon as it is over `maxUnsent`, before it reads another line.
 */
import type { Duplex } from 'node:stream';

/** What waiting for the stream to drain ended in. */
export type Drained = 'data' | 'timeout' | 'closed';

export class OutputQueue {
  private parts: string[] = [];
  private length = 0;
  /** set by flush() when the stream holds more than maxUnsent: drain before more input */
  private needDrain = false;
  private readonly maxUnsent: number;

  constructor(maxUnsent: number) {
    this.maxUnsent = maxUnsent;
  }

  /** More is queued than the peer may leave unread: flush before reading on. */
  get over(): boolean {
    return this.length > this.maxUnsent;
  }
  /** The last flush left more than maxUnsent in the stream, and it has not drained since. */
  get mustDrain(): boolean {
    return this.needDrain;
  }

  /** Queues output; it is written by flush(). */
  queue(text: string): void {
    this.parts.push(text);
    this.length += text.length;
  }
  /** Drops queued output (the session is being killed). */
  drop(): void {
    this.parts = [];
    this.length = 0;
  }

  /** Writes the queued output to `stream` in one write. */
  flush(stream: Duplex): void {
    if (this.length === 0 && this.parts.length === 0) return;
    const text = this.parts.length === 1 ? this.parts[0] : this.parts.join('');
    this.parts = [];
    this.length = 0;
    if (stream.destroyed || stream.writableEnded) return;
    stream.write(text);
    this.needDrain = stream.writableLength > this.maxUnsent;
  }

  /**
   * Writes `data` now (after queued output) and resolves once the stream can take more: true,
   * or false when it did not within `timeoutMs` or closed.
   */
  async write(stream: Duplex, data: string | Buffer, timeoutMs: number): Promise<boolean> {
    this.flush(stream);
    if (stream.destroyed || stream.writableEnded) return false;
    if (stream.write(data)) return true;
    return (await this.drained(stream, Date.now() + timeoutMs)) === 'data';
  }

  /** Resolves once `s` has drained, or the deadline (ms since the epoch) passed, or it closed. */
  async drained(s: Duplex, deadline: number): Promise<Drained> {
    if (!s.writableNeedDrain) {
      this.needDrain = false;
      return 'data';
    }
    let timer: NodeJS.Timeout | undefined;
    const r = await new Promise<Drained>((resolve) => {
      const done = (x: Drained) => (): void => {
        s.removeListener('drain', onDrain);
        s.removeListener('close', onClose);
        resolve(x);
      };
      const onDrain = done('data');
      const onClose = done('closed');
      s.on('drain', onDrain);
      s.on('close', onClose);
      if (Number.isFinite(deadline)) timer = setTimeout(done('timeout'), Math.max(0, deadline - Date.now()));
    });
    clearTimeout(timer);
    if (r === 'data') this.needDrain = false;
    return r;
  }
}
