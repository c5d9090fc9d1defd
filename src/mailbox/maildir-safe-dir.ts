/**
 * @module maildir-safe-dir
 * The lstat walk every Maildir operation makes before it trusts a path: each level from the
 * store's root down to a folder's directory (and its tmp/, new/, cur/ when asked) must be a real
 * directory, never a symbolic link (issue 12 item 9).
 * Standards: none beyond POSIX lstat(2) and mkdir(2).
 * Security: a link or a non-directory anywhere on the path refuses the operation
 *   (MAIL_ERR_UNSAFE_MAILBOX, 451 4.3.0, so a delivery is deferred with the reason); missing
 *   levels are made 0700 for the server's user.
 * Limitations: the walk and the later open are separate steps (Node has no openat): someone
 *   who can write inside a mailbox's directories could swap a directory for a link in between.
 */
import { lstatSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { MailError, replies } from '../core/index.js';
import { errno } from './maildir-name.js';

/** A mailbox path that holds a symbolic link or a non-directory: refused, never followed. */
function unsafeMailbox(path: string, why: string): MailError {
  const e = new MailError(replies.localError(), 'MAIL_ERR_UNSAFE_MAILBOX');
  e.message = `mailbox path ${path} ${why}: refused`;
  return e;
}

/**
 * Checks each level from `root` down to `dir` with lstat: a symbolic link or anything but a
 * directory is refused (unsafeMailbox); `subs` (tmp, new, cur) below `dir` too. A missing level
 * is made (mode 0700) when `create` is set; otherwise the answer is false when `dir` or a level
 * above it is missing (nothing there yet). Run on every operation, never
 * cached: a directory can be replaced by a link at any time.
 *
 * The lstat calls are synchronous: seven lstat(2) of cached directory entries take a few
 * microseconds on the calling thread, while seven thread-pool requests cost a wake-up and a
 * promise each, which made Maildir delivery ~8 % slower than the cached check before issue 12
 * (docs/performance.md, session 6). Only a missing level (the first delivery) waits for mkdir.
 */
export async function safeDir(root: string, dir: string, create: boolean, subs: readonly string[] = []): Promise<boolean> {
  const rel = relative(root, dir);
  const levels = [root];
  if (rel !== '') for (const part of rel.split(sep)) levels.push(join(levels[levels.length - 1], part));
  const path = levels.length;
  for (const sub of subs) levels.push(join(dir, sub));
  for (const [i, level] of levels.entries()) {
    let st = lstatSync(level, { throwIfNoEntry: false });
    if (st === undefined) {
      if (!create) {
        if (i < path) return false;
        continue; // a missing tmp/, new/ or cur/ holds nothing to follow
      }
      // the root's own parents (data_dir) may be missing too: made as before, recursively
      await mkdir(level, { mode: 0o700, recursive: i === 0 }).catch((e: unknown) => {
        if (errno(e) !== 'EEXIST') throw e;
      });
      st = lstatSync(level);
    }
    if (st.isSymbolicLink()) throw unsafeMailbox(level, 'is a symbolic link');
    if (!st.isDirectory()) throw unsafeMailbox(level, 'is not a directory');
  }
  return true;
}
