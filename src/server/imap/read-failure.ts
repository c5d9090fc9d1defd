/**
 * @module read-failure
 * What a command does when a message of the view cannot be read. ENOENT alone means the message
 * was removed meanwhile (expunged by another session or process between the listing and the
 * read): the command goes on as for a message gone. Any other error is the store failing
 * (EACCES, EISDIR, EIO, EMFILE …): the command answers a tagged NO naming the condition, and the
 * failure is published on the error channel (the mail log) with the message's file and errno.
 * A write a read implies (FETCH's \Seen) that fails is published there too, the answer unchanged.
 * Standards: RFC 5530 §3 (UNAVAILABLE: a temporary failure of a subsystem; SERVERBUG: the
 *   server broke one of its own invariants, here a message it lists that it cannot read; LIMIT).
 * Security: the client is told the errno only, never a path; the log has the path. The session
 *   goes on, and other sessions are unaffected.
 * Limitations: an error of a PostgreSQL store (no errno) is taken as temporary.
 */
import { channel } from 'node:diagnostics_channel';
import { channels } from '../../core/index.js';
import { MessageTooLarge } from './message-reader.js';
import { no, type TaggedResult } from './session-types.js';

/** Errnos that say "try again later": out of descriptors or memory, the device or file system failing for now. */
const temporary = new Set(['EMFILE', 'ENFILE', 'EIO', 'EAGAIN', 'EBUSY', 'ENOMEM', 'ETIMEDOUT', 'ESTALE', 'EINTR']);

const errorChannel = channel(channels.error);

/** A message that exists but cannot be read: `result` is the command's tagged answer. */
export class MessageUnreadable extends Error {
  constructor(
    readonly result: TaggedResult,
    options: { cause: unknown },
  ) {
    super(result.text, options);
  }
}

const errnoOf = (err: unknown): string | undefined => {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
};

/** Whether an error reading a message says it was removed meanwhile. */
export const removedMeanwhile = (err: unknown): boolean => errnoOf(err) === 'ENOENT';

/**
 * undefined when `err` says the message was removed meanwhile (ENOENT); else the failure to
 * answer (thrown or returned by the caller), published on the error channel as it is made.
 */
export function readFailure(where: string, at: { readonly user: string; readonly folder: string; readonly key: string }, err: unknown): MessageUnreadable | undefined {
  if (err instanceof MessageUnreadable) return err;
  if (removedMeanwhile(err)) return undefined;
  const code = errnoOf(err);
  let result: TaggedResult;
  if (err instanceof MessageTooLarge) result = no('Message too large to read', 'LIMIT');
  else if (code === undefined || temporary.has(code)) result = no(`Message cannot be read now${code ? ` (${code})` : ''}, try again later`, 'UNAVAILABLE');
  else result = no(`Message file cannot be read (${code})`, 'SERVERBUG');
  if (!(err instanceof MessageTooLarge)) {
    const path = (err as NodeJS.ErrnoException).path;
    errorChannel.publish({ error: err, where, user: at.user, folder: at.folder, key: at.key, ...(path !== undefined && { path }), ...(code !== undefined && { errno: code }) });
  }
  return new MessageUnreadable(result, { cause: err });
}

/**
 * Publishes on the error channel a write a read implies that failed (FETCH's \Seen): the
 * command's answer is unchanged, the data was sent; the log has the user, folder, uids, errno.
 */
export function impliedWriteFailed(where: string, at: { readonly user: string; readonly folder: string; readonly uids: readonly number[] }, err: unknown): void {
  const code = errnoOf(err);
  const path = (err as NodeJS.ErrnoException | undefined)?.path;
  errorChannel.publish({ error: err, where, user: at.user, folder: at.folder, uid: at.uids[0], uids: at.uids, ...(path !== undefined && { path }), ...(code !== undefined && { errno: code }) });
}
