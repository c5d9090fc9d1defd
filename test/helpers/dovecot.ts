/**
 * @module test-dovecot
 * Dovecot's `imap` binary as a reference server for tests and the bench: a configuration for a
 * Maildir under a home directory, and one pre-authenticated imap process per connection on
 * stdin/stdout (DESIGN.md §5; Debian package dovecot-imapd). Processes on the same home share
 * the mailboxes through Dovecot's own index locking, as its connections do under its master.
 * Security: loopback-free (pipes only); when started by root the process runs as `nobody`, and
 *   the home is given to that user first.
 * Limitations: no authentication and no TCP listener: the session starts authenticated
 *   (PREAUTH greeting).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';

export const dovecotImap = '/usr/lib/dovecot/imap';

export interface DovecotHome {
  readonly home: string;
  readonly conf: string;
  /** the system user the imap process runs as (and $USER of the session) */
  readonly user: string;
}

/** Writes `home`/dovecot.conf for the Maildir `home`/Maildir and makes `home` the mail user's. */
export async function prepareDovecotHome(home: string): Promise<DovecotHome> {
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? 'nobody' : userInfo().username;
  const group = asRoot ? 'nogroup' : String(userInfo().gid);
  const conf = join(home, 'dovecot.conf');
  await writeFile(conf, [`mail_location = maildir:${join(home, 'Maildir')}`, `mail_uid = ${user}`, `mail_gid = ${group}`, 'first_valid_uid = 0', 'first_valid_gid = 0', 'listen =', 'ssl = no', 'log_path = /dev/stderr', ''].join('\n'));
  if (asRoot) execFileSync('chown', ['-R', `${user}:${group}`, home]);
  return { home, conf, user };
}

/** One pre-authenticated imap session: write commands to stdin, read responses from stdout. */
export function spawnDovecotImap(d: DovecotHome): ChildProcess {
  // through cat: node's stdio pipes are sockets, and imap on a socket thinks inetd started it
  return spawn('/bin/sh', ['-c', `cat | ${dovecotImap} -c "$CONF" | cat`], { env: { USER: d.user, HOME: d.home, CONF: d.conf, PATH: '/usr/bin:/bin' }, stdio: ['pipe', 'pipe', 'pipe'] });
}
