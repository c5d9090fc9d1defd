/**
 * @module include-policy
 * Which file and pipe targets an expansion may produce, and as whom they run (issue 12 item 4).
 * A target's class is where it was written: "alias" (the aliases file, or an alias, role or
 * list owner in the directory: the operator's own configuration) or "include" (a line of an
 * `:include:` file). `delivery.allow_mail_to_files` and `delivery.allow_mail_to_commands` name
 * the classes allowed (Postfix local(8)'s `allow_mail_to_files` / `allow_mail_to_commands`).
 * An include file may drive files and pipes only when it is safe, as sendmail and Postfix
 * require: owned by root or by the user correio runs as, and not group- or world-writable.
 * What a safe include file drives runs as the file's owner, never as root: a root-owned file's
 * targets run as the unprivileged user (65534, "nobody", as Postfix's default_privs), and the
 * identity travels in the route to the pipe and file transports. An include file named by an
 * unsafe one is unsafe too (its name came from someone who could write the first).
 * Standards: Postfix local(8) (DELIVERY RIGHTS, allow_mail_to_commands/files); sendmail's
 *   :include: safety rules; RFC 3463 X.7.1 (delivery not authorized).
 * Security: ownership and mode come from fstat of the opened file (what is read is what is
 *   judged). A refused target becomes an error target (550 5.7.1), shown by `correio resolve`.
 * Limitations: the directories above an include file are not checked (a writable directory
 *   lets someone replace the file, but the replacement is theirs and so refused); the trusted
 *   owners are root and the uid of the process that resolves (`correio resolve` run by another
 *   user than the server may judge differently).
 */
import { open } from 'node:fs/promises';
import type { RunAs } from '../core/index.js';

/** Where a file or pipe target was written. */
export type TargetClass = 'alias' | 'include';

/** An include file as read: its text and who may have written it. */
export interface IncludeFile {
  readonly text: string;
  readonly uid: number;
  readonly gid: number;
  /** st_mode (permission bits and file type) */
  readonly mode: number;
}

export interface TargetPolicy {
  /** classes whose "/file" targets are delivered (default both) */
  readonly allowMailToFiles: readonly TargetClass[];
  /** classes whose "|command" targets are delivered (default both) */
  readonly allowMailToCommands: readonly TargetClass[];
  /** owners an include file may have to drive files and pipes (default root and this process's uid) */
  readonly trustedUids: readonly number[];
  /** who runs what a root-owned include file names (default 65534:65534) */
  readonly unprivileged: RunAs;
}

/** Where the targets being expanded come from. */
export type TargetOrigin =
  | { readonly from: 'alias' }
  | { readonly from: 'include'; readonly path: string; readonly runAs: RunAs }
  | { readonly from: 'include'; readonly path: string; readonly unsafe: string };

export const aliasOrigin: TargetOrigin = { from: 'alias' };

export function defaultTargetPolicy(): TargetPolicy {
  return {
    allowMailToFiles: ['alias', 'include'],
    allowMailToCommands: ['alias', 'include'],
    trustedUids: [...new Set([0, process.getuid?.() ?? 0])],
    unprivileged: { uid: 65534, gid: 65534 },
  };
}

/** Reads an include file and the owner and mode of what was read (fstat of the open file). */
export async function readIncludeFile(path: string): Promise<IncludeFile> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    const text = await fh.readFile('utf8');
    return { text, uid: st.uid, gid: st.gid, mode: st.mode };
  } finally {
    await fh.close();
  }
}

/** The origin of the targets inside `file`, read at `path` and named from `parent`. */
export function includeOrigin(path: string, file: IncludeFile, parent: TargetOrigin, policy: TargetPolicy): TargetOrigin {
  if (parent.from === 'include' && 'unsafe' in parent) return { from: 'include', path, unsafe: `named by unsafe include file ${parent.path}` };
  if (!policy.trustedUids.includes(file.uid)) {
    return { from: 'include', path, unsafe: `include file ${path} is owned by uid ${file.uid}, not root or the server's user` };
  }
  if ((file.mode & 0o022) !== 0) {
    return { from: 'include', path, unsafe: `include file ${path} is group- or world-writable (mode ${(file.mode & 0o7777).toString(8).padStart(4, '0')})` };
  }
  // never root: a root-owned file's targets run unprivileged (Postfix's default_privs)
  const runAs = file.uid === 0 ? policy.unprivileged : { uid: file.uid, gid: file.gid };
  return { from: 'include', path, runAs };
}

/** A human note for the include node of `correio resolve`. */
export function describeOrigin(o: TargetOrigin): string | undefined {
  if (o.from !== 'include') return undefined;
  if ('unsafe' in o) return `unsafe: ${o.unsafe}; its file and pipe targets are refused`;
  return `file and pipe targets run as uid ${o.runAs.uid}, gid ${o.runAs.gid}`;
}

/**
 * Whether a file or pipe target of this origin may be delivered: the identity to run it as
 * (undefined for the operator's aliases: the transport's own default), or the reason it is
 * refused.
 */
export function judgeTarget(kind: 'file' | 'pipe', origin: TargetOrigin, policy: TargetPolicy): { ok: true; runAs?: RunAs } | { ok: false; why: string } {
  const allowed = kind === 'file' ? policy.allowMailToFiles : policy.allowMailToCommands;
  const key = kind === 'file' ? 'delivery.allow_mail_to_files' : 'delivery.allow_mail_to_commands';
  const what = kind === 'file' ? 'file' : 'pipe';
  if (!allowed.includes(origin.from)) return { ok: false, why: `${what} targets from ${origin.from === 'alias' ? 'aliases' : 'include files'} are not allowed (${key})` };
  if (origin.from === 'alias') return { ok: true };
  if ('unsafe' in origin) return { ok: false, why: origin.unsafe };
  return { ok: true, runAs: origin.runAs };
}
