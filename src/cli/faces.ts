/**
 * @module faces
 * What `correio` says about itself: its version (from package.json) and the usage of the
 * faces it is installed under (sendmail, mailq, newaliases), which take sendmail(8)'s and
 * Postfix's command lines rather than commander's.
 * Standards: sendmail(8) and Postfix sendmail(1)/mailq(1)/newaliases(1) command lines.
 * Security: none (reads the package's own package.json).
 * Limitations: the version is read once per process, from the package.json above this file.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The version in the package.json of correio (found above this file, in src/ or dist/src/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'correio' && typeof pkg.version === 'string') return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

export type Face = 'sendmail' | 'mailq' | 'newaliases';

/** The help text of each face; printed for --help (and -h where it takes no value). */
export const faceUsage: Record<Face, string> = {
  sendmail: `Usage: sendmail [flags] [recipient...] < message
Submit a message from standard input into correio's spool (the server need not run).

  -t            also take recipients from To/Cc/Bcc (Resent-* when present)
  -i, -oi       a line holding only "." does not end the input
  -f FROM       envelope sender ("<>" for the null sender); -r is the same
  -F NAME       full name for the From: field added when the message has none
  -bm           deliver mail (default)
  -bs           speak SMTP on standard input and output
  -bv           verify recipients only, queue nothing
  -bp           list the queue (as mailq)
  -q            flush the queue once
  -N DSN        NOTIFY: never, or success,failure,delay; -R full|hdrs; -V ENVID
  -B 8BITMIME   body type
  -C FILE       configuration file (as --config FILE)
  -v            say on standard error what happened
  --help        this text

Exit status (sysexits): 0 queued, 64 usage, 65 bad message or address, 66 unreadable input,
67 unknown user, 69 refused, 75 temporary failure (try again), 78 built-in defaults and
no ./var here (run it where \`npm start\` runs, or give -C FILE).
`,
  mailq: `Usage: mailq [--json] [--limit N] [--since ID|TIME] [--config FILE]
List queued messages and each recipient's state, oldest first (as correio queue list).

  --json           print a JSON array, one object per message
  --limit N        at most N messages; when more follow, "more: --since ID" goes to stderr
  --since ID|TIME  messages after message ID (the last of the previous page), or received
                   from TIME on (e.g. 2026-12-05T21:00:00Z)
  --config FILE    configuration file (default: $CORREIO_CONFIG, ./correio.toml, built-in defaults)
  -h, --help       this text
`,
  newaliases: `Usage: newaliases [--config FILE]
Import the configured aliases_file into the directory (as correio alias import FILE).

  --config FILE    configuration file (default: $CORREIO_CONFIG, ./correio.toml, built-in defaults)
  -h, --help       this text
`,
};

/**
 * Whether a face's argv asks for help: --help anywhere before "--", or -h alone (sendmail's -h
 * takes a hop count, so there only a bare "-h" with nothing after it is help).
 */
export function wantsHelp(face: Face, args: readonly string[]): boolean {
  const end = args.indexOf('--');
  const flags = end < 0 ? args : args.slice(0, end);
  if (flags.includes('--help')) return true;
  if (face === 'sendmail') return flags.length === 1 && flags[0] === '-h';
  return flags.includes('-h');
}
