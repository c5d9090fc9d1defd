/**
 * @module queue-id-codec
 * Ids of util's uniqueId form as numbers (issue 19), for the compact sets of the scheduler
 * (parked-set.ts) and of the rescan (message-id-set.ts): a message id ("<10 time and 8 random
 * characters of base32>") is two doubles, the time part (50 bits) and the random part (40
 * bits); an envelope id adds the n of its "-<n>" as a 32-bit integer. The base32 order of the two
 * numbers is the ids' order, so an id made back into a string (messageIdOf) sorts as it did;
 * hashOf spreads the three numbers over an open-addressing table.
 * Standards: none (Crockford base32 in lower case, as util's uniqueId).
 * Security: an id of any other form is refused (encodeEnvelopeId false, base32Value -1): the
 *   caller keeps it as a string.
 * Limitations: encodeEnvelopeId writes into one shared object (`encoded`), which the caller
 *   reads at once: no allocation per call.
 */
import type { MessageId } from '../core/index.js';
import { uniqueIdAlphabet as alphabet } from '../util/index.js';

const digitOf = new Int8Array(128).fill(-1);
for (let i = 0; i < alphabet.length; i++) digitOf[alphabet.charCodeAt(i)] = i;
/** the alphabet's character codes */
const codes = Uint8Array.from(alphabet, (ch) => ch.charCodeAt(0));

/** one encoded id: written by encodeEnvelopeId() (no allocation per call) */
export const encoded = { hi: 0, lo: 0, n: 0 };

/** Encodes an envelope id of uniqueId's form into `encoded`; false for any other form. */
export function encodeEnvelopeId(id: string): boolean {
  const len = id.length;
  if (len < 20 || len > 25 || id.charCodeAt(18) !== 45 /* - */) return false;
  const hi = base32Value(id, 0, 10);
  const lo = base32Value(id, 10, 18);
  if (hi < 0 || lo < 0) return false;
  let n = 0;
  for (let i = 19; i < len; i++) {
    const d = id.charCodeAt(i) - 48;
    if (d < 0 || d > 9 || (i === 19 && d === 0)) return false;
    n = n * 10 + d;
  }
  encoded.hi = hi;
  encoded.lo = lo;
  encoded.n = n;
  return true;
}

/** The number characters [from, to) of `id` spell in base32; -1 when one is not of the alphabet. */
export function base32Value(id: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = id.charCodeAt(i);
    const d = c < 128 ? digitOf[c] : -1;
    if (d < 0) return -1;
    v = v * 32 + d;
  }
  return v;
}

/** The message id (18 characters) of an encoded envelope id: one flat string. */
export function messageIdOf(hi: number, lo: number): MessageId {
  // 25 and 20 bits at a time, so that the shifts work on 32-bit integers
  const h1 = Math.floor(hi / 2 ** 25);
  const h2 = hi - h1 * 2 ** 25;
  const l1 = Math.floor(lo / 2 ** 20);
  const l2 = lo - l1 * 2 ** 20;
  const c = codes;
  return String.fromCharCode(
    c[(h1 >>> 20) & 31], c[(h1 >>> 15) & 31], c[(h1 >>> 10) & 31], c[(h1 >>> 5) & 31], c[h1 & 31],
    c[(h2 >>> 20) & 31], c[(h2 >>> 15) & 31], c[(h2 >>> 10) & 31], c[(h2 >>> 5) & 31], c[h2 & 31],
    c[(l1 >>> 15) & 31], c[(l1 >>> 10) & 31], c[(l1 >>> 5) & 31], c[l1 & 31],
    c[(l2 >>> 15) & 31], c[(l2 >>> 10) & 31], c[(l2 >>> 5) & 31], c[l2 & 31],
  );
}

/** A hash of an encoded id's three numbers (for an open-addressing table's home slot). */
export function hashOf(hi: number, lo: number, n: number): number {
  let h = Math.imul((lo >>> 0) ^ Math.imul(n, 0x9e3779b1), 0x85ebca6b) ^ (hi >>> 0);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
