/**
 * @module config-check
 * The checks of `correio check` and the admin API's config check: the configuration and the
 * directory, validated before a start or on demand. Each check is a function in `checks`:
 * here the directory's integrity, readable files, domains, alias cycles and dangling targets;
 * names (aliases file syntax, postmaster and abuse, shadowed mailboxes) in name-checks.ts,
 * listen addresses in listener-checks.ts, the certificate in tls-checks.ts, DKIM keys in
 * dkim-checks.ts, the data directory's permissions in data-dir-checks.ts.
 * Standards: none.
 * Security: no side effects: the caller gives a directory snapshot (directory/
 *   openDirectorySnapshot), files are only read, listen ports bound for an instant.
 * Limitations: see each check.
 */
import { access, constants } from 'node:fs/promises';
import { findCycles } from '../resolve/index.js';
import type { Check, CheckFinding, CheckInput } from './check-types.js';
import { makeResolver } from './configured-resolver.js';
import { checkDataDirWritable } from './data-dir-checks.js';
import { checkDkimKeys } from './dkim-checks.js';
import { checkListenSession } from './storage-checks.js';
import { checkListeners } from './listener-checks.js';
import { checkAliasesFileSyntax, checkForeignDomains, checkRoleMailboxes, checkShadowedMailboxes } from './name-checks.js';
import { checkTlsCertificate } from './tls-checks.js';

export type { Check, CheckFinding, CheckInput } from './check-types.js';

async function readable(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** The storage's own integrity check. */
export const checkDirectoryIntegrity: Check = async ({ directory }) =>
  (await directory.checkIntegrity()).map((p) => ({ level: 'error', message: `directory: ${p}` }));

/** Files the configuration names must be readable. */
export const checkConfiguredFiles: Check = async ({ config }) => {
  const out: CheckFinding[] = [];
  const files: [string, string | undefined][] = [
    ['aliases_file', config.aliasesFile],
    ['smtp.tls_cert', config.smtp.tlsCert],
    ['smtp.tls_key', config.smtp.tlsKey],
  ];
  for (const [key, path] of files) {
    if (path !== undefined && !(await readable(path))) out.push({ level: 'error', message: `${key}: cannot read ${path}` });
  }
  return out;
};

/** Domains the directory knows but the configuration no longer lists. */
export const checkDomains: Check = async ({ config, directory }) => {
  const configured = new Set(config.localDomains);
  return (await directory.listDomains())
    .filter((d) => !configured.has(d))
    .map((d) => ({ level: 'warning', message: `directory domain ${d} is not in local_domains` }));
};

/** Users whose domain is not local: mail for them would never arrive. */
export const checkUserDomains: Check = async ({ directory }) => {
  const local = new Set(await directory.listDomains());
  return (await directory.listUsers())
    .filter((u) => !local.has(u.address.slice(u.address.lastIndexOf('@') + 1)))
    .map((u) => ({ level: 'error', message: `user ${u.address}: domain is not local` }));
};

/** `correio check`: alias/role cycles (error when no mailbox stops them) and dangling targets. */
export const checkAliases: Check = async ({ config, directory }) => {
  const { resolver, file } = await makeResolver(directory, config);
  const out: CheckFinding[] = [];
  for (const c of await findCycles(directory, file)) {
    const path = [...c.names, c.names[0]].join(' -> ');
    if (c.mailboxes.length === 0) out.push({ level: 'error', message: `alias cycle ${path}: mail to it is refused (5.4.6 mail loop)` });
    else out.push({ level: 'warning', message: `alias cycle ${path}: stops at mailbox ${c.mailboxes.join(', ')}` });
  }
  for (const d of await resolver.findDangling(directory)) {
    out.push({ level: 'warning', message: `${d.name}: target ${d.target} leads nowhere (${d.reason})` });
  }
  return out;
};

/** Every check `correio check` runs, in order. Add new checks here. */
export const checks: readonly Check[] = [
  checkDirectoryIntegrity, checkConfiguredFiles, checkAliasesFileSyntax, checkDomains, checkUserDomains, checkAliases,
  checkRoleMailboxes, checkShadowedMailboxes, checkForeignDomains, checkListeners, checkTlsCertificate, checkDkimKeys, checkDataDirWritable,
  checkListenSession,
];

/** Runs every check in order. */
export async function runChecks(input: CheckInput): Promise<CheckFinding[]> {
  const out: CheckFinding[] = [];
  for (const check of checks) out.push(...(await check(input)));
  return out;
}
