/**
 * @module body-copy
 * The message's octets going into the spool draft: counted against the size limit as they
 * pass (552 5.3.4 as soon as it is exceeded, not after the whole body arrived) and scanned for
 * 8-bit octets (RFC 6152: the envelope records whether the body is 8-bit), with backpressure
 * from the draft and an abort signal (the session ended).
 * Standards: RFC 5321 §4.5.3.1.10 (message size), RFC 6152 (8BITMIME).
 * Security: the body is never held whole here; a copy that fails destroys both streams.
 * Limitations: none.
 */
import type { Readable, Writable } from 'node:stream';
import { isAscii } from 'node:buffer';
import { MailError, replies } from '../core/index.js';

/** Counts the octets copied into the draft and notes any 8-bit octet (RFC 6152). */
export class SizeAndEightBit {
  size = 0;
  eightBit = false;
  constructor(private readonly limit: number) {}
  /** Throws 552 (RFC 5321 §4.5.3.1.10) once the message passes the limit. */
  count(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.limit) throw new MailError(replies.messageTooBig(), 'MAIL_ERR_SIZE');
    if (!this.eightBit && hasEightBit(chunk)) this.eightBit = true;
  }
}

/**
 * Copies `head` then `body` into `dest` with backpressure, counting through `counter`, and ends
 * `dest`. One loop instead of stream.pipeline, which builds per call a Duplex around a
 * generator, a Transform, an AbortController and, when it finishes, a DOMException (measurable
 * when every message streamed; since small SMTP bodies arrive whole, this copies the larger
 * ones, BDAT, sendmail and re-injected mail). On any failure (body error, size
 * limit, `signal` aborted, `dest` error) `body` and `dest` are destroyed, as pipeline did.
 */
export async function copyBody(
  head: readonly Buffer[],
  body: Readable,
  counter: SizeAndEightBit,
  dest: Writable,
  signal?: AbortSignal,
  onBodyChunk?: (chunk: Buffer) => void | Promise<void>,
): Promise<void> {
  let destError: unknown;
  let wake: (() => void) | undefined;
  const onDestError = (err: unknown): void => {
    destError ??= err;
    wake?.();
  };
  const onAbort = (): void => {
    body.destroy(abortError(signal));
    wake?.();
  };
  dest.on('error', onDestError);
  signal?.addEventListener('abort', onAbort);
  try {
    if (signal?.aborted) throw abortError(signal);
    const put = async (chunk: Buffer): Promise<void> => {
      counter.count(chunk);
      if (destError !== undefined) throw destError;
      if (dest.write(chunk)) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
        dest.once('drain', resolve);
      });
      dest.removeListener('drain', wake!);
      wake = undefined;
      if (destError !== undefined) throw destError;
      if (signal?.aborted) throw abortError(signal);
    };
    for (const chunk of head) await put(chunk);
    for await (const chunk of body) {
      await put(chunk as Buffer);
      // a watcher that is behind (body-watch.ts) is waited for: the body never piles up for it
      const behind = onBodyChunk?.(chunk as Buffer);
      if (behind) await behind;
    }
    if (signal?.aborted) throw abortError(signal);
    if (destError !== undefined) throw destError;
    dest.end();
  } catch (err) {
    if (!body.destroyed) body.destroy();
    if (!dest.destroyed) dest.destroy();
    throw err;
  } finally {
    // onDestError stays: an error after end() is then never an unhandled 'error' event (the
    // draft's commit reports it through finished())
    signal?.removeEventListener('abort', onAbort);
  }
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

export function hasEightBit(buf: Buffer): boolean {
  // native scan, no copy: a body chunk must not be duplicated just to look at it
  return !isAscii(buf);
}
