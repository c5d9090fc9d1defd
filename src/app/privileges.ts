/**
 * @module privileges
 * Who correio runs as. Started by root, `correio serve` takes the identity of `run_as` (default:
 * the owner of data_dir) before it opens anything, so every file it creates (serve.pid, the
 * spool, directory.sqlite, the control socket, the generated certificate, mailboxes) is that
 * user's and every permission problem shows at start as it would later; it takes root's
 * effective uid back only around binding its listeners (ports below 1024), then gives root up
 * for good (setgid, setuid: real, effective and saved ids) before it serves. A root CLI command
 * (`correio user add`, `sendmail`, `queue …`) becomes the same user at once, so that it never
 * leaves root-owned files in the spool or the database that the server could not read.
 * Started by anyone else, correio runs as itself; a `run_as` naming another user is refused.
 * Standards: setuid(2), setgroups(2)/initgroups(3) (run_as's supplementary groups, e.g.
 *   ssl-cert for a key under /etc/ssl/private), sysexits(3).
 * Security: the drop is checked (taking uid 0 back must fail afterwards) and fails closed. Root
 *   stays root only when asked to (`run_as = "root"`) or when data_dir is root's, and then says so
 *   in the log. While listeners bind, the process (all its threads) has root's effective uid for
 *   those few event-loop turns; the queue runner starts after them.
 * Limitations: POSIX only (no process.setuid elsewhere: correio runs as whoever starts it).
 *   Reloads re-read the configuration, aliases file and certificates as run_as: they must be
 *   readable by it (or its groups).
 */
import { mkdirSync, statSync, chownSync } from 'node:fs';
import { lchown } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Config } from '../config/index.js';
import { findSystemUser, type SystemUser } from './system-users.js';

const EX_NOPERM = 77;
const EX_CONFIG = 78;

/** A run_as that cannot work; the CLI prints the message and exits with the code. */
export class PrivilegeError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'PrivilegeError';
  }
}

export type PrivilegePlan =
  /** run as the invoking user (not root, or root by choice or by data_dir's owner) */
  | { readonly kind: 'self'; readonly warning?: string }
  /** root that becomes `user` */
  | { readonly kind: 'drop'; readonly user: SystemUser };

function ownerOf(path: string): { uid: number; gid: number } | undefined {
  try {
    const st = statSync(path);
    return { uid: st.uid, gid: st.gid };
  } catch {
    return undefined; // absent (made below) or unreachable (the start says which)
  }
}

function named(uid: number): string {
  return findSystemUser(uid)?.name ?? `uid ${uid}`;
}

function configuredUser(runAs: string): SystemUser {
  const u = findSystemUser(runAs);
  if (!u) throw new PrivilegeError(`run_as: there is no user "${runAs}" on this machine: create it (useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin ${runAs}) or correct run_as`, EX_CONFIG);
  return u;
}

/** Decides who serve runs as (see the module header); throws PrivilegeError for a run_as that cannot work. */
export function planPrivileges(config: Config): PrivilegePlan {
  const uid = process.getuid?.();
  if (uid === undefined || typeof process.setuid !== 'function') return { kind: 'self' };
  if (uid !== 0) {
    if (config.runAs !== undefined) {
      const u = configuredUser(config.runAs);
      if (u.uid !== uid) {
        throw new PrivilegeError(
          `run_as: correio is to run as ${u.name}, but ${named(uid)} started it and cannot switch users: start it as root (it drops to ${u.name} after binding its ports) or as ${u.name}, or remove run_as`,
          EX_NOPERM,
        );
      }
    }
    return { kind: 'self' };
  }
  const owner = ownerOf(config.dataDir);
  if (config.runAs !== undefined) {
    const u = configuredUser(config.runAs);
    if (u.uid === 0) return { kind: 'self' };
    if (owner && owner.uid !== u.uid) {
      throw new PrivilegeError(
        `data_dir: ${config.dataDir} (the data directory) belongs to ${named(owner.uid)}, not to run_as ${u.name}: chown -R ${u.name}: ${config.dataDir}, or set run_as = "${named(owner.uid)}"`,
        EX_CONFIG,
      );
    }
    return { kind: 'drop', user: u };
  }
  if (!owner || owner.uid === 0) {
    return {
      kind: 'self',
      warning: `running as root: the data directory ${config.dataDir} is root's and run_as is not set; set run_as (e.g. "correio") so that correio gives root up after binding its ports`,
    };
  }
  // an owner without an account (a uid left from a removed user) still works by number
  return { kind: 'drop', user: findSystemUser(owner.uid) ?? { name: String(owner.uid), uid: owner.uid, gid: owner.gid } };
}

/** What serve does with a plan: bind with root, then become run_as for good. */
export interface Privileges {
  /** the user the process serves as */
  readonly user: string;
  /** what the log should say once it runs (root kept) */
  readonly warning?: string;
  /** runs `fn` (binding listeners) with root's effective uid, when the process has it */
  bind<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * gives the files `paths` (UNIX sockets bound with root's uid) to the user served as, so that
   * after the drop the server still owns what it listens on; a no-op when root is not held
   */
  own(paths: readonly string[]): Promise<void>;
  /** gives root up for good (real, effective and saved ids); throws if it could be taken back */
  dropForGood(): void;
}

/**
 * Takes run_as's identity for what follows (effective ids and groups; root can still take its
 * effective uid back for bind). Makes data_dir (0700, run_as's) when absent.
 */
export function assumePrivileges(plan: PrivilegePlan, dataDir: string): Privileges {
  if (plan.kind === 'self') {
    const uid = process.getuid?.();
    const user = uid === undefined ? 'self' : named(uid);
    return { user, ...(plan.warning !== undefined && { warning: plan.warning }), bind: (fn) => fn(), own: async () => undefined, dropForGood: () => undefined };
  }
  const { name, uid, gid } = plan.user;
  if (!ownerOf(dataDir)) {
    // the parents as any mkdir -p would make them; the data directory itself private to run_as
    mkdirSync(dirname(dataDir), { recursive: true, mode: 0o755 });
    mkdirSync(dataDir, { mode: 0o700 });
    chownSync(dataDir, uid, gid);
  }
  // initgroups(3) is in Node (process.initgroups) but not in its type declarations
  const initgroups = (process as { initgroups?: (user: string, extraGroup: number) => void }).initgroups;
  if (/^\d+$/.test(name) || !initgroups) process.setgroups!([gid]);
  else initgroups(name, gid);
  process.setegid!(gid);
  process.seteuid!(uid);
  let depth = 0;
  const bind = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (depth++ === 0) process.seteuid!(0);
    try {
      return await fn();
    } finally {
      if (--depth === 0) process.seteuid!(uid);
    }
  };
  return {
    user: name,
    bind,
    // lchown: the path is the socket itself, never what a link there would name
    own: (paths) => bind(async () => {
      for (const p of paths) await lchown(p, uid, gid);
    }),
    dropForGood: () => {
      process.seteuid!(0); // setgid needs CAP_SETGID, which only uid 0 has
      process.setgid!(gid);
      process.setuid!(uid);
      let regained = true;
      try {
        process.seteuid!(0);
      } catch {
        regained = false;
      }
      if (regained || process.getuid!() !== uid || process.geteuid!() !== uid || process.getgid!() !== gid) {
        throw new PrivilegeError(`run_as: could not give up root for ${name}: refusing to run`, EX_NOPERM);
      }
    },
  };
}
