/**
 * @module user-command
 * `correio user add|list|delete|passwd|quota|disable|enable`: mailboxes in the directory,
 * through the operations the admin API uses too (admin/directory-operations.ts).
 * Standards: RFC 5321 §2.3.11 (mailbox = local-part@domain); users log in with the full address.
 * Security: passwords come from stdin only and are stored as scrypt hashes.
 * Limitations: deleting a user leaves the mailbox's files in place (mail is never removed by
 *   a directory change).
 */
import type { Command } from 'commander';
import {
  addUser, checkedAddress, deleteUser, parseQuotaValue, setUserDisabled, setUserPassword, setUserQuota, userJson,
} from '../../admin/index.js';
import type { UserQuotaChange } from '../../core/index.js';
import type { CliContext } from '../cli-context.js';

export function register(program: Command, ctx: CliContext): void {
  const user = program.command('user').description('mailboxes: add, list, delete, change passwords, quotas, disable');

  user
    .command('add')
    .description('add a mailbox; with --password-stdin, its password is the first line of stdin')
    .argument('<address>', 'the full address, e.g. suzana@dc.uece.br (also the login name)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--name <name>', 'the person\'s name')
    .action(async (text: string, opts: { passwordStdin?: boolean; name?: string }, cmd: Command) => {
      const a = checkedAddress(text, 'address');
      const password = opts.passwordStdin ? await ctx.readPassword() : undefined;
      const u = await ctx.withDirectory(cmd, (dir) => addUser(dir, a, password, opts.name));
      ctx.print(`added ${u.address}`);
    });

  user
    .command('list')
    .description('list mailboxes')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const users = await ctx.withDirectory(cmd, (dir) => dir.listUsers());
      if (opts.json) {
        ctx.print(JSON.stringify(users.map(userJson)));
      } else {
        for (const u of users) ctx.print(`${u.name ? `${u.address}\t${u.name}` : u.address}${u.disabled ? '\t(disabled)' : ''}`);
      }
    });

  user
    .command('delete')
    .description('delete a mailbox (its stored mail is kept)')
    .argument('<address>', 'the full address')
    .action(async (text: string, _opts: unknown, cmd: Command) => {
      const a = await ctx.withDirectory(cmd, (dir) => deleteUser(dir, text));
      ctx.print(`deleted ${a}`);
    });

  user
    .command('passwd')
    .description('set a mailbox\'s password from the first line of standard input')
    .argument('<address>', 'the full address')
    .action(async (text: string, _opts: unknown, cmd: Command) => {
      const a = checkedAddress(text, 'address');
      const password = await ctx.readPassword('New password: ');
      await ctx.withDirectory(cmd, (dir) => setUserPassword(dir, a, password));
      ctx.print(`password changed for ${a}`);
    });

  user
    .command('quota')
    .description('set a mailbox\'s quota ("default": the [quota] of the config; 0 or "none": no limit); without options, show it')
    .argument('<address>', 'the full address')
    .option('--storage <size>', 'octets the mailbox may hold, e.g. 500MB or 2GB')
    .option('--messages <count>', 'messages the mailbox may hold')
    .action(async (text: string, opts: { storage?: string; messages?: string }, cmd: Command) => {
      const change: { storage?: number | null; messages?: number | null } = {};
      if (opts.storage !== undefined) change.storage = parseQuotaValue('storage', opts.storage);
      if (opts.messages !== undefined) change.messages = parseQuotaValue('messages', opts.messages);
      const u = await ctx.withDirectory(cmd, (dir) => setUserQuota(dir, text, change satisfies UserQuotaChange));
      const limit = ctx.config(cmd).quota;
      const show = (own: number | undefined, def: number): string => (own !== undefined ? String(own) : `${def} (default)`);
      ctx.print(`${u.address}\tstorage ${show(u.quota?.storage, limit.storage)}\tmessages ${show(u.quota?.messages, limit.messages)}`);
    });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(verb)
      .description(disabled ? 'disable a mailbox: no login on any protocol, mail to it refused (its mail is kept)' : 'enable a disabled mailbox again')
      .argument('<address>', 'the full address')
      .action(async (text: string, _opts: unknown, cmd: Command) => {
        const a = await ctx.withDirectory(cmd, (dir) => setUserDisabled(dir, text, disabled));
        ctx.print(`${verb}d ${a}`);
      });
  }
}
