/**
 * @module migrate-command
 * `correio migrate --to postgres://…`: moves a file-based site onto PostgreSQL (directory,
 * queue and mailboxes; app/storage-migration.ts), resumable and verified, then says what to
 * change. The server must be stopped (its spool and Maildirs would change under the copy).
 * Standards: sysexits(3).
 * Security: the url's password is never printed.
 * Limitations: no reverse export yet.
 */
import type { Command } from 'commander';
import { describePgUrl, findServerPid, mailDir, migrateToPostgres, MigrationCheckError } from '../../app/index.js';
import { isPostgresUrl } from '../../util/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

const EX_UNAVAILABLE = 69;

export function register(program: Command, ctx: CliContext): void {
  program
    .command('migrate')
    .description('copy this file-based site (directory, queue and mailboxes) into PostgreSQL; safe to run again')
    .requiredOption('--to <url>', 'the PostgreSQL database, postgres://user@host:5432/db')
    .action(async (opts: { to: string }, cmd: Command) => {
      const config = ctx.config(cmd);
      if (!isPostgresUrl(opts.to)) throw new CliError(`--to: expected a "postgres://…" url, got "${opts.to.replace(/:[^:@/]*@/, ':…@')}"`, exitCodes.usage);
      if (isPostgresUrl(config.storage.url)) {
        throw new CliError(`${config.file ?? '(defaults)'}: storage.url is PostgreSQL already; migrate copies a "file:" site`, exitCodes.config);
      }
      const pid = await findServerPid(config.dataDir);
      if (pid !== undefined) throw new CliError(`correio serve (PID ${pid}) uses ${config.dataDir}: stop it first, then migrate`, exitCodes.tempFail);
      const where = describePgUrl(opts.to);
      const report = await migrateToPostgres(config, opts.to).catch((err: unknown) => {
        if (err instanceof MigrationCheckError) throw new CliError(err.message, exitCodes.dataErr);
        if (err instanceof CliError) throw err;
        const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
        throw new CliError(`PostgreSQL at ${where}: ${cause}; check the url and that the server runs`, EX_UNAVAILABLE);
      });
      const d = report.directory;
      ctx.print(`directory: ${d.domains} domains, ${d.users} users, ${d.aliases} aliases, ${d.lists} lists, ${d.roles} roles (verified)`);
      const q = report.queue;
      ctx.print(`queue: ${q.messages} messages (${q.copied} copied, ${q.skipped} already there), ${q.envelopes} envelopes (verified)`);
      const m = report.mailboxes;
      ctx.print(`mailboxes: ${m.users} users, ${m.folders} folders, ${m.messages} messages (${m.copied} copied, ${m.skipped} already there) (verified) from ${mailDir(config)}`);
      ctx.print(`next: set [storage] url to the database at ${where} and restart; never start this site on "file:" again (its spool would be delivered twice)`);
    });
}
