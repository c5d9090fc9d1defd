/**
 * @module serve-command
 * `correio serve`: runs every configured service in one process; SIGTERM or SIGINT stops it
 * cleanly (listeners closed, sessions finished, queue runner stopped) through the app's stop().
 * Standards: none.
 * Security: the configuration is validated before anything listens.
 * Limitations: a second signal during the stop exits at once with status 75.
 */
import type { Command } from 'commander';
import { startApp } from '../../app/index.js';
import { exitCodes, type CliContext } from '../cli-context.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run every configured service; stop with SIGTERM or SIGINT')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = ctx.config(cmd);
      const app = await startApp(config);
      await new Promise<void>((resolve, reject) => {
        let stopping = false;
        const onSignal = (signal: NodeJS.Signals): void => {
          if (stopping) {
            ctx.stderr.write(`correio: ${signal} again, exiting without waiting\n`);
            process.exit(exitCodes.tempFail);
          }
          stopping = true;
          app.stop().then(
            () => {
              process.off('SIGTERM', onSignal);
              process.off('SIGINT', onSignal);
              resolve();
            },
            (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
          );
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      });
    });
}
