/**
 * @module alias-resolver
 * Expands one recipient into typed targets (seed §2.1 and figure 2): aliases (directory and
 * aliases file), roles (followed to their current holder at once), mailing lists (a 'list'
 * target: the list transport re-injects the copy for the members), `:include:` files, pipes,
 * files, `error:` refusals, catch-all `@domain`, `user+detail`, postmaster; and decides for each
 * leaf whether it is a local mailbox (incoming queue) or a remote next hop (outgoing queue).
 * The targets found and the tree shown are collected by expansion-walk.ts.
 * Standards: RFC 5321 §3.9 (aliases and lists: an alias to remote addresses is accepted),
 *   §4.5.1 (postmaster, with or without domain, always accepted), §3.6.1 and appendix C
 *   (source routes are ignored; `%` and `!` paths are never relayed), RFC 5233 (subaddress),
 *   RFC 3463 (X.4.6 routing loop, X.2.4 list expansion problem).
 * Security: expansion is bounded (maxDepth, maxTargets); a cycle never expands endlessly: a
 *   name already on the current path means that name's own mailbox (the sendmail rule) or,
 *   with no such mailbox, nothing; a recipient whose whole expansion is a loop gets 554 5.4.6.
 *   Relay rights are not judged here but by the SMTP policy (policy/ relay-control, at RCPT);
 *   local parts holding "@", "%" or "!" are never re-read as routes (no relay through
 *   `user%other@here`, `"user@other"@here`, `other!user@here`). Pipe and file targets come
 *   only from the operator's aliases and from safe `:include:` files, as include-policy
 *   decides (issue 12 item 4); list members are addresses only (list-member). Directory
 *   failures (MailError 4xx) propagate.
 * Limitations: a `+detail` is kept only when the address resolves straight to a mailbox (it is
 *   not propagated into alias targets); no domain rewriting in catch-all targets (`@a: @b`);
 *   routes match the exact domain only.
 */
import { isPostmaster, parseMailbox } from '../address/index.js';
import {
  addressToString,
  formatReply,
  MailError,
  replies,
  type Address,
  type Route,
  type TargetBody,
  type Alias,
  type DirectoryAdmin,
  type DirectoryLookup,
  type MailingList,
  type ResolvedRecipient,
  type Resolver,
  type SmtpReply,
  type Trace,
  type User,
} from '../core/index.js';
import { findDangling, type DanglingTarget } from './find-dangling.js';
import { addTarget, noChildren, walkTargets, type ExpansionNode, type Explanation, type Walk } from './expansion-walk.js';
import { isRouteLike, lookupForm, NameLookup } from './name-lookup.js';
import { parseDirectoryTarget, parseListMember, type ListMember } from './list-member.js';
import {
  aliasOrigin,
  defaultTargetPolicy,
  describeOrigin,
  includeOrigin,
  judgeTarget,
  readIncludeFile,
  type IncludeFile,
  type TargetOrigin,
  type TargetPolicy,
} from './include-policy.js';
import { parseTargetString, splitIncludeText } from './target-syntax.js';

export type { ExpansionKind, ExpansionNode, Explanation } from './expansion-walk.js';

export interface AliasResolverOptions {
  /** lookups only: expansion is on the delivery path */
  readonly directory: DirectoryLookup;
  /** the aliases file now in force, keyed by lower-case name (bare names apply to every local domain) */
  readonly aliasesFromFile?: () => ReadonlyMap<string, Alias>;
  /** nested expansions allowed before "mail loop detected" (default 20) */
  readonly maxDepth?: number;
  /** targets one recipient may expand to (default 1000); more → 550 5.2.4 */
  readonly maxTargets?: number;
  /** sub-address separator (default "+"; "" turns sub-addressing off) */
  readonly recipientDelimiter?: string;
  /** static routes by destination domain, e.g. { "example.net": {transport: "smtp", nextHop: "[127.0.0.1]:2526"} } */
  readonly routes?: Readonly<Record<string, Route>>;
  /** reads an `:include:` file with its owner and mode (default: readIncludeFile) */
  readonly readInclude?: (path: string) => Promise<IncludeFile>;
  /** which file and pipe targets are allowed and as whom they run (default: defaultTargetPolicy()) */
  readonly targetPolicy?: Partial<TargetPolicy>;
}

/** Parses "user@domain" or "postmaster" for explain(); throws MailError 501 5.1.3 on bad syntax. */
export function parseRecipientArgument(s: string): Address {
  const t = s.trim().replace(/^<(.*)>$/, '$1');
  if (/^postmaster$/i.test(t)) return { local: 'postmaster', domain: '' };
  try {
    return parseMailbox(t, { smtpUtf8: true });
  } catch {
    throw new MailError(replies.badRecipientSyntax(), 'MAIL_ERR_RECIPIENT_SYNTAX');
  }
}

