/**
 * @module name-checks
 * `correio check`'s findings about names: the aliases file's syntax (file:line), the role
 * mailboxes every domain must have (postmaster; abuse when the site has one anywhere) and
 * aliases, roles or lists that take a user's name so that the user's mailbox never gets mail,
 * and aliases, lists and roles in domains that are not in `local_domains` (never used).
 * Each is answered by the server's own resolver (configured-resolver), so what check says is
 * what delivery does.
 * Standards: RFC 5321 §4.5.1 (postmaster must be accepted and delivered); RFC 2142 §4 (abuse);
 *   seed §2.1 (an alias that shadows a mailbox); aliases(5).
 * Security: read-only.
 * Limitations: abuse is checked only when some local domain has an abuse name already.
 */
import type { Alias, DirectoryLookup } from '../core/index.js';
import type { ExpansionNode } from '../resolve/index.js';
import type { Check, CheckFinding } from './check-types.js';
import { ConfiguredAliases, configuredResolver } from './configured-resolver.js';

/** Where an alias is written: "aliases file /etc/aliases:12" or "the directory". */
function whereDefined(name: string, source: string | undefined, aliases: ReadonlyMap<string, Alias>): string {
  if (source === undefined || source === 'directory') return 'the directory';
  const line = aliases.get(name.toLowerCase())?.line;
  return line !== undefined ? `${source}:${line}` : source;
}

/** The path from the root to the first refused leaf: ["postmaster@a (alias, /etc/aliases:3)", "root@a"] and its reply. */
function firstRefusal(node: ExpansionNode, aliases: ReadonlyMap<string, Alias>, path: string[] = []): { path: string[]; reply: string } | undefined {
  const here = node.kind === 'alias' || node.kind === 'catch-all' ? `${node.name} (${node.kind}, ${whereDefined(node.name, node.source, aliases)})` : node.name;
  if (node.kind === 'error') return { path: [...path, here], reply: node.reply ?? '' };
  if (node.kind === 'loop') return { path: [...path, here], reply: 'a loop with no mailbox' };
  for (const c of node.children) {
    const r = firstRefusal(c, aliases, [...path, here]);
    if (r) return r;
  }
  return undefined;
}

/** Syntax errors of the aliases file, each at its file:line (the server skips those lines). */
export const checkAliasesFileSyntax: Check = async ({ config }) => {
  if (config.aliasesFile === undefined) return [];
  const aliases = new ConfiguredAliases(config);
  const problems = await aliases.load();
  // an unreadable file is checkConfiguredFiles' finding
  if (problems.length === 1 && !/^[^:]+:\d+: /.test(problems[0])) return [];
  return problems.map((p) => ({ level: 'error', message: `${p} (the server skips this line)` }));
};

async function loadedAliases(config: Parameters<Check>[0]['config']): Promise<ConfiguredAliases> {
  const aliases = new ConfiguredAliases(config);
  await aliases.load();
  return aliases;
}

/** Whether `local` names anything (alias, role, list, user) in any local domain. */
async function namedAnywhere(directory: DirectoryLookup, aliases: ReadonlyMap<string, Alias>, domains: readonly string[], local: string): Promise<boolean> {
  for (const d of domains) {
    const name = `${local}@${d}`;
    if (aliases.has(name) || (await directory.findAlias(name)) || (await directory.findRole(name)) || (await directory.findList(name))) return true;
    if (await directory.findUser({ local, domain: d })) return true;
  }
  return false;
}

/**
 * RFC 5321 §4.5.1: postmaster@ every local domain must reach a mailbox (Debian's
 * `postmaster: root` without a root mailbox refuses it); the same for abuse (RFC 2142) once the
 * site has an abuse name in some domain.
 */
