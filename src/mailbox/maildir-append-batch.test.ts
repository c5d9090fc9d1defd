import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beginBatch, commitBatch } from './maildir-append-batch.js';

void test('maildir-append-batch: the journal\'s name is synced after it appears and after it goes, before begin and commit resolve', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-batch-'));
  try {
    const syncs: { dir: string; journals: string[] }[] = [];
    const record = async (d: string): Promise<void> => {
      syncs.push({ dir: d, journals: (await readdir(d)).filter((n) => n.startsWith('correio-append-')) });
    };
    const id = await beginBatch(dir, record);
    // the sync came after the rename: the journal under its final name, no ".new" left
    assert.deepEqual(syncs, [{ dir, journals: [`correio-append-${id}`] }]);
    await commitBatch(dir, id, record);
    // and after the removal: a journal back after a power loss would roll back acknowledged messages
    assert.deepEqual(syncs[1], { dir, journals: [] });
    assert.equal(syncs.length, 2);
    assert.equal(existsSync(join(dir, `correio-append-${id}`)), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