export class AliasResolver implements Resolver {
  private readonly directory: DirectoryLookup;
  private readonly fileAliases: () => ReadonlyMap<string, Alias>;
  private readonly maxDepth: number;
  private readonly maxTargets: number;
  private readonly delimiter: string;
  private readonly routes: Readonly<Record<string, Route>>;
  private readonly readInclude: (path: string) => Promise<IncludeFile>;
  private readonly policy: TargetPolicy;
  private readonly names: NameLookup;

  constructor(opts: AliasResolverOptions) {
    this.directory = opts.directory;
    const empty = new Map<string, Alias>();
    this.fileAliases = opts.aliasesFromFile ?? (() => empty);
    this.maxDepth = opts.maxDepth ?? 20;
    this.maxTargets = opts.maxTargets ?? 1000;
    this.delimiter = opts.recipientDelimiter ?? '+';
    this.routes = Object.fromEntries(Object.entries(opts.routes ?? {}).map(([d, r]) => [d.toLowerCase(), r]));
    this.readInclude = opts.readInclude ?? readIncludeFile;
    this.policy = { ...defaultTargetPolicy(), ...opts.targetPolicy };
    this.names = new NameLookup(this.directory, this.fileAliases, this.delimiter);
  }

  async resolve(rcpt: Address, trace: Trace): Promise<ResolvedRecipient[]> {
    return (await this.run(rcpt, trace, false)).targets;
  }

  /**
   * The expansion tree of an address, for `correio resolve ADDRESS`: each alias, list, role,
   * include and forward followed, and each leaf (local mailbox or remote next hop). List members
   * are shown under the list as the list transport will re-inject them.
   */
  async explain(address: Address | string, trace: Trace = { sender: null }): Promise<Explanation> {
    const rcpt = typeof address === 'string' ? parseRecipientArgument(address) : address;
    return this.run(rcpt, trace, true);
  }

  private async run(rcpt: Address, trace: Trace, showMembers: boolean): Promise<Explanation> {
    const w: Walk = { original: rcpt, trace, targets: [], keys: new Set(), loop: false, overflow: false, showMembers };
    const tree = await this.expandAddress(w, rcpt, [], [], 0, false);
    return { tree, targets: walkTargets(w) };
  }

  private add(w: Walk, t: TargetBody, via: readonly string[], name: string, extra: Partial<ExpansionNode> = {}): ExpansionNode {
    return addTarget(w, t, via, name, this.maxTargets, extra);
  }

  private error(w: Walk, name: string, via: readonly string[], reply: SmtpReply, note?: string): ExpansionNode {
    return this.add(w, { kind: 'error', reply }, via, name, note ? { note } : {});
  }

  private mailbox(w: Walk, user: User, addr: Address, via: readonly string[], detail?: string, note?: string): ExpansionNode {
    // a disabled account receives nothing (docs/quota.md): 550 5.2.1 at RCPT, a DSN for an alias's copy
    if (user.disabled) return this.error(w, addressToString(addr), via, replies.mailboxDisabled(), 'account disabled');
    const t: TargetBody = detail !== undefined
      ? { kind: 'mailbox', user: user.address, address: addr, detail }
      : { kind: 'mailbox', user: user.address, address: addr };
    return this.add(w, t, via, addressToString(addr), { ...(detail !== undefined ? { detail } : {}), ...(note ? { note } : {}) });
  }

