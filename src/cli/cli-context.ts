/**
 * @module cli-context
 * What every `correio` command gets: its standard streams, environment, the configuration named
 * by --config, the directory, and the error type that becomes one line on stderr and a
 * sysexits(3) exit status.
 * Standards: sysexits(3) exit codes (BSD, used by sendmail and Postfix).
 * Security: passwords are read from stdin (never from argv, where `ps` shows them); a terminal
 *   gets a prompt without echo.
 *   Every directory change made through `withDirectory` is recorded in the admin log
 *   (log/admin-log.ts) with the operator's name: the CLI changes the directory without the server.
 *   On the embedded defaults, a command for an existing installation refuses a data directory
 *   that does not exist rather than make one (requireInstallation).
 * Limitations: none.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { openDirectory, type DirectoryBackend } from '../directory/index.js';
import { auditedDirectory } from '../admin/index.js';
import { operatorName, spoolDir } from '../app/index.js';
import { adminLogPath, appendAdminLog } from '../log/index.js';
import { spoolFormatName } from '../queue/index.js';

/** sysexits(3) */
export const exitCodes = {
  ok: 0,
  usage: 64, // EX_USAGE: bad command line
  dataErr: 65, // EX_DATAERR: bad input data
  noInput: 66, // EX_NOINPUT: an input file is missing or unreadable
  noUser: 67, // EX_NOUSER: addressee unknown
  unavailable: 69, // EX_UNAVAILABLE: a service is down (Postfix's mailq with the mail system down)
  software: 70, // EX_SOFTWARE: internal error
  tempFail: 75, // EX_TEMPFAIL: try again later
  noPerm: 77, // EX_NOPERM: not permitted
  config: 78, // EX_CONFIG: configuration error
} as const;

/** An error that ends a command with one line on stderr (`correio: <message>`) and an exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = exitCodes.dataErr) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/**
 * Refuses a command meant for an existing installation (reading it or submitting to it) when the
 * configuration is the embedded defaults (no --config, $CORREIO_CONFIG or ./correio.toml) and
 * their data directory, ./var of the current directory, holds no correio spool (its `format`
 * file, which the first `serve` writes): run away from the checkout, the command would otherwise
 * make a new empty installation and answer from it ("550 5.1.1 No such user here"); run from / it
 * would take the system's /var, which exists everywhere (with a /var/spool of its own). EX_CONFIG: the fix is where it runs or which configuration it reads.
 */
export function requireInstallation(config: Config): void {
  if (config.file !== undefined || existsSync(join(spoolDir(config), spoolFormatName))) return;
  throw new CliError(
    `no correio data directory at ${config.dataDir} (no correio spool in it): with no --config and no ./correio.toml here, correio runs on its embedded defaults, ` +
      'which keep the data in ./var of the directory it runs in (where `npm start` runs it); run this there (once it has started), or pass --config FILE',
    exitCodes.config,
  );
}

export interface CliIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  stdout: Writable;
  stderr: Writable;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export interface CliContext extends CliIo {
  /** writes one line to stdout */
  print(line: string): void;
  /** the configuration named by the command's --config (or $CORREIO_CONFIG, ./correio.toml, defaults) */
  config(cmd: Command): Config;
  /** opens the configured directory; the caller closes it */
  openDirectory(config: Config): Promise<DirectoryBackend>;
  /** records an operator's action in data_dir/admin.log with the operator's name (log/admin-log.ts) */
  recordAdmin(config: Config, change: Readonly<Record<string, unknown>>): void;
  /** opens the directory, runs `fn`, closes it; every change is recorded with recordAdmin */
  withDirectory<T>(cmd: Command, fn: (dir: DirectoryBackend, config: Config) => Promise<T>): Promise<T>;
  /** all of stdin as text */
  readStdin(): Promise<string>;
  /** a password: the first line of stdin, or typed without echo at a terminal; never empty */
  readPassword(prompt?: string): Promise<string>;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function readHidden(io: CliIo, prompt: string): Promise<string> {
  const { stdin, stderr } = io;
  return new Promise((resolve, reject) => {
    let text = '';
    stderr.write(prompt);
    stdin.setRawMode?.(true);
    stdin.setEncoding('utf8');
    const done = (err?: Error): void => {
      stdin.setRawMode?.(false);
      stdin.off('data', onData);
      stdin.pause();
      stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new CliError('interrupted', exitCodes.tempFail));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

export function makeContext(io: CliIo): CliContext {
  const ctx: CliContext = {
    ...io,
    print(line) {
      io.stdout.write(`${line}\n`);
    },
    config(cmd) {
      const opts = cmd.optsWithGlobals<{ config?: string }>();
      return loadConfig({ path: opts.config, env: io.env, cwd: io.cwd });
    },
    openDirectory(config) {
      return openDirectory(config);
    },
    recordAdmin(config, change) {
      if (!appendAdminLog(config.dataDir, config.hostname, { ...change, by: operatorName(io.env), via: 'cli' })) {
        io.stderr.write(`correio: warning: the change is made but could not be recorded in ${adminLogPath(config.dataDir)}\n`);
      }
    },
    async withDirectory(cmd, fn) {
      const config = ctx.config(cmd);
      const opened = await openDirectory(config);
      // who changed what, kept in data_dir/admin.log (docs/logging.md)
      const dir = auditedDirectory(opened, (change) => ctx.recordAdmin(config, change));
      try {
        return await fn(dir, config);
      } finally {
        await opened.close();
      }
    },
    readStdin() {
      return readAll(io.stdin);
    },
    async readPassword(prompt = 'Password: ') {
      const raw = io.stdin.isTTY ? await readHidden(io, prompt) : (await readAll(io.stdin)).split(/\r?\n/)[0];
      if (raw === '') throw new CliError('empty password (give it on the first line of standard input)', exitCodes.dataErr);
      return raw;
    },
  };
  return ctx;
}
