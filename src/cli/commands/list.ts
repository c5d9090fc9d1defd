/**
 * @module list-command
 * `correio list create|add|remove|show|delete`: mailing lists (seed §2.1, the "mail exploder").
 * A list's copies go out with the envelope sender LIST-owner@domain, which reaches the owner.
 * Standards: RFC 2919 (List-Id shown by `list show`), RFC 2369.
 * Security: addresses are checked by the directory before they are stored; a member must be
 *   an address by the list transport's own rule (resolve's parseDirectoryTarget, through
 *   admin/directory-operations.ts), and so must the owner: "|command", "/file" and the other alias-target
 *   forms are refused with status 65 (EX_DATAERR), so `correio resolve` never shows a member
 *   delivery would refuse.
 * Limitations: no subscription by mail; members are managed here (or through the directory).
 */
import type { Command } from 'commander';
import { addListMembers, createList, deleteList, removeListMembers, showList } from '../../admin/index.js';
import type { CliContext } from '../cli-context.js';

export function register(program: Command, ctx: CliContext): void {
  const list = program.command('list').description('mailing lists: create, add and remove members, show');

  list
    .command('create')
    .description('create a mailing list')
    .argument('<list>', 'the list address, e.g. lista@dc.uece.br')
    .requiredOption('--owner <address>', 'who gets bounces and requests (LIST-owner@domain reaches them)')
    .option('--description <text>', 'a short description (shown in List-Id)')
    .action(async (text: string, opts: { owner: string; description?: string }, cmd: Command) => {
      const l = await ctx.withDirectory(cmd, (dir) => createList(dir, text, opts.owner, opts.description));
      ctx.print(`created ${l.address} (owner ${l.owner})`);
    });

  list
    .command('add')
    .description('add members to a list')
    .argument('<list>', 'the list address')
    .argument('<members...>', 'member addresses (local or remote)')
    .action(async (text: string, members: string[], _opts: unknown, cmd: Command) => {
      const r = await ctx.withDirectory(cmd, (dir) => addListMembers(dir, text, members));
      ctx.print(`${r.list}: added ${r.members.join(', ')}`);
    });

  list
    .command('remove')
    .description('remove members from a list')
    .argument('<list>', 'the list address')
    .argument('<members...>', 'member addresses')
    .action(async (text: string, members: string[], _opts: unknown, cmd: Command) => {
      const r = await ctx.withDirectory(cmd, (dir) => removeListMembers(dir, text, members));
      ctx.print(`${r.list}: removed ${r.members.join(', ')}`);
    });

  list
    .command('show')
    .description('show a list: owner, envelope sender, List-Id, members')
    .argument('<list>', 'the list address')
    .option('--json', 'print a JSON array (one object: the list)')
    .action(async (text: string, opts: { json?: boolean }, cmd: Command) => {
      const info = await ctx.withDirectory(cmd, (dir) => showList(dir, text));
      if (opts.json) {
        ctx.print(JSON.stringify([info]));
        return;
      }
      ctx.print(`list: ${info.address}`);
      ctx.print(`owner: ${info.owner}`);
      if (info.description !== null) ctx.print(`description: ${info.description}`);
      ctx.print(`sender: ${info.sender}`);
      ctx.print(`list-id: ${info.listId}`);
      ctx.print(`members: ${info.members.length}`);
      for (const m of info.members) ctx.print(`  ${m}`);
    });

  list
    .command('delete')
    .description('delete a list')
    .argument('<list>', 'the list address')
    .action(async (text: string, _opts: unknown, cmd: Command) => {
      const a = await ctx.withDirectory(cmd, (dir) => deleteList(dir, text));
      ctx.print(`deleted ${a}`);
    });
}
