/**
 * @module reclaim-memory
 * Lets streaming code ask V8 for collections as a large amount of body data goes through
 * (young-generation ones, and a full one per so much streamed for the heap's size), and the
 * server a full collection after the queue's load (collectGarbage). Socket reads allocate a
 * fresh 64 KB buffer each; V8 only collects them once its external-memory heuristics fire (tens
 * of MB later), so a 100 MB message would raise RSS by far more than the data actually in
 * flight. A collection every few MB keeps RSS flat: a minor one frees the chunks that died
 * young, a full one those that were promoted first.
 * Standards: none.
 * Security: none.
 * Limitations: relies on V8's --expose-gc, enabled at run time; where that is refused it is a no-op.
 *   `gc()` with no options is a full, synchronous collection, whose cost grows with everything
 *   live (~25 ms on a 27 MB heap, ~200 ms on 232 MB: bench/reclaim-cost.ts), and
 *   `execution: 'async'` only defers it to a task of its own on the same thread. Until session
 *   22 the reclaimer asked for a full one every 2 MB, whatever the heap; now a full one comes
 *   once per eighth of the heap streamed (at least 4 MB): a server with a big heap lets a big
 *   message's promoted chunks wait longer (RSS) rather than stop for each 2 MB.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

export type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

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

/**
 * Counts streamed octets and asks for a collection every `everyBytes`: a young-generation one
 * (it frees the chunks that died young), or a full one once the octets streamed since the last
 * full one reach a `heapShare`th of the heap in use, and at least twice `everyBytes` (it frees
 * the chunks promoted before they died). A full collection stops the thread for a time that
 * grows with what is live, so it is asked for once per so much streamed: its cost per octet
 * streamed stays the same whatever the heap's size. `gc` and `heapUsed`: V8's, unless a test
 * gives its own.
 */
export class MemoryReclaimer {
  private since = 0;
  private sinceFull = 0;
  constructor(
    private readonly everyBytes = 2 * 1024 * 1024,
    private readonly heapShare = 8,
    private readonly gc: () => GcFunction | null = getGc,
    private readonly heapUsed: () => number = () => v8.getHeapStatistics().used_heap_size,
  ) {}
  account(bytes: number): void {
    this.since += bytes;
    this.sinceFull += bytes;
    if (this.since < this.everyBytes) return;
    this.since = 0;
    const gc = this.gc();
    if (!gc) return;
    if (this.sinceFull >= Math.max(2 * this.everyBytes, this.heapUsed() / this.heapShare)) {
      this.sinceFull = 0;
      // gc() with no options is the full, synchronous collection (Node 20's V8 answers
      // { type: 'major' } without execution 'async' with a young-generation one)
      gc();
    } else gc({ type: 'minor' });
  }
}

/**
 * Asks for a full collection as a task of its own (V8 runs it on this thread once the caller
 * has returned: it stops the thread, but not inside the caller), for after a burst of garbage
 * that does not come again: the queue's load at start (a walk of a million envelopes, or a
 * saved schedule's restore and rescan) leaves hundreds of MB of dead objects that V8 would
 * otherwise keep in a grown heap while the server stays busy (issue 19).
 */
export function collectGarbage(): void {
  getGc()?.({ type: 'major', execution: 'async' });
}
