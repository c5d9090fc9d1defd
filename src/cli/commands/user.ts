/**
 * @module user-command
 * `correio user add|list|delete|passwd`: mailboxes in the directory.
 * Standards: RFC 5321 §2.3.11 (mailbox = local-part@domain); users log in with the full address.
 * Security: passwords come from stdin only and are stored as scrypt hashes.
 * Limitations: deleting a user leaves the mailbox's files in place (mail is never removed by
 *   a directory change).
 */
import type { Command } from 'commander';
import { hashPassword } from '../../directory/index.js';
import { cliAddress } from '../cli-address.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';


export function register(program: Command, ctx: CliContext): void {
  const user = program.command('user').description('mailboxes: add, list, delete, change passwords');

  user
    .command('add')
    .description('add a mailbox; with --password-stdin, its password is the first line of stdin')
    .argument('<address>', 'the full address, e.g. suzana@dc.uece.br (also the login name)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--name <name>', 'the person\'s name')
    .action(async (text: string, opts: { passwordStdin?: boolean; name?: string }, cmd: Command) => {
      const a = cliAddress(text, 'address');
      const hash = opts.passwordStdin ? await hashPassword(await ctx.readPassword()) : undefined;
      const u = await ctx.withDirectory(cmd, (dir) => dir.addUser(a, hash, opts.name));
      ctx.print(`added ${u.address}`);
    });

  user
    .command('list')
    .description('list mailboxes')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const users = await ctx.withDirectory(cmd, (dir) => dir.listUsers());
      if (opts.json) {
        ctx.print(JSON.stringify(users.map((u) => ({ address: u.address, name: u.name ?? null, createdAt: new Date(u.createdAt).toISOString() }))));
      } else {
        for (const u of users) ctx.print(u.name ? `${u.address}\t${u.name}` : u.address);
      }
    });

  user
    .command('delete')
    .description('delete a mailbox (its stored mail is kept)')
    .argument('<address>', 'the full address')
    .action(async (text: string, _opts: unknown, cmd: Command) => {
      const a = cliAddress(text, 'address');
      const deleted = await ctx.withDirectory(cmd, (dir) => dir.deleteUser(a));
      if (!deleted) throw new CliError(`no such user: ${a}`, exitCodes.noUser);
      ctx.print(`deleted ${a}`);
    });

  user
    .command('passwd')
    .description('set a mailbox\'s password from the first line of standard input')
    .argument('<address>', 'the full address')
    .action(async (text: string, _opts: unknown, cmd: Command) => {
      const a = cliAddress(text, 'address');
      const hash = await hashPassword(await ctx.readPassword('New password: '));
      const changed = await ctx.withDirectory(cmd, (dir) => dir.setPassword(a, hash));
      if (!changed) throw new CliError(`no such user: ${a}`, exitCodes.noUser);
      ctx.print(`password changed for ${a}`);
    });
}
