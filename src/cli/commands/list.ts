/**
 * @module list-command
 * `correio list create|add|remove|show|delete`: mailing lists (seed §2.1, the "mail exploder").
 * A list's copies go out with the envelope sender LIST-owner@domain, which reaches the owner.
 * Standards: RFC 2919 (List-Id shown by `list show`), RFC 2369.
 * Security: addresses are checked by the directory before they are stored; a member must be
 *   an address by the list transport's own rule (resolve's parseDirectoryTarget, through
 *   cli-address.ts), and so must the owner: "|command", "/file" and the other alias-target
 *   forms are refused with status 65 (EX_DATAERR), so `correio resolve` never shows a member
 *   delivery would refuse.
 * Limitations: no subscription by mail; members are managed here (or through the directory).
 */
import type { Command } from 'commander';
import { listIdFor, listOwnerAddress } from '../../resolve/index.js';
import { cliAddress, cliTargetAddress } from '../cli-address.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

export function register(program: Command, ctx: CliContext): void {
  const list = program.command('list').description('mailing lists: create, add and remove members, show');

  list
    .command('create')
    .description('create a mailing list')
    .argument('<list>', 'the list address, e.g. lista@dc.uece.br')
    .requiredOption('--owner <address>', 'who gets bounces and requests (LIST-owner@domain reaches them)')
    .option('--description <text>', 'a short description (shown in List-Id)')
    .action(async (text: string, opts: { owner: string; description?: string }, cmd: Command) => {
      const a = cliAddress(text, 'list address');
      const owner = cliTargetAddress(opts.owner, 'owner address', 'a list owner', 'owners');
      const l = await ctx.withDirectory(cmd, async (dir) => {
        const domain = a.slice(a.lastIndexOf('@') + 1);
        if (!(await dir.isLocalDomain(domain))) throw new CliError(`${domain} is not a local domain`, exitCodes.dataErr);
        return dir.createList(a, owner, opts.description);
      });
      ctx.print(`created ${l.address} (owner ${l.owner})`);
    });

  list
    .command('add')
    .description('add members to a list')
    .argument('<list>', 'the list address')
    .argument('<members...>', 'member addresses (local or remote)')
    .action(async (text: string, members: string[], _opts: unknown, cmd: Command) => {
      const a = cliAddress(text, 'list address');
      const ms = members.map((m) => cliTargetAddress(m, 'member address', 'a list member', 'members'));
      await ctx.withDirectory(cmd, (dir) => dir.addListMembers(a, ms));
      ctx.print(`${a}: added ${ms.join(', ')}`);
    });

  list
    .command('remove')
    .description('remove members from a list')
    .argument('<list>', 'the list address')
    .argument('<members...>', 'member addresses')
    .action(async (text: string, members: string[], _opts: unknown, cmd: Command) => {
      const a = cliAddress(text, 'list address');
      const ms = members.map((m) => cliAddress(m, 'member address'));
      const missing = await ctx.withDirectory(cmd, async (dir) => {
        const before = await dir.findList(a);
        if (!before) throw new CliError(`no such list: ${a}`, exitCodes.noUser);
        const have = new Set(before.members.map((m) => m.toLowerCase()));
        await dir.removeListMembers(a, ms);
        return ms.filter((m) => !have.has(m.toLowerCase()));
      });
      if (missing.length > 0) throw new CliError(`${a}: not members: ${missing.join(', ')}`, exitCodes.noUser);
      ctx.print(`${a}: removed ${ms.join(', ')}`);
    });

  list
    .command('show')
    .description('show a list: owner, envelope sender, List-Id, members')
    .argument('<list>', 'the list address')
    .option('--json', 'print a JSON array (one object: the list)')
    .action(async (text: string, opts: { json?: boolean }, cmd: Command) => {
      const a = cliAddress(text, 'list address');
      const l = await ctx.withDirectory(cmd, (dir) => dir.findList(a));
      if (!l) throw new CliError(`no such list: ${a}`, exitCodes.noUser);
      const info = {
        address: l.address,
        owner: l.owner,
        description: l.description ?? null,
        sender: listOwnerAddress(l.address),
        listId: `<${listIdFor(l.address)}>`,
        members: l.members,
      };
      if (opts.json) {
        ctx.print(JSON.stringify([info]));
        return;
      }
      ctx.print(`list: ${info.address}`);
      ctx.print(`owner: ${info.owner}`);
      if (info.description !== null) ctx.print(`description: ${info.description}`);
      ctx.print(`sender: ${info.sender}`);
      ctx.print(`list-id: ${info.listId}`);
      ctx.print(`members: ${l.members.length}`);
      for (const m of l.members) ctx.print(`  ${m}`);
    });

  list
    .command('delete')
    .description('delete a list')
    .argument('<list>', 'the list address')
    .action(async (text: string, _opts: unknown, cmd: Command) => {
      const a = cliAddress(text, 'list address');
      const deleted = await ctx.withDirectory(cmd, (dir) => dir.deleteList(a));
      if (!deleted) throw new CliError(`no such list: ${a}`, exitCodes.noUser);
      ctx.print(`deleted ${a}`);
    });
}
