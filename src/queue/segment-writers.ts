/**
 * @module segment-writers
 * Which process appends to a segment, and whether it still may: what lets several processes
 * append to one spool (`[smtp] processes`, app/acceptor-pool.ts) with no lock between them.
 * Each appending process writes only segments it created, and a segment's id names its writer:
 *
 *   seg/<uniqueId>u<pid>     appended to by process <pid> only ("u" is not in uniqueId's alphabet)
 *   seg/<segid>.sealed       its writer will append no more (written after the file is closed)
 *
 * A segment of another process is finished (it cannot grow any more) when it is sealed or its
 * writer is dead. Only a finished segment may have a damaged tail cut off at recovery or be
 * removed once every record in it is done; the delivering process follows the others' open
 * segments by scanning what they appended since its last look (segment-messages.ts refresh).
 * Segments of older spools (no "u<pid>") and this process's own retired ones are finished.
 * Standards: POSIX kill(2) with signal 0 (util/pid-alive.ts).
 * Security: the pid comes from a file name checked against the segment alphabet; it is only
 *   probed with signal 0, never signalled.
 * Limitations: a dead writer's pid reused by a live process keeps its segment open (kept on disk,
 *   never lost) until that process ends or the next start of the delivering process seals it.
 */
import { access, writeFile } from 'node:fs/promises';
import { pidAlive } from '../util/index.js';
import type { SpoolPaths } from './spool-layout.js';

const writerTag = /u([1-9][0-9]{0,9})$/;

/** A new segment id for this process: `newId()` tagged with the writer's pid. */
export function newSegmentId(newId: () => string, pid: number): string {
  return `${newId()}u${pid}`;
}

/** The pid that appends to `segId`, when its id names one. */
export function segmentWriter(segId: string): number | undefined {
  const m = writerTag.exec(segId);
  return m ? Number(m[1]) : undefined;
}

/** Whether `segId` is appended to by another process than `self` (this one's pid). */
export function foreignSegment(segId: string, self: number): boolean {
  const pid = segmentWriter(segId);
  return pid !== undefined && pid !== self;
}

/** The marker a writer leaves when it stops appending to `segId`. */
export function sealedPath(paths: SpoolPaths, segId: string): string {
  return `${paths.segment(segId)}.sealed`;
}

/** Marks `segId` as no longer appended to (not synced: after a crash its writer is dead anyway). */
export async function sealSegment(paths: SpoolPaths, segId: string): Promise<void> {
  await writeFile(sealedPath(paths, segId), '', { mode: 0o600 }).catch(() => undefined);
}

/** Whether another process than `self` may still append to `segId` (see the module comment). */
export async function segmentOpen(paths: SpoolPaths, segId: string, self: number): Promise<boolean> {
  const pid = segmentWriter(segId);
  if (pid === undefined || pid === self) return false;
  try {
    await access(sealedPath(paths, segId));
    return false;
  } catch {
    return pidAlive(pid);
  }
}
