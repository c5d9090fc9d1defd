import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeMessage } from '../../test/contract/queue-store.contract.js';
import { uniqueId } from '../util/index.js';
import { FsQueueStore } from './index.js';
import { BoundedMessageCache } from './message-cache.js';
import { NameFilter, readAhead } from './spool-scan.js';
import { envelopeFile } from './spool-format.js';

const tmp = () => mkdtemp(join(tmpdir(), 'correio-scan-'));

void test('scanEnvelopes: every envelope once, segment records and message files alike, as walkEnvelopes has them', async () => {
  const dir = await tmp();
  try {
    const store = await FsQueueStore.open(dir, { cache: true });
    // small bodies: segment records; one of them moved to its own file by a change
    const small = [];
    for (let i = 0; i < 6; i++) small.push(...(await storeMessage(store, `m${i}\r\n`, ['a@x.example', 'b@x.example'])));
    await store.deleteEnvelope(small[0].id);
    // a body over 64 KB: a message file from the start
    await storeMessage(store, `${'x'.repeat(70_000)}\r\n`, ['c@x.example']);
    const scanned: string[] = [];
    for await (const env of store.scanEnvelopes()) scanned.push(env.id);
    const walked: string[] = [];
    for await (const env of store.walkEnvelopes()) walked.push(env.id);
    assert.equal(walked.length, 12);
    assert.equal(new Set(scanned).size, scanned.length, 'no envelope twice');
    assert.deepEqual([...scanned].sort(), [...walked].sort());
    await store.close();
    // a store opened again (nothing cached): the same from the files and segments
    const again = await FsQueueStore.open(dir, { cache: true });
    const reread: string[] = [];
    for await (const env of again.scanEnvelopes()) reread.push(env.id);
    assert.deepEqual(reread.sort(), [...walked].sort());
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('a scan\'s reads fill the message cache up to its bound and push nothing out', () => {
  const cache = new BoundedMessageCache({ maxMessages: 3 });
  const known = (id: string) => ({ file: envelopeFile(id, []), envFile: false });
  cache.remember('a', known('a'));
  cache.fill('b', known('b'));
  cache.fill('c', known('c'));
  // full: the scan's next read is not remembered, and the delivery's entry stays
  cache.fill('d', known('d'));
  assert.equal(cache.get('d'), undefined);
  for (const id of ['a', 'b', 'c']) assert.ok(cache.get(id), id);
  // one remembered already is not replaced by a scan's (older or equal) read
  const newer = { file: envelopeFile('a', []), envFile: true };
  cache.remember('a', newer);
  cache.fill('a', known('a'));
  assert.equal(cache.get('a'), newer);
  // a delivery's remember still pushes the oldest out
  cache.remember('e', known('e'));
  assert.equal(cache.get('b'), undefined);
});

void test('readAhead: the ids\' order, at most `ahead` loads under way, and an early stop closes the listing', async () => {
  let running = 0;
  let most = 0;
  const load = async (id: string): Promise<string> => {
    most = Math.max(most, ++running);
    await new Promise((r) => setImmediate(r));
    running--;
    return id.toUpperCase();
  };
  const ids = Array.from({ length: 50 }, (_, i) => `m${i}`);
  const got: string[] = [];
  for await (const [id, v] of readAhead(ids, load, 4)) {
    assert.equal(v, id.toUpperCase());
    got.push(id);
  }
  assert.deepEqual(got, ids);
  assert.equal(most, 4);
  let closed = false;
  async function* listing(): AsyncGenerator<string> {
    try {
      for (const id of ids) yield id;
    } finally {
      closed = true;
    }
  }
  let n = 0;
  for await (const _ of readAhead(listing(), load, 4)) if (++n === 3) break;
  assert.ok(closed, 'the listing was closed');
});

void test('NameFilter: never "no" for a name added; few "maybe" for names not added (100,000 of each)', () => {
  const f = new NameFilter();
  const added = Array.from({ length: 100_000 }, (_, i) => uniqueId(1_700_000_000_000 + i));
  for (const id of added) f.add(id);
  assert.ok(added.every((id) => f.mayHave(id)));
  let maybe = 0;
  for (let i = 0; i < 100_000; i++) if (f.mayHave(uniqueId(1_800_000_000_000 + i))) maybe++;
  // two bits of 2^26 per name: about one expected at 100,000
  assert.ok(maybe < 100, `${maybe} false "maybe"`);
});
