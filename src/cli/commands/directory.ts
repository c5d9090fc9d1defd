/**
 * @module directory-command
 * `correio directory find TEXT`: the directory's query interface (seed §2): addresses, names,
 * aliases, lists and roles matching a text.
 * Standards: seed §2 (a directory with a query interface).
 * Security: never prints password hashes.
 * Limitations: substring match only.
 */
import type { Command } from 'commander';
import type { CliContext } from '../cli-context.js';

export function register(program: Command, ctx: CliContext): void {
  const directory = program.command('directory').description('query the directory');
  directory
    .command('find')
    .description('find addresses, names, aliases, lists and roles containing TEXT (case-insensitive)')
    .argument('<text>', 'text to look for')
    .option('--json', 'print a JSON array')
    .action(async (text: string, opts: { json?: boolean }, cmd: Command) => {
      const hits = await ctx.withDirectory(cmd, (dir) => dir.find(text));
      if (opts.json) {
        ctx.print(JSON.stringify(hits));
        return;
      }
      for (const h of hits) ctx.print(h.detail === undefined ? `${h.kind}\t${h.address}` : `${h.kind}\t${h.address}\t${h.detail}`);
    });
}
