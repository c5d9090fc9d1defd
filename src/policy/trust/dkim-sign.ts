/**
 * @module dkim-sign
 * DKIM signing of our own (RFC 6376 §5) with relaxed/relaxed canonicalization, RSA-SHA256 and
 * Ed25519-SHA256, and a header list that oversigns the fields a message should carry once.
 *
 * How the body hash is computed without holding a large body twice: BodyHasher canonicalizes
 * (§3.4.4) and hashes chunk by chunk, keeping only the current partial line and a count of the
 * empty lines seen since the last non-empty one (trailing empty lines are dropped only if the
 * body ends there, so they are fed to the hash once a later line shows they were not
 * trailing). Nothing of the body is copied beyond one line; the header block, which is small
 * and capped by intake, is the only part kept. Intake gives the stored message here once, at
 * commit time, and the fields returned are prepended to it.
 *
 * Standards: RFC 6376 §3.4.2 (relaxed header), §3.4.4 (relaxed body), §3.5 (tags), §3.7 (hash
 *   input: the signed fields bottom-up, then the signature field with b= empty, no CRLF),
 *   §5.4.2 (a name listed more often than present signs "nothing": oversigning), §8.15 (why
 *   oversign); RFC 8463 (ed25519-sha256: Ed25519 over the SHA-256 of the hash input);
 *   RFC 8301 (rsa-sha256, keys of at least 1024 bits; we make 2048).
 * Security: private keys are read by the caller from files only it can read (0600); values
 *   written into the field are domain names and selectors checked against a strict pattern.
 * Limitations: no l= (body length) and no i= (the d= domain is the identity); no z=.
 */
import { createHash, sign as cryptoSign, type Hash, type KeyObject } from 'node:crypto';

/** RFC 6376 §3.4.4: relaxed body canonicalization, streamed into a SHA-256. */
export class BodyHasher {
  private readonly hash: Hash = createHash('sha256');
  private partial = '';
  private emptyLines = 0;

  update(chunk: Buffer): void {
    // latin1 keeps every octet as one char, so the hash input is the body's own octets
    let text = this.partial + chunk.toString('latin1');
    let lf: number;
    while ((lf = text.indexOf('\n')) >= 0) {
      this.line(text.slice(0, lf).replace(/\r$/, ''));
      text = text.slice(lf + 1);
    }
    this.partial = text;
  }

  private line(raw: string): void {
    // reduce each run of WSP to one SP, and drop WSP at the end of the line
    const l = raw.replace(/[ \t]+/g, ' ').replace(/ $/, '');
    if (l === '') {
      this.emptyLines++;
      return;
    }
    if (this.emptyLines > 0) this.hash.update('\r\n'.repeat(this.emptyLines), 'latin1');
    this.emptyLines = 0;
    this.hash.update(l + '\r\n', 'latin1');
  }

  /** base64 of the hash; the trailing empty lines are ignored, a last line without CRLF gets one */
  digest(): string {
    if (this.partial !== '') {
      this.line(this.partial);
      this.partial = '';
    }
    return this.hash.digest('base64');
  }
}

/** RFC 6376 §3.4.2: one field, relaxed: lower-case name, unfolded, WSP runs to one SP, trimmed. */
export function relaxedHeader(name: string, value: string): string {
  const v = value.replace(/\r?\n/g, '').replace(/[ \t]+/g, ' ').trim();
  return `${name.trim().toLowerCase()}:${v}`;
}

/** Fields signed when present; every one of these is oversigned (listed once more than present). */
export const OVERSIGNED = ['from', 'reply-to', 'subject', 'date', 'to', 'cc', 'message-id', 'mime-version', 'content-type', 'content-transfer-encoding'];
/** Fields signed as often as present, never oversigned (a list may add them). */
export const SIGNED_WHEN_PRESENT = ['in-reply-to', 'references', 'sender', 'list-id', 'list-unsubscribe', 'list-unsubscribe-post', 'list-post'];

export interface SigningKey {
  readonly domain: string;
  readonly selector: string;
  readonly algorithm: 'rsa-sha256' | 'ed25519-sha256';
  readonly privateKey: KeyObject;
}

/** A raw header field: its name and its value as it stands (folding kept). */
export interface RawField {
  readonly name: string;
  readonly value: string;
}

/** Splits a raw header block (octets as latin1) into fields, continuation lines kept. */
export function rawFields(header: string): RawField[] {
  const out: { name: string; value: string }[] = [];
  for (const line of header.split(/(?<=\n)/)) {
    if ((line.startsWith(' ') || line.startsWith('\t')) && out.length > 0) {
      out[out.length - 1].value += line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon), value: line.slice(colon + 1) });
  }
  return out;
}

const SAFE = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/i;

/**
 * The DKIM-Signature field (without CRLF) for a message whose header fields are `fields`
 * (top to bottom) and whose body hash is `bodyHash`. `now` in seconds since the epoch (t=).
 * The private-key operation runs on libuv's thread pool (crypto.sign with a callback): an
 * RSA-2048 signature is most of signing's CPU, and off the event loop it takes the other core
 * instead of holding up every SMTP session of this process while it runs.
 */
export async function signatureField(key: SigningKey, fields: readonly RawField[], bodyHash: string, now: number): Promise<string> {
  if (!SAFE.test(key.domain) || !SAFE.test(key.selector)) throw new Error(`unsafe DKIM domain or selector: ${key.domain} ${key.selector}`);
  const present = new Map<string, RawField[]>();
  for (const f of fields) {
    const n = f.name.trim().toLowerCase();
    present.set(n, [...(present.get(n) ?? []), f]);
  }
  // §5.4.2: each name once per instance, taken bottom-up; an oversigned name once more
  const names: string[] = [];
  const signed: RawField[] = [];
  for (const n of [...OVERSIGNED, ...SIGNED_WHEN_PRESENT]) {
    const inst = present.get(n) ?? [];
    if (inst.length === 0 && !OVERSIGNED.includes(n)) continue;
    for (let i = inst.length - 1; i >= 0; i--) {
      names.push(n);
      signed.push(inst[i]);
    }
    if (OVERSIGNED.includes(n)) names.push(n);
  }
  const tags = `v=1; a=${key.algorithm}; c=relaxed/relaxed; d=${key.domain}; s=${key.selector};\r\n\tt=${now}; h=${names.join(':')};\r\n\tbh=${bodyHash}; b=`;
  // §3.7: the signed fields in order, each with CRLF, then this field with b= empty and no CRLF
  const input =
    signed.map((f) => relaxedHeader(f.name, f.value) + '\r\n').join('') + relaxedHeader('DKIM-Signature', tags);
  const data = Buffer.from(input, 'latin1');
  const sig =
    key.algorithm === 'rsa-sha256'
      ? await signOffLoop('sha256', data, key.privateKey)
      : await signOffLoop(null, createHash('sha256').update(data).digest(), key.privateKey); // RFC 8463 §3
  return `DKIM-Signature: ${tags}${foldBase64(sig.toString('base64'))}`;
}

/** crypto.sign on the thread pool. */
function signOffLoop(algorithm: string | null, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => cryptoSign(algorithm, data, key, (err, sig) => (err ? reject(err) : resolve(sig))));
}

/** Folds a long base64 value at 72 columns (folding whitespace is ignored in b=, §3.5). */
function foldBase64(b: string): string {
  const parts: string[] = [];
  for (let i = 0; i < b.length; i += 72) parts.push(b.slice(i, i + 72));
  return parts.join('\r\n\t ');
}
