/**
 * @module maildir-safe-dir
 * The lstat walk every Maildir operation makes before it trusts a path: each level from the
 * store's root down to a folder's directory (and its tmp/, new/, cur/ when asked) must be a real
 * directory, never a symbolic link (issue 12 item 9). A store keeps, per path walked, the device
 * and inode of its last levels (SafeDirs): the next operation on the path lstats only those and
 * walks again when one differs. A path found whole is not looked at again in the same turn of
 * the event loop (an IMAP APPEND checks its folder for TRYCREATE, for the store's append and
 * for the delivery: one lstat each of tmp/, new/ and cur/ instead of three), and a caller may ask
 * synchronously first (SafeDirs.checked: no promise when the answer is known).
 * Standards: none beyond POSIX lstat(2) and mkdir(2).
 * Security: a link or a non-directory anywhere on the path refuses the operation
 *   (MAIL_ERR_UNSAFE_MAILBOX, 451 4.3.0, so a delivery is deferred with the reason); missing
 *   levels are made 0700 for the server's user. The shortened check is as safe as the walk for
 *   what the walk protects: lstat of the last levels resolves every level above them as the
 *   later open will, and it accepts only when that resolution ends at the very directories
 *   (device and inode) the full walk found to be real directories reached through no link. A
 *   link put on the way elsewhere leads to other directories (walked again, refused); one that
 *   leads back to the same directories makes the operation land where the walk's would have.
 * Limitations: the walk and the later open are separate steps (Node has no openat): someone
 *   who can write inside a mailbox's directories could swap a directory for a link in between;
 *   the same someone could move a checked directory away and, were its inode number given to a
 *   new directory at once, have the shortened check accept that one. A check answered from the
 *   same turn is as old as the turn (the loop's callbacks of one poll phase, up to its
 *   setImmediate): the window between check and open grows by that much, not more; the
 *   store's own folder renames and removals forget those answers (SafeDirs.forgetTurn).
 */
import { lstatSync, type BigIntStats } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { MailError, replies } from '../core/index.js';
import { clearAfterTurn } from '../util/index.js';
import { errno } from './maildir-name.js';

/** A mailbox path that holds a symbolic link or a non-directory: refused, never followed. */
function unsafeMailbox(path: string, why: string): MailError {
  const e = new MailError(replies.localError(), 'MAIL_ERR_UNSAFE_MAILBOX');
  e.message = `mailbox path ${path} ${why}: refused`;
  return e;
}

/** A directory's identity: device and inode. */
interface DirId {
  readonly path: string;
  readonly dev: bigint;
  readonly ino: bigint;
}

/** Paths remembered per store; the oldest is forgotten past this. */
const MAX_PATHS = 1000;

/**
 * The walk of one store (safeDir) with the identities of each walked path's last levels kept:
 * a path walked whole before is checked again with one lstat per last level (its `subs`, or
 * the directory itself), each of which must still be a directory with the same device and inode.
 */
export class SafeDirs {
  readonly #root: string;
  readonly #known = new Map<string, readonly DirId[]>();
  /** keys found whole in this turn of the event loop (emptied by a setImmediate) */
  readonly #turn = new Set<string>();

  constructor(root: string) {
    this.#root = root;
  }

  async check(dir: string, create: boolean, subs: readonly string[] = []): Promise<boolean> {
    if (this.checked(dir, subs)) return true;
    const key = subs.length === 0 ? dir : `${dir}\0${subs.join('\0')}`;
    this.#known.delete(key);
    const ids: DirId[] = [];
    const ok = await safeDir(this.#root, dir, create, subs, ids);
    if (ok && ids.length === Math.max(1, subs.length)) {
      this.#known.set(key, ids);
      if (this.#known.size > MAX_PATHS) this.#known.delete(this.#known.keys().next().value as string);
      this.#found(key);
    }
    return ok;
  }

  /**
   * check's answer without a walk, synchronously: true when the path was found whole in this
   * turn or its last levels are still the directories found before (the shortened check);
   * false when only the walk can tell (check then walks). For a caller on a hot path (an IMAP
   * APPEND checks its folder three times): no promise and no await when the answer is known.
   */
  checked(dir: string, subs: readonly string[] = []): boolean {
    const key = subs.length === 0 ? dir : `${dir}\0${subs.join('\0')}`;
    if (this.#turn.has(key)) return true;
    const known = this.#known.get(key);
    if (known === undefined || !known.every(isSameDir)) return false;
    this.#found(key);
    return true;
  }

  /** Forgets the answers of this turn (the store renamed or removed a folder). */
  forgetTurn(): void {
    this.#turn.clear();
  }

  /** `key` found whole (every level and sub): not looked at again until the turn ends. */
  #found(key: string): void {
    clearAfterTurn(this.#turn);
    this.#turn.add(key);
  }
}

function isSameDir(id: DirId): boolean {
  const st = lstatSync(id.path, { bigint: true, throwIfNoEntry: false });
  return st !== undefined && st.isDirectory() && st.ino === id.ino && st.dev === id.dev;
}

/**
 * Checks each level from `root` down to `dir` with lstat: a symbolic link or anything but a
 * directory is refused (unsafeMailbox); `subs` (tmp, new, cur) below `dir` too. A missing level
 * is made (mode 0700) when `create` is set; otherwise the answer is false when `dir` or a level
 * above it is missing (nothing there yet). `last`, when given, receives the identities of the
 * last levels found (each of `subs` that exists, or `dir` when there are none).
 *
 * The lstat calls are synchronous: seven lstat(2) of cached directory entries take a few
 * microseconds on the calling thread, while seven thread-pool requests cost a wake-up and a
 * promise each, which made Maildir delivery ~8 % slower than the cached check before issue 12
 * (docs/performance.md, session 6). Only a missing level (the first delivery) waits for mkdir.
 */
export async function safeDir(root: string, dir: string, create: boolean, subs: readonly string[] = [], last?: DirId[]): Promise<boolean> {
  const rel = relative(root, dir);
  const levels = [root];
  if (rel !== '') for (const part of rel.split(sep)) levels.push(join(levels[levels.length - 1], part));
  const path = levels.length;
  for (const sub of subs) levels.push(join(dir, sub));
  const firstLast = subs.length === 0 ? path - 1 : path;
  for (const [i, level] of levels.entries()) {
    let st: BigIntStats | undefined = lstatSync(level, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) {
      if (!create) {
        if (i < path) return false;
        continue; // a missing tmp/, new/ or cur/ holds nothing to follow
      }
      // the root's own parents (data_dir) may be missing too: made as before, recursively
      await mkdir(level, { mode: 0o700, recursive: i === 0 }).catch((e: unknown) => {
        if (errno(e) !== 'EEXIST') throw e;
      });
      st = lstatSync(level, { bigint: true });
    }
    if (st.isSymbolicLink()) throw unsafeMailbox(level, 'is a symbolic link');
    if (!st.isDirectory()) throw unsafeMailbox(level, 'is not a directory');
    if (i >= firstLast) last?.push({ path: level, dev: st.dev, ino: st.ino });
  }
  return true;
}
