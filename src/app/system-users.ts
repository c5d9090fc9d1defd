/**
 * @module system-users
 * The machine's accounts by name or uid (getpwnam/getpwuid, which Node does not expose):
 * `getent passwd`, so that NSS sources (LDAP, systemd's DynamicUser) count, else /etc/passwd.
 * Standards: passwd(5), getent(1).
 * Security: the answer is only as good as the system's user database; the key is passed as one
 *   argument (no shell), and only names and numbers of passwd(5)'s shape are asked for.
 * Limitations: a lookup spawns getent (milliseconds): callers cache what they look up often.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface SystemUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

function parseLine(line: string): SystemUser | undefined {
  const f = line.split(':');
  if (f.length < 4) return undefined;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  return f[0] !== '' && Number.isInteger(uid) && Number.isInteger(gid) ? { name: f[0], uid, gid } : undefined;
}

/** The account with this name or numeric uid; undefined when there is none. */
export function findSystemUser(nameOrUid: string | number): SystemUser | undefined {
  const key = String(nameOrUid);
  if (!/^([A-Za-z_][A-Za-z0-9_.-]*\$?|\d+)$/.test(key)) return undefined;
  try {
    const out = execFileSync('getent', ['passwd', key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    return parseLine(out.split('\n')[0]);
  } catch (err) {
    // getent exits 2 for "no such key"; only a missing getent falls back to the file
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
  }
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const u = parseLine(line);
      if (u && (u.name === key || String(u.uid) === key)) return u;
    }
  } catch {
    /* no passwd file: no such user */
  }
  return undefined;
}
