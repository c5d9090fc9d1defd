/**
 * @module password
 * Password hashing for AUTH, POP3, IMAP and the web: scrypt from node:crypto, stored as
 * `$scrypt$N=16384,r=8,p=1$<salt>$<hash>` (salt and hash in unpadded base64).
 * Standards: RFC 7914 (scrypt); parameters after OWASP's password storage guidance.
 * Security: 16-octet random salt, 32-octet key, timing-safe comparison; parameters read from a
 *   stored hash are bounded so a tampered hash cannot make verification exhaust memory.
 * Limitations: no other schemes (crypt(3) MD5/SHA hashes from other systems are not verified).
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const defaultScryptParams: ScryptParams = { N: 16384, r: 8, p: 1 };

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const MAX_N = 2 ** 20;

function derive(password: string, salt: Buffer, params: ScryptParams, keyLength: number): Promise<Buffer> {
  const opts: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    // scrypt needs 128·N·r octets; leave headroom above Node's 32 MiB default when asked for more
    maxmem: Math.max(32 * 1024 * 1024, 256 * params.N * params.r),
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function b64(buf: Buffer): string {
  return buf.toString('base64').replace(/=+$/, '');
}

/** Hashes a password into the stored form `$scrypt$N=…,r=…,p=…$salt$hash`. */
export async function hashPassword(password: string, params: ScryptParams = defaultScryptParams): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt, params, KEY_LENGTH);
  return `$scrypt$N=${params.N},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/** Parses a stored hash; undefined when it is not one this module wrote (or is out of bounds). */
export function parsePasswordHash(encoded: string): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const m = /^\$scrypt\$N=(\d{1,8}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(encoded);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // N must be a power of two above 1 (RFC 7914 §2); bounds keep verification affordable.
  if (N < 2 || N > MAX_N || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  const salt = Buffer.from(m[4], 'base64');
  const key = Buffer.from(m[5], 'base64');
  if (salt.length < 8 || key.length < 16 || key.length > 64) return undefined;
  return { params: { N, r, p }, salt, key };
}

/** Checks a password against a stored hash; false for a wrong password or an unknown format. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.params, parsed.key.length);
  return timingSafeEqual(key, parsed.key);
}
