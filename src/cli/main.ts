/**
 * @module main
 * The `correio` command: one Command per group in commands/ (each exports
 * `register(program, ctx)`), every command with --config FILE, errors as one line
 * `correio: <problem>` on stderr with a sysexits(3) status, no stack traces.
 * sendmail, mailq and newaliases are faces of the same main (bin/*.js).
 * A command for an existing installation run on the embedded defaults away from their data
 * directory ends with 78 and one line saying where it looked and what to do (forInstallation).
 * Standards: sysexits(3).
 * Security: internal errors print their message only; CORREIO_DEBUG=1 adds the stack.
 * Limitations: none.
 */
import { Command, CommanderError } from 'commander';
import { MailError } from '../core/index.js';
import { AcceptorStartError, PrivilegeError } from '../app/index.js';
import { becomeDataDirOwner } from './run-as.js';
import { ConfigError } from '../config/index.js';
import { DirectoryInputError } from '../directory/index.js';
import { AdminError } from '../admin/index.js';
import { CliError, exitCodes, makeContext, requireInstallation, type CliIo } from './cli-context.js';
import { register as registerAlias } from './commands/alias.js';
import { register as registerCheck } from './commands/check.js';
import { register as registerDb } from './commands/db.js';
import { register as registerDirectory } from './commands/directory.js';
import { register as registerDkim } from './commands/dkim.js';
import { register as registerReports } from './commands/reports.js';
import { register as registerLab } from './commands/lab.js';
import { register as registerList } from './commands/list.js';
import { register as registerMigrate } from './commands/migrate.js';
import { register as registerQueue } from './commands/queue.js';
import { register as registerReload } from './commands/reload.js';
import { register as registerResolve } from './commands/resolve.js';
import { register as registerRole } from './commands/role.js';
import { register as registerToken } from './commands/token.js';
import { register as registerSendmail } from './commands/sendmail.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerTrace } from './commands/trace.js';
import { register as registerUser } from './commands/user.js';
import { describeOsError } from './os-errors.js';
import { faceUsage, packageVersion, wantsHelp, type Face } from './faces.js';

/** Maps any error to the line and status the user sees. */
export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof ConfigError) {
    return { message: err.message, exitCode: err.kind === 'unreadable' ? exitCodes.noInput : exitCodes.config };
  }
  if (err instanceof PrivilegeError || err instanceof AcceptorStartError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof DirectoryInputError) return { message: err.message, exitCode: exitCodes.dataErr };
  if (err instanceof AdminError) return { message: err.message, exitCode: err.kind === 'not-found' ? exitCodes.noUser : exitCodes.dataErr };
  // an OS condition (no space, permission, read-only file system) says what to do, not "internal"
  const os = describeOsError(err);
  if (os) return os;
  if (err instanceof MailError) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    if (err.code === 'MAIL_ERR_DIRECTORY') return { message: `directory unavailable${cause}`, exitCode: exitCodes.tempFail };
    return { message: `${err.message}${cause}`, exitCode: err.temporary ? exitCodes.tempFail : exitCodes.dataErr };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { message: `internal error: ${message}`, exitCode: exitCodes.software };
}

/**
 * The commands that read or submit to an existing installation: on the embedded defaults, away
 * from their data directory, they say so (requireInstallation) instead of making an empty one.
 * serve makes it; check, db, migrate and lab have their own places or make new ones; sendmail
 * checks after reading its own -C.
 */
const forInstallation = new Set([
  'alias', 'directory', 'dkim', 'dmarc', 'dmarc-report', 'dns', 'list', 'newaliases', 'queue', 'reload', 'resolve', 'role', 'tls-report', 'token', 'trace', 'user',
]);

/** The top-level command an action belongs to (`queue` for `queue list`). */
function topCommand(action: Command): Command {
  let c = action;
  while (c.parent?.parent) c = c.parent;
  return c;
}

/** Builds the program; exported for tests and for the faces (sendmail, mailq, newaliases). */
export function buildProgram(io: CliIo): Command {
  const ctx = makeContext(io);
  const program = new Command('correio')
    .description('correio mail system')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`correio: ${s.replace(/^error: /, '')}`),
    })
    .configureHelp({ showGlobalOptions: true })
    .option('--config <file>', 'configuration file (default: $CORREIO_CONFIG, ./correio.toml, built-in defaults)')
    .version(`correio ${packageVersion()}`, '-V, --version', 'print the version (correio X.Y.Z)');

  program.hook('preAction', (_program, action) => {
    const installation = forInstallation.has(topCommand(action).name());
    // root becomes the data directory's owner before a command touches it (run-as.ts); serve does
    // it after binding, sendmail once it has read its own -C; check keeps root's rights to bind as serve does
    const asOwner = process.getuid?.() === 0 && action.name() !== 'serve' && action.name() !== 'sendmail' && action.name() !== 'check';
    if (!installation && !asOwner) return;
    let config;
    try {
      config = ctx.config(action);
    } catch {
      return; // the command reports its configuration problem itself, after its usage errors
    }
    if (installation) requireInstallation(config);
    if (asOwner) becomeDataDirOwner(config);
  });
  registerServe(program, ctx);
  registerReload(program, ctx);
  registerUser(program, ctx);
  registerDirectory(program, ctx);
  registerAlias(program, ctx);
  registerList(program, ctx);
  registerRole(program, ctx);
  registerToken(program, ctx);
  registerResolve(program, ctx);
  registerCheck(program, ctx);
  registerSendmail(program, ctx);
  registerQueue(program, ctx);
  registerTrace(program, ctx);
  registerDkim(program, ctx);
  registerReports(program, ctx);
  registerDb(program, ctx);
  registerLab(program, ctx);
  registerMigrate(program, ctx);
  return program;
}

/** The face (sendmail, mailq, newaliases) an argv runs as, with the face's own arguments. */
function faceOf(argv: readonly string[], face: Face | undefined): { face: Face; args: readonly string[] } | undefined {
  if (argv[0] === 'sendmail') return { face: 'sendmail', args: argv.slice(1) };
  if (argv[0] === 'newaliases') return { face: 'newaliases', args: argv.slice(1) };
  if (face === 'mailq' && argv[0] === 'queue' && argv[1] === 'list') return { face, args: argv.slice(2) };
  return undefined;
}

/**
 * Runs the command line (without "node" and the script). Sets process.exitCode; never throws
 * and never prints a stack unless CORREIO_DEBUG is set. `face` is the name the command was
 * installed under (bin/sendmail.js, bin/mailq.js, bin/newaliases.js), for its help text.
 */
export async function main(argv: string[], io: Partial<CliIo> = {}, face?: Face): Promise<void> {
  const full: CliIo = {
    stdin: io.stdin ?? process.stdin,
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  };
  const asFace = faceOf(argv, face);
  if (asFace && wantsHelp(asFace.face, asFace.args)) {
    // sendmail(8)'s flags are not commander's: each face prints its own usage
    full.stdout.write(faceUsage[asFace.face]);
    process.exitCode = exitCodes.ok;
    return;
  }
  const program = buildProgram(full);
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      process.exitCode = exitCodes.usage;
      return;
    }
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already written its message (through outputError) or the help text
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0;
      process.exitCode = ok ? exitCodes.ok : exitCodes.usage;
      return;
    }
    const { message, exitCode } = describeError(err);
    full.stderr.write(`correio: ${message}\n`);
    if (full.env.CORREIO_DEBUG && err instanceof Error && err.stack) full.stderr.write(`${err.stack}\n`);
    process.exitCode = exitCode;
  }
}
