import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { MemoryReclaimer, collectGarbage } from './reclaim-memory.js';

// first in the file: collectGarbage's full collection below must not fall inside its window
void test('MemoryReclaimer asks for a young-generation collection once past its bound, never a full one', async () => {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    // a gc entry's detail names the collection (NodeGCPerformanceDetail)
    for (const e of list.getEntries()) kinds.push((e as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    const reclaimer = new MemoryReclaimer(64 * 1024);
    for (let i = 0; i < 8; i++) reclaimer.account(16 * 1024);
    // the entries come after the collection, in a later task
    for (let i = 0; i < 100 && kinds.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MINOR), `collections seen: ${kinds.join(', ') || 'none'}`);
    // gc() without options is a full collection: on a server's heap of hundreds of MB it took
    // ~160 ms each, every 2 MB of a big message's body (docs/performance.md, session 22)
    assert.ok(!kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR), `a full collection among ${kinds.join(', ')}`);
  } finally {
    observer.disconnect();
  }
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
