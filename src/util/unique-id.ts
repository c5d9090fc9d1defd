/**
 * @module unique-id
 * Ids for queue messages: sortable by creation time, safe in file names, unique across processes.
 * Form: 10 characters of milliseconds since the epoch then 8 random characters, in lower-case
 * Crockford base32 (no i, l, o, u): e.g. "01j9z3k7qp4hx2m8ra".
 * Standards: none. Security: 40 random bits from crypto's CSPRNG (filled 512 ids at a time) (not guessable in practice).
 * Limitations: ids made in the same millisecond sort by their random part, not by call order.
 */
import { randomFillSync } from 'node:crypto';

/** the ids' characters (Crockford base32, lower case), in ascending character order */
export const uniqueIdAlphabet = '0123456789abcdefghjkmnpqrstvwxyz';
const timeChars = 10;
const randomChars = 8;
// randomBytes per id was a synchronous crypto job per accepted message; one fill serves 512 ids
const pool = Buffer.alloc(randomChars * 512);
let poolOffset = pool.length;

/** The time part of the ids made at `ms` (ms since epoch): every id made then or later sorts after it, every earlier one before. */
export function uniqueIdTimePrefix(ms: number): string {
  let t = Math.max(0, Math.floor(ms));
  let time = '';
  for (let i = 0; i < timeChars; i++) {
    time = uniqueIdAlphabet[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time;
}

/** A new id, e.g. for a queue message. `now` is ms since epoch (injectable for tests). */
export function uniqueId(now: number = Date.now()): string {
  const time = uniqueIdTimePrefix(now);
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  let rnd = '';
  for (let i = 0; i < randomChars; i++) rnd += uniqueIdAlphabet[pool[poolOffset + i] & 31];
  poolOffset += randomChars;
  return time + rnd;
}

/** Whether `s` has the form uniqueId() produces. */
export function isUniqueId(s: string): boolean {
  return /^[0-9a-hjkmnp-tv-z]{18}$/.test(s);
}
