/**
 * @module reclaim-memory
 * Lets streaming code ask V8 to collect the young generation after a large amount of body data
 * went through, and the server a full collection after the queue's load (collectGarbage). Socket reads allocate a fresh 64 KB buffer each; V8 only collects them once its
 * external-memory heuristics fire (tens of MB later), so a 100 MB message would raise RSS by far
 * more than the data actually in flight. A minor collection every few MB keeps RSS flat.
 * Standards: none.
 * Security: none.
 * Limitations: relies on V8's --expose-gc, enabled at run time; where that is refused it is a no-op.
 *   `gc()` with no options is a full, synchronous collection, whose cost grows with everything
 *   live (~3.6 ms on a 27 MB heap, ~200 ms on 232 MB: bench/reclaim-cost.ts); the reclaimer asks
 *   for the young generation only (until session 22 it asked for a full one, every 2 MB).
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gcFn: GcFunction | null | undefined;

function getGc(): GcFunction | null {
  if (gcFn !== undefined) return gcFn;
  try {
    v8.setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as GcFunction;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/** Counts streamed octets and runs a minor GC every `everyBytes`. */
export class MemoryReclaimer {
  private since = 0;
  constructor(private readonly everyBytes = 2 * 1024 * 1024) {}
  account(bytes: number): void {
    this.since += bytes;
    if (this.since < this.everyBytes) return;
    this.since = 0;
    // gc() with no options is a full, synchronous collection: the young generation is asked for
    getGc()?.({ type: 'minor' });
  }
}

/**
 * Asks for a full collection (in the background), for after a burst of garbage that does not
 * come again: the queue's load at start (a walk of a million envelopes, or a saved schedule's
 * restore and rescan) leaves hundreds of MB of dead objects that V8 would otherwise keep in a
 * grown heap while the server stays busy (issue 19).
 */
export function collectGarbage(): void {
  getGc()?.({ type: 'major', execution: 'async' });
}
