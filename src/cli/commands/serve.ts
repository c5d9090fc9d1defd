/**
 * @module serve-command
 * `correio serve`: runs every configured service in one process; SIGTERM or SIGINT stops it
 * cleanly (listeners closed, sessions finished, queue runner stopped) through the app's stop().
 * Only one server runs per data directory: it takes `<data_dir>/serve.pid` first, and a second
 * one exits 75 (EX_TEMPFAIL: it can start once the first has stopped) with one line naming the
 * PID that holds it. OS conditions at start (a port in use or privileged, a data directory that
 * is a file or read-only, …) end it with one line naming the key and the fix (os-errors.ts).
 * Started by root, it becomes `run_as` (default: data_dir's owner) before it opens anything and
 * gives root up for good once its listeners are bound (app/privileges.ts).
 * SIGHUP (or `correio reload`) re-reads the configuration, aliases and certificate (reload.ts).
 * Once started, with standard error on a terminal, it writes there one line per service it runs
 * (serviceLines: `correio: webmail at http://127.0.0.1:8025/ …`); the log's "correio started"
 * line carries the same addresses in every case.
 * SIGTERM drains: the listeners close at once, sessions in progress may finish their
 * transactions (up to 30 s, then 421 4.3.2), the queue runner stops after its grace; a message
 * is either acknowledged with 250 and in the spool, or refused with a 4xx: never lost.
 * Standards: sysexits(3).
 * Security: the configuration is validated before anything listens; the lock is taken before
 *   the spool is opened or the control socket replaced.
 * Limitations: a second signal during the stop exits at once with status 75.
 */
import type { Command } from 'commander';
import { formatListenAddress, type Config } from '../../config/index.js';
import { acquireInstanceLock, assumePrivileges, planPrivileges, startApp, type InstanceLock, type Privileges, type RunningApp } from '../../app/index.js';
import { CliError, exitCodes, type CliContext } from '../cli-context.js';
import { describeOsError } from '../os-errors.js';

/** The addresses serviceLines reads: RunningApp's (ports as bound). */
export type ServedAddresses = Pick<RunningApp, 'smtpAddresses' | 'imapAddresses' | 'pop3Addresses' | 'httpAddresses' | 'metricsAddresses'>;

/**
 * One line per service serve runs, for a person at a terminal (what the "correio started" log
 * line carries, in words): SMTP per mode, IMAP, POP3, the webmail and admin console, /metrics.
 * Only addresses: no password, token or key.
 */
export function serviceLines(app: ServedAddresses): string[] {
  const lines: string[] = [];
  const smtp = new Map<string, string[]>();
  for (const a of app.smtpAddresses()) {
    smtp.set(a.mode, [...(smtp.get(a.mode) ?? []), formatListenAddress(a)]);
  }
  for (const [mode, where] of smtp) lines.push(`correio: smtp (${mode}) on ${where.join(', ')}`);
  const imap = app.imapAddresses().map(formatListenAddress);
  if (imap.length > 0) lines.push(`correio: imap on ${imap.join(', ')}`);
  const pop3 = app.pop3Addresses().map(formatListenAddress);
  if (pop3.length > 0) lines.push(`correio: pop3 on ${pop3.join(', ')}`);
  const http = app.httpAddresses().map((a) => `${a.tls ? 'https' : 'http'}://${formatListenAddress(a)}/`);
  if (http.length > 0) {
    lines.push(`correio: webmail at ${http.join(', ')} (log in with a mailbox's address and password)`);
    lines.push(`correio: admin console at ${http.map((u) => `${u}admin`).join(', ')} (for the accounts in [http] admins)`);
  }
  const metrics = app.metricsAddresses().map((a) => `http://${formatListenAddress(a)}/metrics`);
  if (metrics.length > 0) lines.push(`correio: metrics at ${metrics.join(', ')}`);
  return lines;
}

/** Rethrows an OS condition at start as the one line that says what to do. */
function explained(err: unknown, config: Config): unknown {
  const problem = describeOsError(err, config);
  return problem ? new CliError(problem.message, problem.exitCode) : err;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run every configured service; stop with SIGTERM or SIGINT')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = ctx.config(cmd);
      let lock: InstanceLock;
      let privileges: Privileges;
      try {
        // started by root: run_as's identity from here on, root back only to bind (privileges.ts)
        privileges = assumePrivileges(planPrivileges(config), config.dataDir);
        lock = await acquireInstanceLock(config.dataDir);
      } catch (err) {
        throw explained(err, config);
      }
      // SIGHUP reloads (reload.ts): a refused configuration is logged and the server keeps
      // running. One that comes while the server starts is kept and applied once it runs
      // (node's default for SIGHUP would end the process and leave its socket behind).
      let app: RunningApp | undefined;
      let hangupWhileStarting = false;
      const onHangup = (): void => {
        if (app) void app.reload();
        else hangupWhileStarting = true;
      };
      process.on('SIGHUP', onHangup);
      // SIGTERM/SIGINT are taken from the start too: the SMTP listener is open (and may hold a
      // session in DATA) before the other services are up, and node's default would end the
      // process there and cut that session without a reply. One that comes while starting
      // drains once the start is done.
      let stopRequested: NodeJS.Signals | undefined;
      let onStop: ((signal: NodeJS.Signals) => void) | undefined;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (stopRequested !== undefined) {
          ctx.stderr.write(`correio: ${signal} again, exiting without waiting\n`);
          void lock.release().finally(() => process.exit(exitCodes.tempFail));
          return;
        }
        stopRequested = signal;
        onStop?.(signal);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        // a reload reads the same file again, found the same way (--config, $CORREIO_CONFIG, …)
        const running = await startApp(config, { readConfig: () => ctx.config(cmd), privileges }).catch((err: unknown) => {
          throw explained(err, config);
        });
        app = running;
        // where each service is, in words, for a person at a terminal (as [log] format "auto"
        // writes text there only): the log line "correio started" has every address for the
        // rest, and a log read by a program gets no other lines
        if ((ctx.stderr as NodeJS.WriteStream).isTTY === true) for (const line of serviceLines(running)) ctx.stderr.write(`${line}\n`);
        if (hangupWhileStarting) void running.reload();
        await new Promise<void>((resolve, reject) => {
          onStop = () => {
            running.stop().then(resolve, (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))));
          };
          if (stopRequested !== undefined) onStop(stopRequested);
        });
      } finally {
        process.off('SIGHUP', onHangup);
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        await lock.release();
      }
    });
}
