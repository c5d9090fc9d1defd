/**
 * @module role-command
 * `correio role set|delete|list`: the seed's role addresses (a function such as
 * chefe-de-departamento@dc.uece.br whose mail goes to whoever holds it now), without SQL.
 * Standards: seed §2 (roles in the directory); RFC 5321 §2.3.11 (addresses).
 * Security: only local-domain role addresses are accepted: a role elsewhere would never be
 *   reached, and the holder may send as the role (RFC 6409 §6.1, see senderAllowed). A holder
 *   is an address only (admin/directory-operations.ts): never a "|command" or "/file" that looks like one.
 * Limitations: one holder per role (the seed's model); a role does not check that its holder
 *   exists (it may be a remote address).
 */
import type { Command } from 'commander';
import { deleteRole, roleJson, setRole } from '../../admin/index.js';
import type { CliContext } from '../cli-context.js';


export function register(program: Command, ctx: CliContext): void {
  const role = program.command('role').description('role addresses: set (create or hand over), delete, list');

  role
    .command('set')
    .description('make ADDRESS the holder of ROLE (created when absent, handed over when held)')
    .argument('<role>', 'the role address, in a local domain, e.g. chefe@dc.uece.br')
    .argument('<address>', 'the holder, e.g. suzana@dc.uece.br')
    .option('--description <text>', 'what the role is')
    .action(async (roleText: string, holderText: string, opts: { description?: string }, cmd: Command) => {
      const r = await ctx.withDirectory(cmd, (dir) => setRole(dir, roleText, holderText, opts.description));
      ctx.print(`${r.role} -> ${r.holder}`);
    });

  role
    .command('delete')
    .description('delete a role')
    .argument('<role>', 'the role address')
    .action(async (roleText: string, _opts: unknown, cmd: Command) => {
      const r = await ctx.withDirectory(cmd, (dir) => deleteRole(dir, roleText));
      ctx.print(`deleted ${r}`);
    });

  role
    .command('list')
    .description('list roles and their holders')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const roles = await ctx.withDirectory(cmd, (dir) => dir.listRoles());
      if (opts.json) {
        ctx.print(JSON.stringify(roles.map(roleJson)));
        return;
      }
      for (const x of roles) ctx.print(x.description ? `${x.address}\t${x.holder}\t${x.description}` : `${x.address}\t${x.holder}`);
    });
}
