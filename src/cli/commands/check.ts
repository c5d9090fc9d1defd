/**
 * @module check-command
 * `correio check`: validates the configuration and the directory before a start, with the
 * checks of app/config-check.ts (the admin API runs the same).
 * Standards: none.
 * Security: no side effects: the directory is read into a private copy (nothing is created when
 *   the data directory or its database is absent), listen ports are bound for an instant only.
 *   Root keeps its rights for the check (main.ts), as serve binds its ports as root.
 *   A PostgreSQL directory is read through read-only sessions and never migrated (a schema that
 *   is behind is a finding).
 * Limitations: none.
 */
import type { Command } from 'commander';
import { runChecks } from '../../app/index.js';
import { openDirectorySnapshot } from '../../directory/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';
import { describeOsError } from '../os-errors.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('check')
    .description('validate the configuration and the directory')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = ctx.config(cmd);
      const { directory, notes } = await openDirectorySnapshot(config);
      const findings = [...notes];
      try {
        findings.push(...(await runChecks({ config, directory, describeError: (err) => describeOsError(err, config)?.message })));
      } finally {
        await directory.close();
      }
      for (const f of findings) ctx.print(`${f.level}: ${f.message}`);
      const errors = findings.filter((f) => f.level === 'error').length;
      const where = config.file ?? 'embedded defaults';
      if (errors > 0) throw new CliError(`${where}: ${errors} problem${errors === 1 ? '' : 's'} found`, exitCodes.config);
      ctx.print(`${where}: OK`);
    });
}
