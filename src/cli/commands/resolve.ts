/**
 * @module resolve-command
 * `correio resolve ADDRESS [--json]`: how an address expands — each alias, role, list, include
 * and forward followed — and where each leaf goes: a local mailbox or a remote next hop.
 * Also `makeResolver`, the resolver configured as the server's, which `correio check` uses too.
 * Standards: seed §2 and §2.1 (a directory with a query language; alias expansion decides
 *   between the incoming and the outgoing queue).
 * Security: read-only; the answer is the one the server gives, with relay rights (an operator
 *   asks), so remote addresses show their next hop instead of "relay denied".
 * Limitations: list members are shown as the list transport will re-inject them; the
 *   re-injection itself (and its X-Loop stop) happens only when mail is sent.
 */
import type { Command } from 'commander';
import type { Config } from '../../config/index.js';
import { ConfiguredAliases, configuredResolver } from '../../app/index.js';
import { formatReply, routeKey, targetRoute, type Alias, type DirectoryLookup, type ResolvedRecipient } from '../../core/index.js';
import type { AliasResolver, ExpansionNode } from '../../resolve/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

/** A resolver configured as the server's: directory, aliases file, static routes. */
export async function makeResolver(dir: DirectoryLookup, config: Config): Promise<{ resolver: AliasResolver; file: ReadonlyMap<string, Alias> }> {
  const aliases = new ConfiguredAliases(config);
  await aliases.load();
  return { resolver: configuredResolver(config, dir, aliases), file: aliases.map() };
}

function describeNode(n: ExpansionNode): string {
  const parts = [`${n.name}  ${n.kind}`];
  if (n.source !== undefined) parts.push(`(${n.source})`);
  if (n.detail !== undefined) parts.push(`detail "${n.detail}"`);
  if (n.route !== undefined) parts.push(`-> ${n.route}`);
  if (n.reply !== undefined) parts.push(n.reply);
  if (n.note !== undefined) parts.push(`[${n.note}]`);
  return parts.join(' ');
}

function printTree(ctx: CliContext, n: ExpansionNode, depth = 0): void {
  ctx.print(`${'  '.repeat(depth)}${describeNode(n)}`);
  for (const c of n.children) printTree(ctx, c, depth + 1);
}

function targetJson(t: ResolvedRecipient): Record<string, unknown> {
  const base = { kind: t.kind, via: t.via };
  switch (t.kind) {
    case 'mailbox':
      return { ...base, user: t.user, address: `${t.address.local}@${t.address.domain}`, ...(t.detail !== undefined ? { detail: t.detail } : {}) };
    case 'remote':
      return { ...base, address: `${t.address.local}@${t.address.domain}`, route: routeKey(targetRoute(t)) };
    // runAs: who runs it (a target of an include file); absent: the transport's default user
    case 'pipe':
      return { ...base, command: t.command, ...(t.runAs ? { runAs: t.runAs } : {}) };
    case 'file':
      return { ...base, path: t.path, ...(t.runAs ? { runAs: t.runAs } : {}) };
    case 'list':
      return { ...base, list: t.list, owner: t.owner, members: t.members };
    case 'error':
      return { ...base, reply: formatReply(t.reply) };
  }
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('resolve')
    .description('show how ADDRESS expands (aliases, roles, lists) and where each target goes')
    .argument('<address>', 'local-part@domain, or postmaster')
    .option('--json', 'print a JSON array (one object: the address, its tree and its targets)')
    .action(async (text: string, opts: { json?: boolean }, cmd: Command) => {
      const result = await ctx.withDirectory(cmd, async (dir, config) => {
        const { resolver } = await makeResolver(dir, config);
        return resolver.explain(text);
      });
      if (opts.json) ctx.print(JSON.stringify([{ address: text, tree: result.tree, targets: result.targets.map(targetJson) }]));
      else printTree(ctx, result.tree);
      if (result.targets.every((t) => t.kind === 'error')) {
        const first = result.targets[0];
        throw new CliError(`${text}: ${first.kind === 'error' ? formatReply(first.reply) : 'undeliverable'}`, exitCodes.noUser);
      }
    });
}
