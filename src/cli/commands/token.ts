/**
 * @module token-command
 * `correio token create|list|revoke`: API tokens for HTTP clients (JMAP clients, scripts using
 * the admin API, HTTP submission), sent as `Authorization: Bearer …` (docs/web.md).
 * Standards: RFC 6750 (Bearer tokens).
 * Security: the token is printed once, at creation, and stored only as a hash; the `admin`
 *   scope is given only to accounts listed in `[http] admins` (and a token loses it when its
 *   owner leaves the list); the owner must be an account in the directory.
 * Limitations: tokens do not expire; revoke them.
 */
import type { Command } from 'commander';
import { isTokenScope, tokenScopes, type TokenScope } from '../../core/index.js';
import { openTokenStore } from '../../directory/index.js';
import { checkedAddress } from '../../admin/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

function scopesOf(values: readonly string[]): TokenScope[] {
  const out = new Set<TokenScope>();
  for (const s of values.flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase())) {
    if (!isTokenScope(s)) throw new CliError(`--scope ${s}: unknown scope; use ${tokenScopes.join(', ')}`, exitCodes.usage);
    out.add(s);
  }
  if (out.size === 0) throw new CliError(`--scope is required: one or more of ${tokenScopes.join(', ')}`, exitCodes.usage);
  return [...out];
}

const iso = (ms: number | undefined): string => (ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

export function register(program: Command, ctx: CliContext): void {
  const token = program.command('token').description('API tokens for the web (Bearer): create, list, revoke');

  token
    .command('create')
    .description('make a token acting as ADDRESS with the given scopes; prints it once')
    .argument('<address>', 'the account the token acts as, e.g. alice@example.org')
    .requiredOption('--scope <scope...>', `what it may do: ${tokenScopes.join(', ')} (repeat or separate with commas)`)
    .option('--label <text>', 'a note to recognise it by in `token list`')
    .option('--json', 'print a JSON object (with the token) instead')
    .action(async (addressText: string, opts: { scope: string[]; label?: string; json?: boolean }, cmd: Command) => {
      const scopes = scopesOf(opts.scope);
      const wanted = checkedAddress(addressText, 'address');
      const { owner, config } = await ctx.withDirectory(cmd, async (dir, config) => ({ owner: (await dir.findUser(wanted))?.address, config }));
      if (owner === undefined) throw new CliError(`no such user: ${wanted} (add it with \`correio user add\`)`, exitCodes.noUser);
      if (scopes.includes('admin') && !config.http.admins.some((a) => a.toLowerCase() === owner.toLowerCase())) {
        throw new CliError(`--scope admin: ${owner} is not an admin; list it in [http] admins (${config.file ?? 'the configuration'}) first`, exitCodes.noPerm);
      }
      const store = openTokenStore(config);
      try {
        const { token: t, secret } = await store.create(owner, scopes, opts.label);
        // a token acts as its owner (admin scope included): who made it is kept, never the secret
        ctx.recordAdmin(config, { action: 'token create', id: t.id, owner: t.owner, scopes: t.scopes, ...(t.label !== undefined && { label: t.label }) });
        if (opts.json) {
          ctx.print(JSON.stringify({ id: t.id, owner: t.owner, scopes: t.scopes, label: t.label ?? null, token: secret }));
        } else {
          ctx.print(secret);
          ctx.stderr.write(`token ${t.id} for ${t.owner} (${t.scopes.join(', ')}): store it now, it is not shown again\n`);
        }
      } finally {
        await store.close();
      }
    });

  token
    .command('list')
    .description('list tokens (all, or one owner\'s): id, owner, scopes, created, last used, label')
    .argument('[address]', 'only this owner\'s tokens')
    .option('--json', 'print a JSON array')
    .action(async (addressText: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const config = ctx.config(cmd);
      const owner = addressText === undefined ? undefined : checkedAddress(addressText, 'address');
      const store = openTokenStore(config);
      try {
        const list = await store.list(owner);
        if (opts.json) {
          ctx.print(JSON.stringify(list.map((t) => ({ id: t.id, owner: t.owner, scopes: t.scopes, label: t.label ?? null, createdAt: iso(t.createdAt), lastUsedAt: t.lastUsedAt === undefined ? null : iso(t.lastUsedAt) }))));
          return;
        }
        for (const t of list) ctx.print([t.id, t.owner, t.scopes.join(','), iso(t.createdAt), iso(t.lastUsedAt), t.label ?? ''].join('\t').trimEnd());
      } finally {
        await store.close();
      }
    });

  token
    .command('revoke')
    .description('revoke a token at once (its id, as `token list` shows)')
    .argument('<id>', 'the token id (12 hex digits)')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const config = ctx.config(cmd);
      const store = openTokenStore(config);
      try {
        if (!(await store.revoke(id.toLowerCase()))) throw new CliError(`no such token: ${id} (see \`correio token list\`)`, exitCodes.noUser);
        ctx.recordAdmin(config, { action: 'token revoke', id: id.toLowerCase() });
      } finally {
        await store.close();
      }
      ctx.print(`revoked ${id.toLowerCase()}`);
    });
}
