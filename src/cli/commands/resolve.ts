/**
 * @module resolve-command
 * `correio resolve ADDRESS [--json]`: how an address expands — each alias, role, list, include
 * and forward followed — and where each leaf goes: a local mailbox or a remote next hop.
 * Standards: seed §2 and §2.1 (a directory with a query language; alias expansion decides
 *   between the incoming and the outgoing queue).
 * Security: read-only; the answer is the one the server gives, with relay rights (an operator
 *   asks), so remote addresses show their next hop instead of "relay denied".
 * Limitations: list members are shown as the list transport will re-inject them; the
 *   re-injection itself (and its X-Loop stop) happens only when mail is sent.
 */
import type { Command } from 'commander';
import { makeResolver } from '../../app/index.js';
import { formatReply } from '../../core/index.js';
import type { ExpansionNode } from '../../resolve/index.js';
import { targetJson } from '../../admin/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

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
