/**
 * @module db-command
 * `correio db migrate` and `correio db status`: the PostgreSQL schema of `[storage] url`.
 * migrate applies every pending migration under the migration lock (nodes running at the same
 * time wait for it, then see it done); status prints, per component, the version in the
 * database and the one this correio expects, and exits 75 when a migration is pending.
 * Standards: sysexits(3).
 * Security: the url's password is never printed (host, port and database only).
 * Limitations: forward only: there is no "db downgrade".
 */
import type { Command } from 'commander';
import { describePgUrl, migrateStorage, storageStatus } from '../../app/index.js';
import { isPostgresUrl, SchemaVersionError } from '../../util/index.js';
import type { Config } from '../../config/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

const EX_UNAVAILABLE = 69;

function postgresUrl(config: Config): string {
  const url = config.storage.url;
  if (!isPostgresUrl(url)) {
    throw new CliError(
      `${config.file ?? '(defaults)'}: storage.url is "${url}": correio db works on PostgreSQL; set [storage] url = "postgres://…"`,
      exitCodes.config,
    );
  }
  return url;
}

/** A failure to reach or use the database, as one line with its sysexits status. */
function dbError(err: unknown, url: string): CliError {
  if (err instanceof SchemaVersionError) return new CliError(err.message, exitCodes.config);
  const message = err instanceof Error ? err.message : String(err);
  return new CliError(`PostgreSQL at ${describePgUrl(url)}: ${message}; check [storage] url and that the server runs`, EX_UNAVAILABLE);
}

export function register(program: Command, ctx: CliContext): void {
  const db = program.command('db').description('the PostgreSQL schema of [storage] url: migrate, status');

  db.command('migrate')
    .description('apply the pending schema migrations (safe while nodes run: one applies, the others wait)')
    .action(async (_opts: unknown, cmd: Command) => {
      const url = postgresUrl(ctx.config(cmd));
      const done = await migrateStorage(url).catch((err: unknown) => {
        throw dbError(err, url);
      });
      for (const c of done) ctx.print(c.from === c.to ? `${c.component}: at version ${c.to}` : `${c.component}: ${c.from} -> ${c.to}`);
    });

  db.command('status')
    .description('print each schema component: version in the database and the one expected (exit 75 when behind)')
    .option('--json', 'print a JSON array')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const url = postgresUrl(ctx.config(cmd));
      const status = await storageStatus(url).catch((err: unknown) => {
        throw dbError(err, url);
      });
      if (opts.json) ctx.print(JSON.stringify(status));
      else for (const s of status) ctx.print(`${s.component}\t${s.current}\t${s.latest}\t${s.current === s.latest ? 'current' : s.current > s.latest ? 'newer than this correio' : 'pending: correio db migrate'}`);
      if (status.some((s) => s.current < s.latest)) throw new CliError(`${describePgUrl(url)}: schema migrations pending; run correio db migrate`, exitCodes.tempFail);
      const newer = status.find((s) => s.current > s.latest);
      if (newer) throw new CliError(`${newer.component} schema version ${newer.current} is newer than this correio (${newer.latest}); upgrade correio`, exitCodes.config);
    });
}