  private async expandAddress(
    w: Walk,
    addr: Address,
    via: readonly string[],
    stack: readonly string[],
    depth: number,
    mailboxOnly: boolean,
  ): Promise<ExpansionNode> {
    let domain = addr.domain.toLowerCase();
    if (domain === '') {
      // RFC 5321 §4.1.1.3: "<postmaster>" without a domain names this host's postmaster.
      if (!isPostmaster(addr)) return this.error(w, addr.local, via, replies.noSuchUser(), 'no domain');
      domain = (await this.directory.listDomains())[0]?.toLowerCase() ?? 'localhost';
    }
    const local = addr.local;
    const name = `${local}@${domain}`;
    const key = name.toLowerCase();
    if (depth > this.maxDepth) {
      w.loop = true;
      return this.error(w, name, via, replies.mailLoop(), `expansion deeper than ${this.maxDepth}`);
    }

    if (!(await this.directory.isLocalDomain(domain))) {
      // Relay rights are not judged here: the SMTP policy's relay-control check refuses a
      // stranger's remote recipient at RCPT (policy/checks.ts), and an alias may forward anywhere.
      const route = this.routes[domain];
      const t: TargetBody = route !== undefined
        ? { kind: 'remote', address: { local, domain }, route }
        : { kind: 'remote', address: { local, domain } };
      return this.add(w, t, via, name);
    }

    const here: Address = { local, domain };
    if (stack.includes(key)) {
      // sendmail: an alias that names itself (or a name being expanded) means that name's mailbox.
      const user = await this.directory.findUser(here);
      if (user) return this.mailbox(w, user, here, via, undefined, 'self-reference: own mailbox');
      w.loop = true;
      return { name, kind: 'loop', note: 'already being expanded; no mailbox of that name', children: noChildren };
    }

    const lookLocal = lookupForm(local);
    if (mailboxOnly) {
      const user = isRouteLike(lookLocal) ? undefined : await this.directory.findUser({ local: lookLocal, domain });
      return user ? this.mailbox(w, user, here, via) : this.error(w, name, via, replies.noSuchUser());
    }

    const found = await this.names.lookup(lookLocal, domain);
    if (found === undefined) {
      const note = isRouteLike(lookLocal) ? 'a route in the local part is not followed (no relaying)' : undefined;
      return this.error(w, name, via, replies.noSuchUser(), note);
    }
    const nextStack = [...stack, key];
    switch (found.what) {
      case 'user':
        return this.mailbox(w, found.user, here, via, found.detail);
      case 'alias':
      case 'catch-all': {
        const children = await this.expandTargets(w, found.alias.targets, domain, [...via, found.name], [...nextStack, found.name], depth);
        return { name: found.name, kind: found.what, source: found.source, children };
      }
      case 'role': {
        // seed §2: "chefe-de-departamento" names whoever holds the role now.
        const children = await this.expandHolder(w, found.role.holder, parseDirectoryTarget(found.role.holder, 'a role holder', 'holders'), [...via, found.name], [...nextStack, found.name], depth);
        return { name: found.name, kind: 'role', note: `held by ${found.role.holder}`, children };
      }
      case 'list-owner': {
        const children = await this.expandHolder(w, found.list.owner, parseDirectoryTarget(found.list.owner, 'a list owner', 'owners'), [...via, found.name], [...nextStack, found.name], depth);
        return { name: found.name, kind: 'list-owner', note: `owner of ${found.list.address}`, children };
      }
      case 'list': {
        const list = found.list;
        const node = this.add(w, { kind: 'list', list: list.address, owner: list.owner, members: list.members }, via, found.name, {
          note: `${list.members.length} member(s); re-injected by the list transport with sender owner`,
        });
        if (!w.showMembers || node.kind !== 'list') return node;
        return { ...node, children: await this.explainMembers(w, list, [...nextStack, found.name], depth) };
      }
      case 'postmaster': {
        // RFC 5321 §4.5.1: postmaster must always be accepted. Fall back to any domain's postmaster.
        for (const d of await this.directory.listDomains()) {
          const user = await this.directory.findUser({ local: 'postmaster', domain: d.toLowerCase() });
          if (user) return this.mailbox(w, user, { local: 'postmaster', domain: d.toLowerCase() }, via, undefined, 'postmaster of another local domain');
        }
        const user: User = { address: `postmaster@${domain}`, createdAt: 0 };
        return this.mailbox(w, user, { local: 'postmaster', domain }, via, undefined, 'postmaster always resolves (RFC 5321 §4.5.1)');
      }
    }
  }

  /**
   * A role's holder or a list's owner: an address only (list-member.ts), so a directory entry
   * such as "|command@host" is an error leaf, never a pipe, whoever wrote it.
   */
  private async expandHolder(w: Walk, text: string, holder: ListMember, via: readonly string[], stack: readonly string[], depth: number): Promise<ExpansionNode[]> {
    if (!holder.ok) return [this.error(w, text.trim(), via, replies.badListMember(), holder.reason)];
    return [await this.expandAddress(w, holder.address, via, stack, depth + 1, false)];
  }

