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
 * segments by scanning what they appended since its last look (segment-follower.ts).
 * Segments of older spools (no "u<pid>") and this process's own retired ones are finished.
 * The delivering process asks after each delivery that leaves another process's segment with
 * nothing live (OpenSegments): a segment found open there is looked at again only after a
 * moment (a look is an access(2) that fails and two probes of the writer's pid: several per
 * cent of the server's CPU in the relay benchmark, where it came once per message), and then
 * once by itself, so one sealed meanwhile still goes.
 * Standards: POSIX kill(2) with signal 0 (util/pid-alive.ts).
 * Security: the pid comes from a file name checked against the segment alphabet; it is only
 *   probed with signal 0, never signalled.
 * Limitations: a dead writer's pid reused by a live process keeps its segment open (kept on disk,
 *   never lost) until that process ends or the next start of the delivering process seals it.
 *   A finished segment whose last record is delivered within a moment of a look that found it
 *   open goes up to that moment (OpenSegments' recheckMs, 1 s) later.
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

/**
 * Whether other processes' segments are still open, for the delivering process's removal of
 * segments with nothing live: a segment found open a moment ago (`recheckMs`) is taken as open
 * by a call that is not `fresh`, and `later` is called with it once that moment has passed (to
 * look again); a fresh call (a refresh) always looks.
 */
export class OpenSegments {
  readonly #paths: SpoolPaths;
  readonly #self: number;
  readonly #recheckMs: number;
  readonly #later: (segId: string) => void;
  /** segments a look found open, with when */
  readonly #seen = new Map<string, number>();
  /** the look again scheduled for a segment taken as open without a look */
  readonly #again = new Map<string, NodeJS.Timeout>();

  constructor(paths: SpoolPaths, self: number, later: (segId: string) => void, recheckMs = 1000) {
    this.#paths = paths;
    this.#self = self;
    this.#later = later;
    this.#recheckMs = recheckMs;
  }

  /** Whether another process may still append to `segId` (segmentOpen), or was found to a moment ago. */
  async open(segId: string, fresh: boolean): Promise<boolean> {
    const at = this.#seen.get(segId);
    if (!fresh && at !== undefined && Date.now() - at < this.#recheckMs) {
      if (!this.#again.has(segId)) {
        const t = setTimeout(() => {
          this.#again.delete(segId);
          this.#later(segId);
        }, this.#recheckMs - (Date.now() - at));
        t.unref();
        this.#again.set(segId, t);
      }
      return true;
    }
    const open = await segmentOpen(this.#paths, segId, this.#self);
    if (open) this.#seen.set(segId, Date.now());
    else this.#seen.delete(segId);
    return open;
  }

  /** The segment is gone: nothing more to remember of it. */
  forget(segId: string): void {
    this.#seen.delete(segId);
    clearTimeout(this.#again.get(segId));
    this.#again.delete(segId);
  }

  /** Drops every scheduled look. */
  close(): void {
    for (const t of this.#again.values()) clearTimeout(t);
    this.#again.clear();
    this.#seen.clear();
  }
}