export const checkRoleMailboxes: Check = async ({ config, directory }) => {
  const aliases = await loadedAliases(config);
  const resolver = configuredResolver(config, directory, aliases);
  const names = ['postmaster'];
  if (await namedAnywhere(directory, aliases.map(), config.localDomains, 'abuse')) names.push('abuse');
  const out: CheckFinding[] = [];
  for (const local of names) {
    const rule = local === 'postmaster' ? 'RFC 5321 §4.5.1 requires it' : 'RFC 2142: abuse is expected in every domain of the site';
    for (const domain of config.localDomains) {
      const { tree } = await resolver.explain(`${local}@${domain}`);
      const refused = firstRefusal(tree, aliases.map());
      if (refused === undefined) continue;
      out.push({
        level: 'error',
        message: `${local}@${domain} is not deliverable: ${refused.path.join(' -> ')}: ${refused.reply} (${rule}): make ${refused.path[refused.path.length - 1]} a mailbox (correio user add) or point the alias at one`,
      });
    }
  }
  return out;
};

/**
 * Seed §2.1: an alias (or role, or list) with a user's name takes that user's mail, so the
 * mailbox never gets any unless the alias names it too (`jacques: jacques, …`).
 */
export const checkShadowedMailboxes: Check = async ({ config, directory }) => {
  const aliases = await loadedAliases(config);
  const resolver = configuredResolver(config, directory, aliases);
  const out: CheckFinding[] = [];
  for (const user of await directory.listUsers()) {
    // correio makes postmaster@<first domain> itself; an alias is the way to send its mail elsewhere
    if (/^postmaster@/i.test(user.address)) continue;
    const { tree, targets } = await resolver.explain(user.address);
    if (tree.kind === 'mailbox') continue;
    if (targets.some((t) => t.kind === 'mailbox' && t.user.toLowerCase() === user.address.toLowerCase())) continue;
    const what = tree.kind === 'alias' ? `alias ${tree.name} (${whereDefined(tree.name, tree.source, aliases.map())})` : `${tree.kind} ${tree.name}`;
    out.push({
      level: 'error',
      message: `${what} shadows the mailbox ${user.address}: its mail never reaches the mailbox (name the user among the targets to keep a copy, or delete one of them)`,
    });
  }
  return out;
};

/** The domain of an entry's name (local@domain, or @domain for a catch-all), lower-cased. */
function domainOf(name: string): string {
  return name.slice(name.lastIndexOf('@') + 1).toLowerCase();
}

/**
 * Aliases (directory and aliases file), lists and roles whose domain is not in local_domains:
 * mail for such an address is relayed or refused as for any other domain, so the entry is
 * never used (typically left behind when a domain was removed from local_domains).
 */
export const checkForeignDomains: Check = async ({ config, directory }) => {
  const local = new Set(config.localDomains.map((d) => d.toLowerCase()));
  const aliases = await loadedAliases(config);
  const entries: [string, string, string][] = [];
  for (const a of await directory.listAliases()) entries.push(['alias', a.name, whereDefined(a.name, a.source, aliases.map())]);
  for (const a of aliases.map().values()) entries.push(['alias', a.name, whereDefined(a.name, a.source, aliases.map())]);
  for (const l of await directory.listLists()) entries.push(['list', l.address, 'the directory']);
  for (const r of await directory.listRoles()) entries.push(['role', r.address, 'the directory']);
  const out: CheckFinding[] = [];
  const seen = new Set<string>();
  for (const [kind, name, where] of entries) {
    const domain = domainOf(name);
    if (!name.includes('@') || local.has(domain) || seen.has(`${kind} ${name.toLowerCase()}`)) continue;
    seen.add(`${kind} ${name.toLowerCase()}`);
    const fix = where === 'the directory' ? `correio ${kind} delete ${name}` : `remove it from ${where}`;
    out.push({ level: 'error', message: `${kind} ${name} (${where}): ${domain} is not in local_domains, so mail to it never reaches this ${kind}: add ${domain} to local_domains or ${fix}` });
  }
  return out;
};
