/**
 * @module data-dir-checks
 * `correio check`'s finding about the data directory: serve runs as `run_as` (privileges.ts:
 * root drops to it; anyone else runs as itself) and must be able to create and replace files
 * in data_dir and in its spool and mail folders (and in `storage.mail_dir` when set). Each
 * folder that exists and that user cannot write is one finding naming the path, its owner and
 * mode, and the chown or chmod that fixes it.
 * Standards: POSIX permission bits (owner, group, other; write and search on a directory).
 * Security: read-only: stat and access(2) only. Run by root for another user, the answer comes
 *   from the mode bits and the user's groups (id -G), as the kernel would decide.
 * Limitations: ACLs and read-only mounts are not judged when root checks for another user; a
 *   folder that does not exist yet is not a finding (serve makes it, as run_as, inside data_dir).
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config/index.js';
import { mailDir, spoolDir } from './backends.js';
import type { Check, CheckFinding } from './check-types.js';
import { PrivilegeError, planPrivileges } from './privileges.js';
import { findSystemUser, type SystemUser } from './system-users.js';

function statOf(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** The groups of a user (primary first), from id -G; the primary alone when id cannot tell. */
function groupsOf(user: SystemUser): Set<number> {
  const groups = new Set([user.gid]);
  try {
    const out = execFileSync('id', ['-G', user.name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    for (const g of out.trim().split(/\s+/)) if (/^\d+$/.test(g)) groups.add(Number(g));
  } catch {
    // a uid without an account: its primary group only
  }
  return groups;
}

/** Whether `user` may create files in the folder `st` (write and search), by the mode bits. */
function writableBy(st: Stats, user: SystemUser, groups: Set<number>): boolean {
  const bits = st.uid === user.uid ? (st.mode >> 6) & 7 : groups.has(st.gid) ? (st.mode >> 3) & 7 : st.mode & 7;
  return (bits & 3) === 3;
}

function mode(st: Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

function nameOf(uid: number): string {
  return findSystemUser(uid)?.name ?? `uid ${uid}`;
}

/** The folders serve writes in, data_dir first; a label for each. */
function folders(config: Config): [string, string][] {
  const out: [string, string][] = [['data_dir', config.dataDir], ['data_dir', spoolDir(config)]];
  out.push([config.storage.mailDir !== undefined ? 'storage.mail_dir' : 'data_dir', mailDir(config)]);
  return out;
}

/** data_dir, its spool and mail folders: writable by the user serve runs as. */
export const checkDataDirWritable: Check = async ({ config }) => {
  if (process.getuid === undefined) return [];
  let user: SystemUser;
  try {
    const plan = planPrivileges(config);
    if (plan.kind === 'drop') user = plan.user;
    else if (process.getuid() === 0) return []; // root serving as root writes anywhere
    else {
      const uid = process.getuid();
      user = findSystemUser(uid) ?? { name: `uid ${uid}`, uid, gid: process.getgid?.() ?? uid };
    }
  } catch (err) {
    if (err instanceof PrivilegeError) return [{ level: 'error', message: err.message }];
    throw err;
  }
  const self = user.uid === process.getuid();
  const groups = self ? new Set<number>() : groupsOf(user);
  const may = (path: string, st: Stats): boolean => {
    if (!self) return writableBy(st, user, groups);
    try {
      accessSync(path, constants.W_OK | constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const out: CheckFinding[] = [];
  for (const [key, path] of folders(config)) {
    let st = statOf(path);
    let where = path;
    if (st === undefined) {
      // absent: made at start by serve, in its parent (data_dir itself: by root, or by the user)
      if (path !== config.dataDir || !self) continue;
      while (st === undefined && dirname(where) !== where) {
        where = dirname(where);
        st = statOf(where);
      }
      if (st === undefined) continue;
    }
    if (!st.isDirectory()) {
      out.push({ level: 'error', message: `${key}: ${where} is not a folder: move it away, serve needs a folder there` });
      continue;
    }
    if (may(where, st)) continue;
    const owner = nameOf(st.uid);
    const fix = st.uid !== user.uid ? `chown -R ${user.name}: ${where}` : `chmod u+rwx ${where}`;
    const made = where === path ? '' : ` (to make ${path})`;
    out.push({
      level: 'error',
      message: `${key}: ${where} is not writable by ${user.name}, the user correio serves as${made} (owner ${owner}, mode ${mode(st)}): ${fix}`,
    });
  }
  return out;
};
