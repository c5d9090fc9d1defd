/**
 * @module dkim-copy
 * The DKIM keys in `correio migrate`: they are files under each node's `data_dir/dkim`
 * (DOMAIN/SELECTOR.pem), not rows of the database, so a move onto PostgreSQL names them (every
 * node needs the same keys in its own data_dir, or its mail goes out unsigned or signed with a
 * key whose record is not published), and the export back to files copies them into the new
 * data directory.
 * Standards: none (RFC 6376 keys are only copied, never read for their content here).
 * Security: a copied key keeps mode 0600 in 0700 folders (as `correio dkim keygen` makes them);
 *   an existing different file at the target is never overwritten (the copy is refused);
 *   private keys are never printed, only DOMAIN/SELECTOR.
 * Limitations: only keys `loadDkimKeys` accepts are named and copied (what a node would sign
 *   with); other files under dkim/ are left.
 */
import { chmod, copyFile, mkdir, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { dkimKeyDir, loadDkimKeys } from '../policy/index.js';
import { MigrationCheckError } from './storage-copy.js';

/** The signing keys under `dataDir` as "DOMAIN/SELECTOR", sorted. */
export function dkimKeyNames(dataDir: string): string[] {
  return [...loadDkimKeys(dataDir).keys.values()].flatMap((ks) => ks.map((k) => `${k.domain}/${k.selector}`)).sort();
}

/** Copies every signing key of `fromDataDir` into `toDataDir`, verified byte for byte; a key already there with the same content is skipped. */
export async function copyDkimKeys(fromDataDir: string, toDataDir: string): Promise<{ keys: string[]; copied: number }> {
  const keys = dkimKeyNames(fromDataDir);
  let copied = 0;
  const root = dkimKeyDir(toDataDir);
  for (const name of keys) {
    const [domain, selector] = name.split('/');
    const from = join(dkimKeyDir(fromDataDir), domain, `${selector}.pem`);
    const to = join(root, domain, `${selector}.pem`);
    await mkdir(join(root, domain), { recursive: true, mode: 0o700 });
    await chmod(root, 0o700);
    await chmod(join(root, domain), 0o700);
    const want = await readFile(from);
    const have = await readFile(to).catch(() => undefined);
    if (have === undefined) {
      await copyFile(from, to, constants.COPYFILE_EXCL);
      await chmod(to, 0o600);
      copied++;
    } else if (!have.equals(want)) {
      throw new MigrationCheckError(`dkim: ${to} exists with another key; move it away or remove it, then run again`);
    }
    if (!(await readFile(to)).equals(want)) throw new MigrationCheckError(`dkim copy does not verify: ${to}`);
  }
  return { keys, copied };
}
