/**
 * @module dkim-keys
 * The DKIM keys under the data directory (`data_dir/dkim/DOMAIN/SELECTOR.pem`, PKCS#8 PEM,
 * mode 0600 in a 0700 folder): generating one, loading them all, and the TXT record each needs.
 * Standards: RFC 6376 §3.6.1 (the key record: v=DKIM1, k=, p=), §3.6.2.1 (its name:
 *   SELECTOR._domainkey.DOMAIN); RFC 8463 §4.2 (an Ed25519 p= is the raw 32-octet public key);
 *   RFC 8301 §3.2 (RSA keys of 2048 bits here).
 * Security: keys are written with O_EXCL and 0600 (never over an existing key); a domain or
 *   selector that is not a plain DNS label sequence is refused before it names a file.
 * Limitations: a key file whose type is neither RSA nor Ed25519 is skipped (reported).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SigningKey } from './dkim-sign.js';

export type KeyAlgorithm = 'ed25519' | 'rsa-2048';

const LABELS = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Whether `name` may be a DKIM domain or selector here (lower-case LDH labels). */
export function isKeyName(name: string): boolean {
  return LABELS.test(name);
}

export function dkimKeyDir(dataDir: string): string {
  return join(dataDir, 'dkim');
}

/** RFC 6376 §3.6.2.1: where the public key is published. */
export function keyRecordName(domain: string, selector: string): string {
  return `${selector}._domainkey.${domain}`;
}

/** RFC 6376 §3.6.1, RFC 8463 §4.2: the TXT value for a private key. */
export function keyRecordValue(privateKey: KeyObject): string {
  const pub = createPublicKey(privateKey);
  if (privateKey.asymmetricKeyType === 'ed25519') {
    // the SPKI of an Ed25519 key is a 12-octet prefix and the 32-octet key
    const raw = pub.export({ format: 'der', type: 'spki' }).subarray(-32);
    return `v=DKIM1; k=ed25519; p=${raw.toString('base64')}`;
  }
  return `v=DKIM1; k=rsa; p=${pub.export({ format: 'der', type: 'spki' }).toString('base64')}`;
}

/** DOMAIN and SELECTOR as keys are named (lower case, no final dot); an Error names a bad one. */
export function checkedKeyNames(domain: string, selector: string): { domain: string; selector: string } {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const s = selector.toLowerCase();
  if (!isKeyName(d)) throw new Error(`not a domain name: ${domain}`);
  if (!isKeyName(s)) throw new Error(`not a selector (letters, digits, hyphens, dots): ${selector}`);
  return { domain: d, selector: s };
}

/** A new private key (PKCS#8 PEM) and the TXT value publishing its public half. */
export function newDkimKeyPem(algorithm: KeyAlgorithm): { pem: string; value: string } {
  const pair = algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { pem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, value: keyRecordValue(pair.privateKey) };
}

/**
 * Makes a key for DOMAIN/SELECTOR and returns its file and TXT record. Throws an Error with a
 * readable message when the names are bad or the key exists already.
 */
export function generateDkimKey(dataDir: string, domain: string, selector: string, algorithm: KeyAlgorithm): { file: string; name: string; value: string } {
  const { domain: d, selector: s } = checkedKeyNames(domain, selector);
  const dir = join(dkimKeyDir(dataDir), d);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${s}.pem`);
  const { pem, value } = newDkimKeyPem(algorithm);
  try {
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`a key for selector ${s} of ${d} exists already: ${file}`);
    throw err;
  }
  return { file, name: keyRecordName(d, s), value };
}

/** A signing key from its PEM (PKCS#8 or PKCS#1); an Error when it is unreadable or neither RSA nor Ed25519. */
export function signingKeyOf(domain: string, selector: string, pem: string | Buffer): SigningKey {
  const privateKey = createPrivateKey(pem);
  const type = privateKey.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ed25519') throw new Error(`key type ${type ?? '?'} is neither RSA nor Ed25519`);
  return { domain, selector, algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256', privateKey };
}

/** Every key under the data directory, by lower-case domain; `problems` names unreadable files. */
export function loadDkimKeys(dataDir: string): { keys: Map<string, SigningKey[]>; problems: string[] } {
  const keys = new Map<string, SigningKey[]>();
  const problems: string[] = [];
  const root = dkimKeyDir(dataDir);
  let domains: string[];
  try {
    domains = readdirSync(root);
  } catch {
    return { keys, problems };
  }
  for (const domain of domains.sort()) {
    if (!isKeyName(domain)) continue;
    let files: string[];
    try {
      files = readdirSync(join(root, domain));
    } catch {
      continue;
    }
    for (const f of files.sort()) {
      const m = /^(.+)\.pem$/.exec(f);
      if (!m || !isKeyName(m[1])) continue;
      try {
        const key = signingKeyOf(domain, m[1], readFileSync(join(root, domain, f)));
        keys.set(domain, [...(keys.get(domain) ?? []), key]);
      } catch (err) {
        problems.push(`${join(root, domain, f)}: ${(err as Error).message}`);
      }
    }
  }
  return { keys, problems };
}
