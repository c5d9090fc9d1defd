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

/**
 * Runs tagged commands one after another on a Dovecot session, each sent once the previous one's
 * tagged reply arrived: with all of them written and stdin closed at once, Dovecot may see EOF
 * while a long FETCH is still being answered and disconnect in the middle of it.
 */
export async function runDovecot(home: string, commands: string[]): Promise<{ out: Buffer; stderr: string }> {
  const child = spawnDovecotImap(await prepareDovecotHome(home));
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let next = 0;
  const sendNext = (): void => {
    if (next < commands.length) child.stdin!.write(commands[next++]);
    else child.stdin!.end();
  };
  let seen = '';
  child.stdout!.on('data', (b: Buffer) => {
    out.push(b);
    // a tagged reply is "<tag> OK|NO|BAD" at a line start; the tags here are single letters
    seen = (seen + b.toString('latin1')).slice(-4096);
    const tag = /^(\S+) /.exec(commands[next - 1] ?? '')?.[1];
    if (tag && new RegExp(`(^|\r\n)${tag} (OK|NO|BAD)`).test(seen)) {
      seen = '';
      sendNext();
    }
  });
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve());
  });
  sendNext();
  await done;
  return { out: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') };
}
