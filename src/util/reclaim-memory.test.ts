import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectGarbage } from './reclaim-memory.js';

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
