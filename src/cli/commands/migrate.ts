/**
 * @module migrate-command
 * `correio migrate --to postgres://…`: moves a file-based site onto PostgreSQL (directory,
 * queue and mailboxes; app/storage-migration.ts). `correio migrate --to file:DIR`: the
 * reverse, a PostgreSQL site (this configuration's `[storage] url`) into a new files data
 * directory DIR (directory, queue and mailboxes; app/storage-export.ts). Both are resumable and verified,
 * then say what to change. The servers must be stopped (the queue would change under the copy).
 * Standards: sysexits(3).
 * Security: the url's password is never printed.
 * Limitations: only one node's data_dir is checked for a running server (stop every node).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { Config } from '../../config/index.js';
import { describePgUrl, exportedConfig, exportToFiles, findServerPid, mailDir, migrateToPostgres, MigrationBusyError, MigrationCheckError, srsSecretPath } from '../../app/index.js';
import { dkimKeyDir } from '../../policy/index.js';
import { tokenFile } from '../../directory/index.js';
import { isPostgresUrl } from '../../util/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

const EX_UNAVAILABLE = 69;

/** DIR of `file:DIR` (or `file:///abs`), resolved against the working directory; undefined for another scheme or no path. */
function fileTarget(to: string): string | undefined {
  if (!to.startsWith('file:')) return undefined;
  const path = to.startsWith('file://') ? fileURLToPath(to) : to.slice('file:'.length);
  return path === '' ? undefined : resolve(path);
}

/** Runs a copy; its failures become one line each: a copy that does not verify (65), PostgreSQL unreachable (69), a node still delivering (75). */
async function copying<T>(where: string, work: () => Promise<T>): Promise<T> {
  return work().catch((err: unknown) => {
    if (err instanceof MigrationCheckError) throw new CliError(err.message, exitCodes.dataErr);
    if (err instanceof MigrationBusyError) throw new CliError(err.message, exitCodes.tempFail);
    if (err instanceof CliError) throw err;
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    throw new CliError(`PostgreSQL at ${where}: ${cause}; check the url and that the server runs`, EX_UNAVAILABLE);
  });
}

async function notServing(dataDir: string, then: string): Promise<void> {
  const pid = await findServerPid(dataDir);
  if (pid !== undefined) throw new CliError(`correio serve (PID ${pid}) uses ${dataDir}: stop it first, then ${then}`, exitCodes.tempFail);
}

async function toPostgres(ctx: CliContext, config: Config, url: string): Promise<void> {
  if (isPostgresUrl(config.storage.url)) {
    throw new CliError(`${config.file ?? '(defaults)'}: storage.url is PostgreSQL already; migrate --to postgres://… copies a "file:" site`, exitCodes.config);
  }
  await notServing(config.dataDir, 'migrate');
  const where = describePgUrl(url);
  const report = await copying(where, () => migrateToPostgres(config, url));
  const d = report.directory;
  ctx.print(`directory: ${d.domains} domains, ${d.users} users, ${d.aliases} aliases, ${d.lists} lists, ${d.roles} roles (verified)`);
  const q = report.queue;
  ctx.print(`queue: ${q.messages} messages (${q.copied} copied, ${q.skipped} already there), ${q.envelopes} envelopes (verified)`);
  const m = report.mailboxes;
  ctx.print(`mailboxes: ${m.users} users, ${m.folders} folders, ${m.messages} messages (${m.copied} copied, ${m.skipped} already there) (verified) from ${mailDir(config)}`);
  const k = report.dkim;
  if (k.keys.length > 0) ctx.print(`dkim: ${k.keys.length} keys (${k.keys.join(', ')}; ${k.copied} copied, ${k.keys.length - k.copied} already there) (verified) from ${dkimKeyDir(config.dataDir)}: every node signs with them`);
  const t = report.tokens;
  if (t.tokens > 0) ctx.print(`tokens: ${t.tokens} API tokens (${t.copied} copied, ${t.tokens - t.copied} already there) (verified): every node accepts them`);
  if (report.srs === 'shared') ctx.print(`srs: the generated secret of ${srsSecretPath(config.dataDir)} is every node's`);
  if (report.srs === 'other') ctx.print(`srs: PostgreSQL has another generated secret: add the one of ${srsSecretPath(config.dataDir)} to [mail_auth] srs_old_secrets, or bounces to forwards made before the move do not reverse`);
  ctx.print(`next: set [storage] url to the database at ${where} and restart; never start this site on "file:" again (its spool would be delivered twice)`);
}

