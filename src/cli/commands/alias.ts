/**
 * @module alias-command
 * `correio alias set|delete|list|import` and `correio newaliases` (import the configured
 * aliases_file): aliases in the directory.
 * A name without a domain (`postmaster`) applies to every local domain, as in aliases(5): it is
 * stored once per local domain. `alias import FILE` replaces every alias previously imported
 * from the same file (one transaction) and keeps the others.
 * Standards: sendmail and Postfix aliases(5) (targets: addresses, |command, /file,
 *   :include:/file, error:5.x.x text, \user).
 * Security: targets are checked with the aliases(5) parser before they are stored; pipe and file
 *   targets can only be set by whoever may run this command (the operator).
 * Limitations: no Berkeley DB file is written (the directory is the database).
 */
import { resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../config/index.js';
import { qualifyAliases, readAliasesFile } from '../../directory/index.js';
import { aliasJson, deleteAlias, setAlias } from '../../admin/index.js';
import type { DirectoryAdmin } from '../../core/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

/** aliases(5) line form: `name: t1, t2` (targets with commas or spaces quoted). */
function aliasLine(name: string, targets: readonly string[]): string {
  const q = (t: string): string => (/[,\s"]/.test(t) && !/^[^,\s"]+@/.test(t) ? `"${t.replace(/(["\\])/g, '\\$1')}"` : t);
  const n = /[\s:"]/.test(name) ? `"${name.replace(/(["\\])/g, '\\$1')}"` : name;
  return `${n}: ${targets.map(q).join(', ')}`;
}

/** Imports an aliases file into the directory; prints bad lines to stderr; returns the counts. */
async function importFile(ctx: CliContext, dir: DirectoryAdmin, config: Config, file: string): Promise<{ imported: number; bad: number }> {
  let parsed;
  try {
    parsed = await readAliasesFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`${file}: cannot read aliases file: ${code === 'ENOENT' ? 'no such file' : (code ?? String(err))}`, exitCodes.noInput);
  }
  for (const e of parsed.errors) ctx.stderr.write(`correio: ${file}:${e.line}: ${e.message}\n`);
  const domains = (await dir.listDomains()).length > 0 ? await dir.listDomains() : [...config.localDomains];
  const qualified = qualifyAliases(parsed.aliases, domains).map((a) => ({ ...a, source: file }));
  await dir.replaceAliases(file, qualified);
  return { imported: qualified.length, bad: parsed.errors.length };
}

function finishImport(ctx: CliContext, file: string, r: { imported: number; bad: number }): void {
  if (r.bad > 0) {
    throw new CliError(`${file}: ${r.bad} bad line${r.bad === 1 ? '' : 's'} skipped, ${r.imported} alias${r.imported === 1 ? '' : 'es'} imported`, exitCodes.dataErr);
  }
  ctx.print(`${file}: ${r.imported} alias${r.imported === 1 ? '' : 'es'} imported`);
}

export function register(program: Command, ctx: CliContext): void {
  const alias = program.command('alias').description('aliases: set, delete, list, import an aliases(5) file');

  alias
    .command('set')
    .description('make NAME deliver to the TARGETs (replaces its targets); a NAME without @domain applies to every local domain')
    .argument('<name>', 'local@domain, @domain (catch-all), or a bare local name')
    .argument('<targets...>', 'addresses, "|command args", /path/file, :include:/path, error:5.x.x text, \\user')
    .action(async (name: string, targets: string[], _opts: unknown, cmd: Command) => {
      const set = await ctx.withDirectory(cmd, (dir) => setAlias(dir, name, targets, ctx.cwd));
      for (const n of set.names) ctx.print(aliasLine(n, set.targets));
    });

  alias
    .command('delete')
    .description('delete an alias (a bare NAME: in every local domain)')
    .argument('<name>', 'the alias name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const deleted = await ctx.withDirectory(cmd, (dir) => deleteAlias(dir, name));
      for (const n of deleted) ctx.print(`deleted ${n}`);
    });

  alias
    .command('list')
    .description('list aliases (aliases(5) lines, or JSON)')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const all = await ctx.withDirectory(cmd, (dir) => dir.listAliases());
      if (opts.json) {
        ctx.print(JSON.stringify(all.map(aliasJson)));
        return;
      }
      for (const a of all) ctx.print(aliasLine(a.name, a.targets));
    });

  alias
    .command('import')
    .description('load an aliases(5) file into the directory, replacing what was imported from it before')
    .argument('<file>', 'the aliases file')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const path = resolvePath(ctx.cwd, file);
      const r = await ctx.withDirectory(cmd, (dir, config) => importFile(ctx, dir, config, path));
      finishImport(ctx, path, r);
    });

  program
    .command('newaliases')
    .description('import the configured aliases_file into the directory')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = ctx.config(cmd);
      const file = config.aliasesFile;
      if (file === undefined) throw new CliError(`${config.file ?? '(defaults)'}: no aliases_file configured`, exitCodes.config);
      const r = await ctx.withDirectory(cmd, (dir) => importFile(ctx, dir, config, file));
      finishImport(ctx, file, r);
    });
}
