/**
 * @module list-sealer
 * What a mailing list adds to each copy it sends out, for the list's own domain when that
 * domain has a DKIM key: a DKIM-Signature (d = the list's domain) and an ARC set (ARC-Seal,
 * ARC-Message-Signature, ARC-Authentication-Results), so receivers can see what the message
 * looked like when it reached the list, whose changes (List-* fields) break the author's
 * signatures and whose envelope breaks the author's SPF. Intake uses the same sealer for mail an
 * alias forwards to a remote target (`seal_forwards`), with the alias's domain.
 * Standards: RFC 8617 §4 (the ARC set), §5.1 (sealing: cv=none for the first set, pass when the
 *   chain found validates, fail otherwise), §4.1.1 (the AAR carries this ADMD's
 *   Authentication-Results); RFC 8601 (its syntax); RFC 6376 (the list's DKIM signature,
 *   dkim-sign.ts). mailauth validates the chain (arc()) and writes the set (createSeal()).
 * The copy is never held whole: the body is hashed as intake spools it (one relaxed/SHA-256
 * hash for the DKIM bh= and the AMS), a chain it arrived with is validated as it streams
 * (streamed-verify.ts), and the set is made over the stored header block and that hash.
 * Security: seals only for domains with a key under data_dir/dkim; an existing chain is
 *   validated through the configured resolver (delivery.dns_servers), never trusted as written.
 * Limitations: ARC uses the domain's RSA key (RFC 8617 defines rsa-sha256 only; a domain with
 *   only an Ed25519 key gets the DKIM signature but no ARC set). The AAR is our
 *   Authentication-Results field when the message has one (verify_inbound), else just the arc
 *   result.
 */
import { createRequire } from 'node:module';
import type { ListSealer, SealRun } from '../../core/index.js';
import { BodyHasher, rawFields, signatureField, type SigningKey } from './dkim-sign.js';
import { StreamedVerify, type RawLookup } from './streamed-verify.js';
import { claimsAuthservId } from './auth-results.js';

export interface ListSealerSettings {
  /** our authserv-id (the hostname) */
  readonly authservId: string;
  readonly keys: ReadonlyMap<string, readonly SigningKey[]>;
  readonly lookup: RawLookup;
  readonly minBitLength: number;
  /** seconds since the epoch (t=); now by default */
  readonly nowSeconds?: () => number;
}

/** mailauth's header parser (lib/tools.js, no type declarations): the shape its ARC functions take. */
const mailauthTools = createRequire(import.meta.url)('mailauth/lib/tools.js') as { parseHeaders: (header: Buffer) => { parsed: unknown[] } };

export class ArcListSealer implements ListSealer {
  constructor(private readonly s: ListSealerSettings) {}

  /**
   * Seals one copy for `domain` while its body goes by: one relaxed/SHA-256 body hash serves
   * the DKIM signature (bh=) and the ARC-Message-Signature; a chain the copy arrived with is
   * validated on the copy as received (`start`, then the body) as it streams too.
   */
  start(domain: string, start: Buffer): SealRun {
    const d = domain.toLowerCase();
    const keys = this.s.keys.get(d) ?? [];
    const hasher = keys.length > 0 ? new BodyHasher() : undefined;
    const end = start.indexOf('\r\n\r\n');
    const received = start.subarray(0, end < 0 ? start.length : end + 2).toString('latin1');
    // RFC 8617 §5.1.1: the chain as received is validated (only when there is one)
    const chain = hasher && /^arc-seal:/im.test(received) ? new StreamedVerify({ lookup: this.s.lookup, minBitLength: this.s.minBitLength }) : undefined;
    void chain?.write(start);
    return {
      body: (chunk) => {
        hasher?.update(chunk);
        return chain?.write(chunk);
      },
      abort: () => chain?.abort(),
      finish: (header) => (hasher ? this.seal(d, keys, hasher.digest(), header, chain) : Promise.resolve([])),
    };
  }

  /** The DKIM signature(s) and the ARC set over `header` (as stored) and a body hashing to `bh`. */
  private async seal(d: string, keys: readonly SigningKey[], bh: string, header: Buffer, chain: StreamedVerify | undefined): Promise<readonly string[]> {
    const now = (this.s.nowSeconds ?? (() => Math.floor(Date.now() / 1000)))();
    const dkim = await Promise.all(keys.map((k) => signatureField(k, rawFields(header.toString('latin1')), bh, now)));
    const rsa = keys.find((k) => k.algorithm === 'rsa-sha256');
    if (!rsa) {
      chain?.abort();
      return dkim;
    }
    // the ARC set covers the list's DKIM signature too: AMS lists DKIM-Signature (mailauth's default)
    const signed = Buffer.concat([Buffer.from(dkim.map((f) => f + '\r\n').join(''), 'latin1'), header]);
    const cv = chain ? await this.chainState(chain) : 'none';
    const aar = ownAuthResults(signed.toString('latin1'), this.s.authservId) ?? `${this.s.authservId}; arc=${cv}`;
    const { createSeal, getARChain } = await import('mailauth/lib/arc/index.js');
    const headers = mailauthTools.parseHeaders(signed);
    let sets: ReturnType<typeof getARChain> = false;
    try {
      sets = getARChain(headers);
    } catch {
      sets = false; // a broken chain: sealed with cv=fail, the sets not signed over
    }
    // RFC 8617 §4.2.1: the next instance after the sets found
    const i = sets && sets.length > 0 ? Number(sets[sets.length - 1].i) + 1 : 1;
    const out = await createSeal(false, {
      headers,
      arc: { chain: sets },
      seal: { i, cv, authResults: aar, bodyHash: bh, signingDomain: d, selector: rsa.selector, privateKey: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }), algorithm: 'rsa-sha256', signTime: new Date(now * 1000) },
    });
    return [...dkim, ...fieldLines(out.headers.join('\r\n') + '\r\n')];
  }

  /** RFC 8617 §5.1.1: the chain validation status of the sets the copy arrived with. */
  private async chainState(chain: StreamedVerify): Promise<'pass' | 'fail'> {
    try {
      const r = await chain.end();
      const data = (r as { arc?: unknown } | undefined)?.arc;
      if (!data) return 'fail';
      const { arc } = await import('mailauth/lib/arc/index.js');
      return String((await arc(data as never, { resolver: this.s.lookup as never, minBitLength: this.s.minBitLength })).status.result) === 'pass' ? 'pass' : 'fail';
    } catch {
      return 'fail';
    }
  }
}

/** Our own Authentication-Results field's value (unfolded), if the message carries one. */
function ownAuthResults(head: string, authservId: string): string | undefined {
  for (const f of rawFields(head)) {
    if (f.name.trim().toLowerCase() !== 'authentication-results') continue;
    const value = f.value.replace(/\r?\n/g, '').trim();
    if (claimsAuthservId(value, authservId)) return value;
  }
  return undefined;
}

/** Header fields of a block, each with its folding kept (CRLF inside, none at the end). */
function fieldLines(block: string): string[] {
  return rawFields(block).map((f) => `${f.name}:${f.value}`.replace(/\r?\n$/, ''));
}