async function toFiles(ctx: CliContext, config: Config, dir: string): Promise<void> {
  if (!isPostgresUrl(config.storage.url)) {
    throw new CliError(`${config.file ?? '(defaults)'}: storage.url is "file:"; migrate --to file:DIR exports a PostgreSQL site (run it with that site's configuration)`, exitCodes.config);
  }
  if (resolve(dir) === resolve(config.dataDir)) {
    throw new CliError(`--to: ${dir} is this node's data_dir; export into a new directory (then point data_dir at it)`, exitCodes.usage);
  }
  await notServing(config.dataDir, 'export');
  await notServing(dir, 'export');
  const report = await copying(describePgUrl(config.storage.url), () => exportToFiles(config, dir));
  const d = report.directory;
  ctx.print(`directory: ${d.domains} domains, ${d.users} users, ${d.aliases} aliases, ${d.lists} lists, ${d.roles} roles (verified)`);
  const q = report.queue;
  ctx.print(`queue: ${q.messages} messages (${q.copied} copied, ${q.skipped} already there), ${q.envelopes} envelopes (verified)`);
  const m = report.mailboxes;
  if (m) ctx.print(`mailboxes: ${m.users} users, ${m.folders} folders, ${m.messages} messages (${m.copied} copied, ${m.skipped} already there) (verified) into ${mailDir(exportedConfig(config, dir))}`);
  else ctx.print(`mailboxes: not copied (they are the Maildirs in ${mailDir(config)}: keep [storage] mail_dir pointing there)`);
  const k = report.dkim;
  if (k.keys.length > 0) ctx.print(`dkim: ${k.keys.length} keys (${k.copied} copied, ${k.keys.length - k.copied} already there) (verified) into ${dkimKeyDir(dir)}`);
  const t = report.tokens;
  if (t.tokens > 0) ctx.print(`tokens: ${t.tokens} API tokens (${t.copied} copied, ${t.tokens - t.copied} already there) (verified) into ${tokenFile(exportedConfig(config, dir))}`);
  if (report.srs === 'written' || report.srs === 'there') ctx.print(`srs: the nodes' generated secret is ${srsSecretPath(dir)}${report.srs === 'there' ? ' (already there)' : ''}`);
  if (report.srs === 'other') ctx.print(`srs: ${srsSecretPath(dir)} holds another secret: add the nodes' (shared_secrets, row srs) to [mail_auth] srs_old_secrets, or bounces to forwards made before the move do not reverse`);
  ctx.print(`next: set data_dir = "${dir}" and [storage] url = "file:" and start one node; never start the PostgreSQL nodes again (the queue would be delivered twice)`);
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('migrate')
    .description('copy this file-based site into PostgreSQL (--to postgres://…), or this PostgreSQL site into a files data directory (--to file:DIR); safe to run again')
    .requiredOption('--to <target>', 'postgres://user@host:5432/db, or file:DIR (a new data directory)')
    .action(async (opts: { to: string }, cmd: Command) => {
      const config = ctx.config(cmd);
      if (isPostgresUrl(opts.to)) return toPostgres(ctx, config, opts.to);
      const dir = fileTarget(opts.to);
      if (dir !== undefined) return toFiles(ctx, config, dir);
      throw new CliError(`--to: expected a "postgres://…" url or "file:DIR", got "${opts.to.replace(/:[^:@/]*@/, ':…@')}"`, exitCodes.usage);
    });
}