  /**
   * Shows list members for explain(); they are not targets of this recipient. Each member is
   * read by the list transport's own rule (parseListMember) and resolved as its re-injection
   * is (a trusted internal session), so what is shown is what delivery does.
   */
  private async explainMembers(w: Walk, list: MailingList, stack: readonly string[], depth: number): Promise<ExpansionNode[]> {
    const sub: Walk = { ...w, targets: [], keys: new Set(), loop: false, overflow: false };
    const self = list.address.toLowerCase();
    const out: ExpansionNode[] = [];
    for (const m of list.members) {
      if (sub.overflow) break;
      if (m.trim().toLowerCase() === self) {
        out.push({ name: m, kind: 'duplicate', note: 'the list itself: skipped (no loop)', children: noChildren });
        continue;
      }
      const member = parseListMember(m);
      if (!member.ok) {
        const note = `${member.reason}; the list transport skips it`;
        out.push({ name: m.trim(), kind: 'error', reply: formatReply(replies.badListMember()), note, children: noChildren });
        continue;
      }
      out.push(await this.expandAddress(sub, member.address, [list.address], stack, depth + 1, false));
    }
    return out;
  }

  private async expandTargets(
    w: Walk,
    targets: readonly string[],
    domain: string,
    via: readonly string[],
    stack: readonly string[],
    depth: number,
    origin: TargetOrigin = aliasOrigin,
  ): Promise<ExpansionNode[]> {
    const out: ExpansionNode[] = [];
    for (const raw of targets) {
      if (w.overflow) break;
      out.push(await this.expandTarget(w, raw, domain, via, stack, depth + 1, origin));
    }
    return out;
  }

  private async expandTarget(
    w: Walk,
    raw: string,
    domain: string,
    via: readonly string[],
    stack: readonly string[],
    depth: number,
    origin: TargetOrigin,
  ): Promise<ExpansionNode> {
    const t = parseTargetString(raw);
    switch (t.kind) {
      case 'address':
        return this.expandAddress(w, t.address, via, stack, depth, false);
      case 'local':
        return this.expandAddress(w, { local: t.local, domain }, via, stack, depth, false);
      case 'mailbox-only':
        return this.expandAddress(w, { local: t.local, domain }, via, stack, depth, true);
      case 'pipe':
      case 'file': {
        // issue 12 item 4: allowed by class (alias or include), and from a safe include file only
        const verdict = judgeTarget(t.kind, origin, this.policy);
        const name = t.kind === 'pipe' ? raw.trim() : t.path;
        if (!verdict.ok) return this.error(w, name, via, replies.deliveryNotAuthorized(), verdict.why);
        const runAs = verdict.runAs ? { runAs: verdict.runAs } : {};
        return this.add(w, t.kind === 'pipe' ? { kind: 'pipe', command: t.command, ...runAs } : { kind: 'file', path: t.path, ...runAs }, via, name);
      }
      case 'webhook':
        // the operator's aliases only: an include file's owner must not make the server post to
        // the services on its own loopback addresses (http:// is allowed there)
        if (origin.from !== 'alias') return this.error(w, raw.trim(), via, replies.deliveryNotAuthorized(), 'webhook targets are taken from the aliases, not from include files');
        return this.add(w, { kind: 'webhook', url: t.url }, via, raw.trim());
      case 'error':
        return this.error(w, raw.trim(), via, t.reply, 'error: target');
      case 'bad':
        return this.error(w, raw.trim(), via, replies.noSuchUser(), t.message);
      case 'include': {
        const key = `:include:${t.path}`;
        if (stack.includes(key)) {
          w.loop = true;
          return { name: key, kind: 'loop', note: 'file includes itself', children: noChildren };
        }
        if (depth > this.maxDepth) {
          w.loop = true;
          return this.error(w, key, via, replies.mailLoop(), `expansion deeper than ${this.maxDepth}`);
        }
        let file: IncludeFile;
        try {
          file = await this.readInclude(t.path);
        } catch (err) {
          // A missing file is a configuration fault: permanent. Anything else may pass: 4xx.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            return this.error(w, key, via, replies.listExpansionFailed(), 'include file missing');
          }
          throw new MailError(replies.localError(), 'MAIL_ERR_INCLUDE', { cause: err });
        }
        const inner = includeOrigin(t.path, file, origin, this.policy);
        const items = splitIncludeText(file.text);
        const children = await this.expandTargets(w, items, domain, [...via, key], [...stack, key], depth, inner);
        const note = describeOrigin(inner);
        return { name: key, kind: 'include', ...(note ? { note } : {}), children };
      }
    }
  }

  /**
   * Targets that lead nowhere, for `correio check` (find-dangling); `listing` enumerates what
   * to check (the admin face: the resolver itself only looks names up).
   */
  async findDangling(listing: Pick<DirectoryAdmin, 'listAliases' | 'listRoles' | 'listLists'>): Promise<DanglingTarget[]> {
    return findDangling({
      directory: this.directory,
      listing,
      fileAliases: this.fileAliases(),
      names: this.names,
      readInclude: this.readInclude,
      policy: this.policy,
    });
  }
}
