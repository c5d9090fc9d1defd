/**
 * @module reload-command
 * `correio reload`: asks the running server (through its control socket) to re-read
 * correio.toml, the aliases file and the TLS certificate, as SIGHUP does, and says whether it
 * took the new configuration. The file is read here first, so a mistake in it is reported with
 * the same line as at start and the server is not even asked.
 * Standards: sysexits(3).
 * Security: the control socket is 0600 in data_dir: only its owner (or root) can reload.
 * Limitations: a data_dir changed in the file points at another (absent) server: restart instead.
 */
import type { Command } from 'commander';
import { findServerPid, sendControl } from '../../app/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';

/** sysexits(3) EX_UNAVAILABLE: no server to reload */
const EX_UNAVAILABLE = 69;

export function register(program: Command, ctx: CliContext): void {
  program
    .command('reload')
    .description('make the running server re-read its configuration, aliases file and TLS certificate (as SIGHUP)')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = ctx.config(cmd);
      const res = await sendControl(config, { op: 'reload' }, 60_000);
      if (res === undefined) {
        const pid = await findServerPid(config.dataDir);
        throw new CliError(
          pid === undefined
            ? `no correio serve is running on data directory ${config.dataDir}`
            : `correio serve (PID ${pid}) on data directory ${config.dataDir} did not answer on its control socket: send it SIGHUP (kill -HUP ${pid})`,
          EX_UNAVAILABLE,
        );
      }
      if (!res.ok) throw new CliError(`reload refused, the running configuration stays: ${res.error ?? 'unknown reason'}`, exitCodes.config);
      ctx.print('configuration reloaded');
      if (res.restartNeeded && res.restartNeeded.length > 0) {
        ctx.stderr.write(`correio: changed keys that take effect at the next start: ${res.restartNeeded.join(', ')}\n`);
      }
    });
}
