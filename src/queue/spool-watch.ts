/**
 * @module spool-watch
 * Notification of messages appearing in the spool's `msg/` (inotify through fs.watch): another
 * process (`sendmail`, an import) commits a message by renaming it into `msg/`, and the queue
 * runner reads just that message instead of waiting for its next rescan, which lists all of
 * `msg/` (a million names at 1,000,000 deferred: issue 19).
 * Standards: none.
 * Security: only names of the queue-id form are passed on (never a path).
 * Limitations: a notification is a hint: events may be coalesced or lost (an overflowing inotify
 *   queue), so the runner still rescans now and then. Messages appended to segments are not
 *   seen here (their writers send notices). Where fs.watch fails, nothing is watched.
 */
import { watch } from 'node:fs';
import { isQueueId, type MessageId } from '../core/index.js';

/** Calls `onMessage` for each message name created or changed in `msgDir`; returns the stop. */
export function watchMessageDir(msgDir: string, onMessage: (id: MessageId) => void): () => void {
  try {
    const w = watch(msgDir, { persistent: false }, (_event, name) => {
      if (typeof name === 'string' && isQueueId(name)) onMessage(name);
    });
    w.on('error', () => w.close());
    return () => w.close();
  } catch {
    return () => undefined;
  }
}
