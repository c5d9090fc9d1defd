/**
 * @module local-verify
 * Whether addresses are deliverable, for a local user who may not read the spool or the
 * directory (`sendmail -bv`, and RCPT in `sendmail -bs` through the maildrop): the running
 * server answers on public.sock; with the server down, the directory is read here, read-only
 * (a private copy: directory/openDirectorySnapshot), when this user may read it (a PostgreSQL
 * directory whose url the configuration gives, or a directory file the administrator made
 * readable); otherwise the answer is unavailable, with the reason.
 * Standards: RFC 5321 §3.5.1 (VRFY-like answers: deliverable or the refusal, not where aliases
 *   lead).
 * Security: the local user learns deliverable or not and the refusal, as from the server;
 *   nothing is written (no migration, no data directory made).
 * Limitations: the copy is read whole for each command (fine for a site's directory; a
 *   directory of millions of entries is slow to verify offline).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import type { Config } from '../../config/index.js';
import { askPublic, makeResolver, publicSocketPath, verifyAddresses, type Verdict } from '../../app/index.js';
import { directoryFile, openDirectorySnapshot } from '../../directory/index.js';
import { isPostgresUrl } from '../../util/pg-database.js';
import { CliError, exitCodes } from '../cli-context.js';

export type LocalVerdicts = { readonly verdicts: Verdict[]; readonly from: 'server' | 'directory' } | { readonly unavailable: string };

/** Why this user cannot read the directory, or undefined when it may try. */
function unreadable(config: Config): string | undefined {
  if (isPostgresUrl(config.storage.url)) return undefined;
  const file = directoryFile(config);
  if (!existsSync(file)) return `there is no directory ${file} yet`;
  try {
    accessSync(file, constants.R_OK);
    return undefined;
  } catch {
    return `the directory ${file} is readable by its owner only`;
  }
}

/** The server's verdicts, else the directory's read here, else why neither can answer. */
export async function verifyLocally(config: Config, addresses: readonly string[]): Promise<LocalVerdicts> {
  const r = await askPublic(config, { op: 'verify', addresses: [...addresses] });
  if (r !== undefined) {
    if (!r.ok || r.verdicts === undefined) throw new CliError(`the server did not verify: ${r.error ?? 'no answer'}`, exitCodes.tempFail);
    return { verdicts: r.verdicts, from: 'server' };
  }
  const down = `no correio serve answers on ${publicSocketPath(config)}`;
  const why = unreadable(config);
  if (why !== undefined) return { unavailable: `${down} and ${why}` };
  let snapshot;
  try {
    snapshot = await openDirectorySnapshot(config);
  } catch (err) {
    return { unavailable: `${down} and the directory cannot be read (${err instanceof Error ? err.message : String(err)})` };
  }
  try {
    // a PostgreSQL schema behind this correio: the copy is empty, its answers would be wrong
    if (snapshot.notes.length > 0) return { unavailable: `${down} and ${snapshot.notes[0].message}` };
    const { resolver } = await makeResolver(snapshot.directory, config);
    return { verdicts: await verifyAddresses(resolver, addresses), from: 'directory' };
  } finally {
    await snapshot.directory.close();
  }
}
