/**
 * @module find-dangling
 * Targets that lead nowhere, for `correio check` (the resolver stops at them at run time; this
 * shows the operator where they are): alias targets, role holders and list owners in a local
 * domain that name no user, alias, role or list (and no catch-all takes them), bad target
 * syntax, list members that are not addresses (list-member's rule), include files that cannot
 * be read, and include files too unsafe for the file and pipe targets they hold.
 * Standards: seed §2.1 (aliases that point nowhere).
 * Security: reads the directory, the aliases file and include files only.
 * Limitations: targets in other sites are not checked.
 */
import type { Address, Alias, DirectoryAdmin, DirectoryLookup } from '../core/index.js';
import { aliasOrigin, includeOrigin, type IncludeFile, type TargetPolicy } from './include-policy.js';
import { parseListMember } from './list-member.js';
import { lookupForm, type NameLookup } from './name-lookup.js';
import { parseTargetString, splitIncludeText } from './target-syntax.js';

export interface DanglingTarget {
  /** the alias, role or list that names the target */
  readonly name: string;
  readonly target: string;
  readonly reason: string;
}

export interface DanglingInput {
  readonly directory: DirectoryLookup;
  /** what to walk (the admin face's listing) */
  readonly listing: Pick<DirectoryAdmin, 'listAliases' | 'listRoles' | 'listLists'>;
  readonly fileAliases: ReadonlyMap<string, Alias>;
  readonly names: NameLookup;
  readonly readInclude: (path: string) => Promise<IncludeFile>;
  readonly policy: TargetPolicy;
}

export async function findDangling(input: DanglingInput): Promise<DanglingTarget[]> {
  const { directory, listing, names } = input;
  const out: DanglingTarget[] = [];
  const domains = (await directory.listDomains()).map((d) => d.toLowerCase());
  const check = async (name: string, target: string, domainsOfName: readonly string[]): Promise<void> => {
    const t = parseTargetString(target);
    if (t.kind === 'bad') {
      out.push({ name, target, reason: t.message });
      return;
    }
    if (t.kind === 'include') {
      let file: IncludeFile;
      try {
        file = await input.readInclude(t.path);
      } catch (err) {
        out.push({ name, target, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
        return;
      }
      // issue 12 item 4: say so before mail is refused
      const origin = includeOrigin(t.path, file, aliasOrigin, input.policy);
      const drives = splitIncludeText(file.text).some((x) => ['pipe', 'file'].includes(parseTargetString(x).kind));
      if ('unsafe' in origin && drives) out.push({ name, target, reason: `${origin.unsafe}: its file and pipe targets are refused` });
      return;
    }
    const addrs: Address[] =
      t.kind === 'address' ? [t.address] : t.kind === 'local' || t.kind === 'mailbox-only' ? domainsOfName.map((d) => ({ local: t.local, domain: d })) : [];
    for (const a of addrs) {
      const domain = a.domain.toLowerCase();
      if (!(await directory.isLocalDomain(domain))) continue;
      const local = lookupForm(a.local);
      const found = t.kind === 'mailbox-only' ? await directory.findUser({ local, domain }) : await names.lookup(local, domain);
      if (!found) out.push({ name, target, reason: `no such user or alias: ${local}@${domain}` });
    }
  };
  const domainOf = (name: string): string[] => (name.includes('@') ? [name.slice(name.lastIndexOf('@') + 1)] : domains);
  for (const a of await listing.listAliases()) for (const t of a.targets) await check(a.name, t, domainOf(a.name));
  for (const a of input.fileAliases.values()) for (const t of a.targets) await check(a.name, t, domainOf(a.name));
  for (const r of await listing.listRoles()) await check(r.address, r.holder, domainOf(r.address));
  for (const l of await listing.listLists()) {
    await check(l.address, l.owner, domainOf(l.address));
    for (const m of l.members) {
      const member = parseListMember(m);
      if (member.ok) await check(l.address, m, domainOf(l.address));
      else out.push({ name: l.address, target: m, reason: `not a list member: ${member.reason}` });
    }
  }
  return out;
}
