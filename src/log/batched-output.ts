/**
 * @module batched-output
 * Where serve's log lines go: lines are collected for a moment and written to a descriptor
 * (stdout by default) together, one asynchronous write at a time, in order.
 * Standards: none.
 * Security: none (the lines are the logger's).
 * Limitations: lines not yet written are lost if the process is killed (the spool never depends
 *   on them); stop() and flushSync() write what is left. A descriptor that refuses writes for
 *   good (EBADF, EPIPE) stops the output: lines are then dropped rather than piling up in memory.
 */
import { write, writeSync } from 'node:fs';

export interface BatchedOutputOptions {
  /** how long a line may wait for others before a write starts (default 50 ms) */
  readonly maxDelayMs?: number;
  /** a write starts at once when this many octets (roughly: UTF-16 units) wait (default 16 KiB) */
  readonly maxBytes?: number;
  /** rewrites each line before it is written (log.format = "text": text-line.ts) */
  readonly transform?: (line: string) => string;
}

/**
 * A pino destination (anything with write(string)). Under load each log line used to be its own
 * write handed to libuv's thread pool (two per accepted message, each a thread round trip); here
 * the lines of ~50 ms or 16 KiB share one.
 */
export class BatchedOutput {
  readonly #fd: number;
  readonly #maxDelayMs: number;
  readonly #maxBytes: number;
  readonly #transform: ((line: string) => string) | undefined;
  #lines: string[] = [];
  #length = 0;
  #writing = false;
  #timer: NodeJS.Timeout | undefined;
  #broken = false;
  #idle: (() => void)[] = [];

  constructor(fd: number, opts: BatchedOutputOptions = {}) {
    this.#fd = fd;
    this.#maxDelayMs = opts.maxDelayMs ?? 50;
    this.#maxBytes = opts.maxBytes ?? 16 * 1024;
    this.#transform = opts.transform;
  }

  /** Whether a write failed for good: lines are dropped from then on, not kept in memory. */
  get broken(): boolean {
    return this.#broken;
  }

  write(json: string): boolean {
    if (this.#broken) return true;
    const line = this.#transform ? this.#transform(json) : json;
    this.#lines.push(line);
    this.#length += line.length;
    if (this.#writing) return true;
    if (this.#length >= this.#maxBytes) this.#start();
    else this.#timer ??= setTimeout(() => this.#start(), this.#maxDelayMs).unref();
    return true;
  }

  #take(): Buffer {
    const data = Buffer.from(this.#lines.join(''), 'utf8');
    this.#lines = [];
    this.#length = 0;
    return data;
  }

  #start(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#writing) return;
    if (this.#lines.length === 0) {
      for (const f of this.#idle.splice(0)) f();
      return;
    }
    this.#writing = true;
    this.#writeOut(this.#take(), 0);
  }

  #writeOut(data: Buffer, offset: number): void {
    write(this.#fd, data, offset, data.length - offset, null, (err, n) => {
      if (err) {
        const code = err.code;
        if (code === 'EAGAIN') {
          // a non-blocking pipe that is full: try again shortly
          setTimeout(() => this.#writeOut(data, offset), 10);
          return;
        }
        this.#broken = true;
        this.#lines = [];
        this.#length = 0;
      } else if (offset + n < data.length) {
        this.#writeOut(data, offset + n);
        return;
      }
      this.#writing = false;
      if (this.#length >= this.#maxBytes || this.#idle.length > 0) this.#start();
      else if (this.#lines.length > 0) this.#timer ??= setTimeout(() => this.#start(), this.#maxDelayMs).unref();
    });
  }

  /** pino's logger.flush(cb): resolves once everything written so far is out. */
  flush(cb?: (err?: Error) => void): void {
    void this.stop().then(() => cb?.());
  }

  /** Writes what is waiting and resolves when no write is in flight. */
  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#idle.push(resolve);
      if (!this.#writing) this.#start();
    });
  }

  /**
   * For the last moments of a process (an exit handler): writes what waits synchronously. A write
   * in flight may land after these lines.
   */
  flushSync(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#broken || this.#lines.length === 0) return;
    const data = this.#take();
    let off = 0;
    try {
      while (off < data.length) off += writeSync(this.#fd, data, off, data.length - off);
    } catch {
      this.#broken = true;
    }
  }
}
