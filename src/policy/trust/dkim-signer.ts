/**
 * @module dkim-signer
 * Intake's MessageSigner: DKIM-signs mail from local or authenticated senders (submission,
 * sendmail, bounces from the postmaster, list re-injection) for the From domain when a key for
 * it exists, with every key of that domain (an Ed25519 and an RSA key give two signatures,
 * RFC 8463 §5 recommends both; two selectors during a rotation give two as well). streaming()
 * signs a body intake feeds it chunk by chunk while spooling it, the header last, so a large
 * message is never held whole to be signed (intake's one way; sign() is it for a whole message).
 * Standards: RFC 6376 §5 (signing; dkim-sign.ts), RFC 7489 §3.1.1 (the d= is the From domain,
 *   so the signature aligns), RFC 5322 §3.6.2 (one From field).
 * Security: mail from MX strangers and trusted networks without AUTH is never signed (applies);
 *   a message with no From, or From addresses in more than one domain, is not signed.
 * Limitations: keys are read at start and on reload; no signing for a parent domain's key.
 */
import type { MessageSigner, SessionInfo, StreamingSignature } from '../../core/index.js';
import { fromAddresses } from '../from-addresses.js';
import { BodyHasher, rawFields, signatureField, type SigningKey } from './dkim-sign.js';

export class DkimSigner implements MessageSigner {
  constructor(
    private readonly keys: ReadonlyMap<string, readonly SigningKey[]>,
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** Local (sendmail), internal (bounces, lists) and authenticated sessions; not MX strangers. */
  applies(session: SessionInfo): boolean {
    if (this.keys.size === 0) return false;
    return session.authUser !== undefined || session.protocol === 'local' || session.internal === true;
  }

  /** The signatures for a message given whole: streaming() fed it in one piece. */
  sign(message: Buffer): Promise<readonly string[]> {
    const { header, body } = headerEnd(message);
    const run = this.streaming();
    run.body(message.subarray(body));
    return run.finish(message.subarray(0, header));
  }

  /**
   * Signing a body that streams by (intake spools it meanwhile): the body hash is taken chunk
   * by chunk, the header fields signed once the header is complete.
   */
  streaming(): StreamingSignature {
    const hasher = new BodyHasher();
    return {
      body: (chunk) => hasher.update(chunk),
      finish: (header) => {
        const fields = rawFields(header.toString('latin1'));
        const domain = fromDomain(fields);
        const keys = domain === undefined ? [] : (this.keys.get(domain) ?? []);
        if (keys.length === 0) return Promise.resolve([]);
        const bh = hasher.digest();
        const now = this.nowSeconds();
        return Promise.all(keys.map((k) => signatureField(k, fields, bh, now)));
      },
    };
  }
}

/** The one (lower-case) domain of the From field's addresses; undefined for none or several. */
function fromDomain(fields: ReturnType<typeof rawFields>): string | undefined {
  const domains = new Set<string>();
  for (const f of fields) {
    if (f.name.trim().toLowerCase() !== 'from') continue;
    for (const a of fromAddresses(f.value.replace(/\r?\n/g, '').trim())) if (a && a.domain !== '') domains.add(a.domain.toLowerCase());
  }
  return domains.size === 1 ? [...domains][0] : undefined;
}

/** Where the header block ends (before the empty line) and the body starts. */
function headerEnd(message: Buffer): { header: number; body: number } {
  if (message.subarray(0, 2).toString('latin1') === '\r\n') return { header: 0, body: 2 };
  const i = message.indexOf('\r\n\r\n');
  if (i >= 0) return { header: i + 2, body: i + 4 };
  const j = message.indexOf('\n\n');
  if (j >= 0) return { header: j + 1, body: j + 2 };
  return { header: message.length, body: message.length };
}
