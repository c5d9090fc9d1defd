/**
 * @module check-command
 * `correio check`: validates the configuration and the directory before a start, with the
 * checks of app/config-check.ts (the admin API runs the same).
 * Standards: none.
 * Security: read-only except that opening the directory creates it (and postmaster) if absent.
 * Limitations: files are checked for readability, not parsed (certificates are not validated).
 */
import type { Command } from 'commander';
import { runChecks } from '../../app/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('check')
    .description('validate the configuration and the directory')
    .action(async (_opts: unknown, cmd: Command) => {
      const findings = await ctx.withDirectory(cmd, async (directory, config) => ({ out: await runChecks({ config, directory }), config }));
      for (const f of findings.out) ctx.print(`${f.level}: ${f.message}`);
      const errors = findings.out.filter((f) => f.level === 'error').length;
      const where = findings.config.file ?? 'embedded defaults';
      if (errors > 0) throw new CliError(`${where}: ${errors} problem${errors === 1 ? '' : 's'} found`, exitCodes.config);
      ctx.print(`${where}: OK`);
    });
}
