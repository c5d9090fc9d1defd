/**
 * @module dkim-copy
 * The DKIM keys in `correio migrate`. A move onto PostgreSQL copies the keys of data_dir/dkim
 * (DOMAIN/SELECTOR.pem) into the table dkim_keys (directory/pg-dkim-keys.ts), where every node
 * finds them; the export back to files writes PostgreSQL's active keys, and any key file of
 * this node's data_dir, into the new data directory.
 * Both are resumable and verified: a key already at the target with the same content is
 * skipped, one with another content stops the copy with what to do.
 * Standards: none (RFC 6376 keys are only copied; their content is compared as keys, so a
 *   PKCS#1 file and its PKCS#8 row are the same key).
 * Security: a written key file is 0600 in 0700 folders (as `correio dkim keygen` makes them);
 *   nothing existing is overwritten, file or row; private keys are never printed, only
 *   DOMAIN/SELECTOR.
 * Limitations: only keys `loadDkimKeys` accepts are copied from files (what a node would sign
 *   with); an inactive key in PostgreSQL is not exported (files have no such state).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { PgDkimKeys } from '../directory/index.js';
import { dkimKeyDir, loadDkimKeys, signingKeyOf, type SigningKey } from '../policy/index.js';
import { MigrationCheckError } from './storage-copy.js';

/** The same private key (compared as PKCS#8 DER, whatever the PEM it came from). */
function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ format: 'der', type: 'pkcs8' }).equals(b.export({ format: 'der', type: 'pkcs8' }));
}

const pemOf = (k: SigningKey): string => k.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

/** Copies every signing key of `dataDir` into PostgreSQL at `url`, verified; DOMAIN/SELECTOR of each, and how many were new. */
export async function copyDkimKeysToPostgres(dataDir: string, url: string): Promise<{ keys: string[]; copied: number }> {
  const files = [...loadDkimKeys(dataDir).keys.values()].flat();
  if (files.length === 0) return { keys: [], copied: 0 };
  const table = await PgDkimKeys.open(url);
  try {
    let copied = 0;
    for (const k of files) {
      if (await table.add({ domain: k.domain, selector: k.selector, algorithm: k.algorithm, privateKey: pemOf(k), active: true })) copied++;
    }
    const rows = new Map((await table.list()).map((r) => [`${r.domain}/${r.selector}`, r]));
    for (const k of files) {
      const name = `${k.domain}/${k.selector}`;
      const row = rows.get(name);
      if (!row || !sameKey(signingKeyOf(row.domain, row.selector, row.privateKey).privateKey, k.privateKey)) {
        throw new MigrationCheckError(`dkim: ${name} in PostgreSQL is another key than ${join(dkimKeyDir(dataDir), k.domain, `${k.selector}.pem`)}; keep one (a selector names one key), then run again`);
      }
    }
    return { keys: files.map((k) => `${k.domain}/${k.selector}`).sort(), copied };
  } finally {
    await table.close();
  }
}

/** Writes one key into `root`/DOMAIN/SELECTOR.pem unless the same key is there; true when written. */
async function writeKeyFile(root: string, k: SigningKey): Promise<boolean> {
  const dir = join(root, k.domain);
  const to = join(dir, `${k.selector}.pem`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  await chmod(dir, 0o700);
  const have = await readFile(to).catch(() => undefined);
  let wrote = false;
  if (have === undefined) {
    await writeFile(to, pemOf(k), { mode: 0o600, flag: 'wx' });
    wrote = true;
  }
  let back: SigningKey | undefined;
  try {
    back = signingKeyOf(k.domain, k.selector, await readFile(to));
  } catch {
    back = undefined;
  }
  if (!back || !sameKey(back.privateKey, k.privateKey)) throw new MigrationCheckError(`dkim: ${to} exists with another key; move it away or remove it, then run again`);
  return wrote;
}

/**
 * The keys of a PostgreSQL site into the files data directory `toDataDir`: PostgreSQL's active
 * keys (at `url`) and this node's own key files, verified key for key.
 */
export async function exportDkimKeys(url: string, fromDataDir: string, toDataDir: string): Promise<{ keys: string[]; copied: number }> {
  const table = await PgDkimKeys.open(url);
  const keys = new Map<string, SigningKey>();
  try {
    for (const r of await table.list()) if (r.active) keys.set(`${r.domain}/${r.selector}`, signingKeyOf(r.domain, r.selector, r.privateKey));
  } finally {
    await table.close();
  }
  for (const k of [...loadDkimKeys(fromDataDir).keys.values()].flat()) {
    const name = `${k.domain}/${k.selector}`;
    const other = keys.get(name);
    if (other && !sameKey(other.privateKey, k.privateKey)) {
      throw new MigrationCheckError(`dkim: ${name} in PostgreSQL is another key than ${join(dkimKeyDir(fromDataDir), k.domain, `${k.selector}.pem`)}; keep one, then run again`);
    }
    keys.set(name, k);
  }
  let copied = 0;
  for (const k of keys.values()) if (await writeKeyFile(dkimKeyDir(toDataDir), k)) copied++;
  return { keys: [...keys.keys()].sort(), copied };
}
