/**
 * @module dovecot-server
 * Dovecot's whole server (master, auth, imap-login, imap) as a reference for tests that speak
 * IMAP from the greeting on: LOGIN and AUTHENTICATE against a passwd-file of test users, one
 * Maildir home per user under the given directory, listening on a free loopback port.
 * test/helpers/dovecot.ts starts the imap binary alone (pre-authenticated, on pipes); this one
 * is for scripts that log in themselves (James's MPT scripts).
 * Standards: none of its own; Dovecot 2.3's configuration (Debian packages dovecot-core and
 *   dovecot-imapd).
 * Security: listens on 127.0.0.1 only, plain-text passwords of test users in the directory;
 *   started by root, the master runs as root (as Debian's service does) and the mail processes
 *   as `nobody`; started by another user, every process runs as that user (not tried: the
 *   test machines and CI run as root).
 * Limitations: the port comes from freePort, so another process may take it in between (the
 *   start then fails naming Dovecot's log); no TLS, no ACL/quota/metadata plugins.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, LineClient } from './net.js';

export const dovecotMaster = '/usr/sbin/dovecot';

export interface DovecotServer {
  readonly port: number;
  /** stops the master and every process it started */
  stop(): Promise<void>;
}

function config(dir: string, port: number, user: string, group: string, asRoot: boolean): string {
  return `base_dir = ${dir}/run
state_dir = ${dir}/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
log_path = ${dir}/log
mail_location = maildir:~/Maildir
first_valid_uid = 0
first_valid_gid = 0
${asRoot ? '' : `default_internal_user = ${user}\ndefault_login_user = ${user}\ndefault_internal_group = ${group}\n`}namespace inbox {
  inbox = yes
  separator = .
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%n ${dir}/passwd
  default_fields = uid=${user} gid=${group}
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
`;
}

/**
 * Whether a LOGIN of the probe user succeeds: the port accepts and the auth process answers
 * (before it does, imap-login sends "* OK Waiting for authentication process to respond..").
 */
async function loginWorks(port: number): Promise<boolean> {
  let c: LineClient | undefined;
  try {
    c = await LineClient.connect(port);
    c.write(Buffer.from(`p LOGIN ${probe} ${probe}\r\nq LOGOUT\r\n`));
    for (let l = await c.readLine(5000); l !== undefined; l = await c.readLine(5000)) if (l.startsWith('p ')) return l.startsWith('p OK');
    return false;
  } catch {
    return false;
  } finally {
    c?.close();
  }
}

/** A user of our own that tells when Dovecot is ready, not one of the caller's. */
const probe = 'dovecot-ready-probe';

/**
 * Starts Dovecot in `dir` (which must exist and be empty) for `users` (name → password), each
 * with an empty home `dir`/home/<name>; resolves once a LOGIN on its port succeeds.
 */
export async function startDovecotServer(dir: string, users: ReadonlyMap<string, string>): Promise<DovecotServer> {
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? 'nobody' : userInfo().username;
  const group = asRoot ? 'nogroup' : String(userInfo().gid);
  const port = await freePort();
  await mkdir(join(dir, 'home'));
  await writeFile(join(dir, 'passwd'), [...users, [probe, probe]].map(([name, pass]) => `${name}:{PLAIN}${pass}::::${dir}/home/${name}::\n`).join(''));
  await writeFile(join(dir, 'dovecot.conf'), config(dir, port, user, group, asRoot));
  // the mail processes make each home themselves; auth (user dovecot) reads the passwd-file
  if (asRoot) {
    execFileSync('chown', [`${user}:${group}`, join(dir, 'home')]);
    await chmod(dir, 0o755);
  }
  const master = spawn(dovecotMaster, ['-F', '-c', join(dir, 'dovecot.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  master.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => master.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const log = async (): Promise<string> => `${stderr}${await readFile(join(dir, 'log'), 'utf8').catch(() => '')}`;
  for (let i = 0; !(await loginWorks(port)); i++) {
    if (gone || i > 300) {
      master.kill();
      throw new Error(`Dovecot did not start on port ${port}: ${await log()}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    port,
    stop: async () => {
      if (!gone) master.kill('SIGTERM');
      await exited;
    },
  };
}
