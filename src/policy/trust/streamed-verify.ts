/**
 * @module streamed-verify
 * mailauth's DKIM verifier (which also gathers the ARC chain, RFC 8617 §5.2) fed a message
 * piece by piece while intake spools it: the verifier reads a PassThrough, hashes the body as
 * it goes by (one hash per canonicalization, algorithm and l= the signatures ask for) and keeps
 * only the header block, so a large message is never held whole to be verified.
 * Standards: RFC 6376 §6 (verification), RFC 8617 §5.2 (the chain mailauth's arc() validates).
 * Security: the pieces are written with backpressure (a write waits for the verifier to catch
 *   up), so a slow verifier cannot make the message pile up in memory; once the verifier fails
 *   or the run is aborted, further pieces are dropped.
 * Limitations: none.
 */
import { PassThrough } from 'node:stream';
import type { DKIMVerifyResult } from 'mailauth';

/** A lookup in node's dns.resolve shapes (what mailauth calls); errors carry c-ares codes. */
export type RawLookup = (name: string, rrtype: string) => Promise<unknown>;

type MailAuth = typeof import('mailauth/lib/dkim/verify.js') & typeof import('mailauth/lib/spf/index.js') & typeof import('mailauth/lib/arc/index.js');
let mailAuth: Promise<MailAuth> | undefined;

/**
 * mailauth's verifiers (and their dependencies), loaded once on first use: a server with the
 * checks off, and every CLI command, does not carry them in memory; one with them on loads them
 * when its policy is built (policy-from-config.ts), not in the first message's time.
 */
export function loadMailAuth(): Promise<MailAuth> {
  mailAuth ??= Promise.all([import('mailauth/lib/dkim/verify.js'), import('mailauth/lib/spf/index.js'), import('mailauth/lib/arc/index.js')]).then(([d, sp, a]) => ({ ...d, ...sp, ...a }));
  return mailAuth;
}

export interface VerifyOptions {
  readonly lookup: RawLookup;
  readonly minBitLength: number;
  /** the envelope sender (DMARC's and the A-R's smtp.mailfrom), if any */
  readonly sender?: string;
}

export class StreamedVerify {
  /** what dkimVerify found (its `arc` property too); undefined when it failed or was aborted */
  readonly result: Promise<DKIMVerifyResult | undefined>;
  readonly #input = new PassThrough();
  #done = false;

  constructor(o: VerifyOptions) {
    this.result = loadMailAuth()
      .then(({ dkimVerify }) => dkimVerify(this.#input, { resolver: o.lookup as never, minBitLength: o.minBitLength, ...(o.sender !== undefined ? { sender: o.sender } : {}) }))
      .catch(() => {
        this.abort();
        return undefined;
      });
  }

  /** The next octets of the message; a promise when the verifier is behind (resolves once it caught up, or failed). */
  write(chunk: Buffer): void | Promise<void> {
    if (this.#done || this.#input.write(chunk)) return;
    return new Promise<void>((resolve) => {
      const go = (): void => {
        this.#input.off('drain', go);
        this.#input.off('close', go);
        resolve();
      };
      this.#input.on('drain', go);
      this.#input.on('close', go);
      void this.result.then(go);
    });
  }

  /** The message has all been written: the verifier's result. */
  end(): Promise<DKIMVerifyResult | undefined> {
    if (!this.#done) this.#input.end();
    return this.result;
  }

  /** Drops the run (the message is not taken): nothing more is verified. */
  abort(): void {
    if (this.#done) return;
    this.#done = true;
    this.#input.destroy();
  }
}
