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
 *   dkim-sign.ts). mailauth validates the chain (arc()) and writes the set (sealMessage()).
 * Security: seals only for domains with a key under data_dir/dkim; an existing chain is
 *   validated through the configured resolver (delivery.dns_servers), never trusted as written.
 * Limitations: ARC uses the domain's RSA key (RFC 8617 defines rsa-sha256 only; a domain with
 *   only an Ed25519 key gets the DKIM signature but no ARC set). The AAR is our
 *   Authentication-Results field when the message has one (verify_inbound), else just the arc
 *   result.
 */
import type { ListSealer } from '../../core/index.js';
import type { DkimSigner } from './dkim-signer.js';
import { rawFields, type SigningKey } from './dkim-sign.js';
import type { RawLookup } from './inbound.js';
import { claimsAuthservId } from './auth-results.js';

export interface ListSealerSettings {
  /** our authserv-id (the hostname) */
  readonly authservId: string;
  readonly keys: ReadonlyMap<string, readonly SigningKey[]>;
  readonly signer: DkimSigner;
  readonly lookup: RawLookup;
  readonly minBitLength: number;
}

export class ArcListSealer implements ListSealer {
  constructor(private readonly s: ListSealerSettings) {}

  async seal(domain: string, message: Buffer): Promise<readonly string[]> {
    const d = domain.toLowerCase();
    const dkim = this.s.signer.signAs(d, message);
    const rsa = (this.s.keys.get(d) ?? []).find((k) => k.algorithm === 'rsa-sha256');
    if (!rsa) return dkim;
    // the ARC set covers the list's DKIM signature too: AMS lists DKIM-Signature (mailauth's default)
    const signed = dkim.length > 0 ? Buffer.concat([Buffer.from(dkim.join('\r\n') + '\r\n', 'latin1'), message]) : message;
    const { cv, aar } = await this.chainState(signed);
    const { sealMessage } = await import('mailauth/lib/arc/index.js');
    const out = await sealMessage(signed, {
      signingDomain: d,
      selector: rsa.selector,
      privateKey: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      algorithm: 'rsa-sha256',
      cv,
      authResults: aar,
      signTime: new Date(),
    } as never);
    const arcFields = fieldLines(out.toString('latin1'));
    return [...dkim, ...arcFields];
  }

  /** RFC 8617 §5.1.1: the chain validation status of the sets found, and what the AAR says. */
  private async chainState(message: Buffer): Promise<{ cv: 'none' | 'pass' | 'fail'; aar: string }> {
    const end = message.indexOf('\r\n\r\n');
    const head = message.subarray(0, end < 0 ? message.length : end + 2).toString('latin1');
    const ours = ownAuthResults(head, this.s.authservId);
    if (!/^arc-seal:/im.test(head)) return { cv: 'none', aar: ours ?? `${this.s.authservId}; arc=none` };
    let cv: 'pass' | 'fail' = 'fail';
    try {
      const { dkimVerify } = await import('mailauth/lib/dkim/verify.js');
      const { arc } = await import('mailauth/lib/arc/index.js');
      const r = await dkimVerify(message, { resolver: this.s.lookup as never, minBitLength: this.s.minBitLength });
      const data = (r as { arc?: unknown }).arc;
      if (data) cv = String((await arc(data as never, { resolver: this.s.lookup as never, minBitLength: this.s.minBitLength })).status.result) === 'pass' ? 'pass' : 'fail';
    } catch {
      cv = 'fail';
    }
    return { cv, aar: ours ?? `${this.s.authservId}; arc=${cv}` };
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
