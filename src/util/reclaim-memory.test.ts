import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { MemoryReclaimer, collectGarbage, type GcFunction } from './reclaim-memory.js';

/**
 * The kinds of the collections V8 reports while `work` runs and after (perf_hooks 'gc' entries):
 * until `enough` says so, or one second.
 */
async function collectionsDuring(work: () => void, enough: (kinds: number[]) => boolean = (k) => k.length > 0): Promise<number[]> {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    // a gc entry's detail names the collection (NodeGCPerformanceDetail)
    for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    work();
    // the entries come after the collection, in a later task
    for (let i = 0; i < 100 && !enough(kinds); i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    return kinds;
  } finally {
    observer.disconnect();
  }
}

// first in the file: collectGarbage's full collection below must not fall inside these windows
void test('MemoryReclaimer with V8: past its bound a young-generation collection, no full one before its share of the heap is streamed', async () => {
  // a heap said to be 1 GB: a full collection only after 256 MB streamed
  const reclaimer = new MemoryReclaimer(64 * 1024, 4, undefined, () => 1024 * 1024 * 1024);
  const kinds = await collectionsDuring(() => {
    for (let i = 0; i < 8; i++) reclaimer.account(16 * 1024);
  });
  assert.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MINOR), `collections seen: ${kinds.join(', ') || 'none'}`);
  // a full collection stops the thread for a time that grows with the heap: ~200 ms on 232 MB,
  // which the reclaimer asked for every 2 MB of a big message until session 22 (docs/performance.md)
  assert.ok(!kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR), `a full collection among ${kinds.join(', ')}`);
});

void test('MemoryReclaimer asks for a full collection (gc() without options) once per heapShare-th of the heap streamed, at least twice its bound; minor ones between', () => {
  const asked: string[] = [];
  const record: GcFunction = (options) => asked.push(options === undefined ? 'none' : `${options.type ?? '?'}/${options.execution ?? '-'}`);
  let heap = 1000;
  const reclaimer = new MemoryReclaimer(1000, 4, () => record, () => heap);
  reclaimer.account(999);
  assert.deepEqual(asked, [], 'below the bound: nothing');
  for (let i = 0; i < 4; i++) reclaimer.account(1000);
  assert.deepEqual(asked, ['minor/-', 'none', 'minor/-', 'none'], 'a small heap: a full one every 2000 octets');
  asked.length = 0;
  heap = 40_000;
  for (let i = 0; i < 10; i++) reclaimer.account(1000);
  assert.deepEqual(asked, [...Array<string>(9).fill('minor/-'), 'none'], 'a heap of 40,000: a full one per 10,000 streamed');
});

void test('MemoryReclaimer with V8: the full collection comes when its share is streamed', async () => {
  const reclaimer = new MemoryReclaimer(64 * 1024, 4, undefined, () => 0);
  const kinds = await collectionsDuring(
    () => {
      for (let i = 0; i < 8; i++) reclaimer.account(16 * 1024);
    },
    (k) => k.includes(constants.NODE_PERFORMANCE_GC_MAJOR),
  );
  assert.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR), `collections seen: ${kinds.join(', ') || 'none'}`);
});

void test('collectGarbage runs a full collection: an object nothing holds any more is collected', async () => {
  let held: object | undefined = { big: new Array(1000).fill('x') };
  const ref = new WeakRef(held);
  held = undefined;
  // a WeakRef's target stays at least until the current job ends
  await new Promise((r) => setImmediate(r));
  collectGarbage();
  for (let i = 0; i < 500 && ref.deref() !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(ref.deref(), undefined);
});
