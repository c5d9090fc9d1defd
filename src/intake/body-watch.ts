/**
 * @module body-watch
 * What intake runs over a message's body while it is spooled: the end-of-data checks (SPF,
 * DKIM, DMARC, ARC, rspamd: MessageCheck), DKIM signing (MessageSigner) and ARC sealing
 * (ListSealer), each fed every body chunk in order, none of them holding the body. Once the
 * body went by, the checks give their verdict, and the signatures and the seal are made over
 * the header block as it will be stored, to be put before it (MessageDraft.prepend).
 * Standards: RFC 6376 §5 (a signature over the message as stored), RFC 8617 §4 (the seal over
 *   it, the signature included), RFC 5321 §4.4 (our trace field is part of what is signed).
 * Security: a run that asks to wait (backpressure: the verifier is behind) is waited for
 *   before the next chunk, so a slow check cannot make the body pile up in memory; a message
 *   given up (refused, aborted) aborts every run.
 * Limitations: none.
 */
import { Readable } from 'node:stream';
import type { MessageCheckRun, MessageVerdict, ReceivedMessage, SealRun, StreamingSignature } from '../core/index.js';

export interface Watchers {
  readonly check?: MessageCheckRun;
  readonly sign?: StreamingSignature;
  readonly seal?: SealRun;
}

export class BodyWatch {
  readonly hasWatchers: boolean;
  #ended = false;

  constructor(private readonly w: Watchers) {
    this.hasWatchers = w.check !== undefined || w.sign !== undefined || w.seal !== undefined;
  }

  /** The next body chunk to every run; resolves once those that asked to wait have caught up. */
  body(chunk: Buffer): void | Promise<void> {
    this.w.sign?.body(chunk);
    const a = this.w.check?.body(chunk);
    const b = this.w.seal?.body(chunk);
    if (a && b) return Promise.all([a, b]).then(() => undefined);
    return a ?? b;
  }

  /** The body has all gone by: the checks' verdict (undefined without checks). */
  async finish(message: ReceivedMessage): Promise<MessageVerdict | undefined> {
    const check = this.w.check;
    if (!check) return undefined;
    const v = await check.finish(message);
    this.#ended = true;
    return v;
  }

  /**
   * `own` (our fields: Received, the checks' fields, ...) with the DKIM signatures, then the
   * seal, put before it: each made over what it will stand before (`own` and `header`).
   */
  async fieldsBefore(own: Buffer, header: Buffer): Promise<Buffer> {
    let head = own;
    const signatures = (await this.w.sign?.finish(Buffer.concat([head, header]))) ?? [];
    if (signatures.length > 0) head = Buffer.concat([Buffer.from(fieldLines(signatures), 'utf8'), head]);
    const sealed = (await this.w.seal?.finish(Buffer.concat([head, header]))) ?? [];
    if (sealed.length > 0) head = Buffer.concat([Buffer.from(fieldLines(sealed), 'latin1'), head]);
    return head;
  }

  /** The message is not taken: every run drops what it holds. */
  abort(): void {
    if (!this.#ended) this.w.check?.abort();
    this.#ended = true;
    this.w.seal?.abort();
  }
}

/** Header fields as lines, each ending in CRLF. */
export function fieldLines(ls: readonly string[]): string {
  return ls.map((l) => (l.endsWith('\r\n') ? l : l + '\r\n')).join('');
}

/** `head`, then what `rest` reads: the message as received, read again from the spool. */
export function prefixed(head: readonly Buffer[], rest: Readable): Readable {
  const out = Readable.from(
    (async function* () {
      yield* head;
      yield* rest;
    })(),
    { objectMode: false },
  );
  out.on('close', () => rest.destroy());
  return out;
}
