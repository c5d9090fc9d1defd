/**
 * pg-mail-import's copy of an expunge record (correio migrate): UIDs recorded with their
 * MODSEQ, and the UIDs a source no longer records one by one (below its floor) carried at the
 * floor, so PostgreSQL answers VANISHED (RFC 7162 §3.2.10) for every UID expunged since a
 * client's MODSEQ, and never leaves one out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createTestDatabase, pgUnavailable } from '../../test/helpers/pg.js';
import { PgMailFolders } from './pg-mail-folders.js';
import { importFolder } from './pg-mail-import.js';
import { PgMailStore } from './pg-mail-store.js';

const skip = await pgUnavailable();
const user = 'suzana@dc.uece.br';

void test('an expunge record with a floor: recorded UIDs at their MODSEQ, the unrecorded ones below UIDNEXT at the floor', { skip }, async () => {
  const db = await createTestDatabase();
  const store = await PgMailStore.open(db.url, { maxConnections: 2 });
  try {
    // the source: UIDs 1–9 given, 2 and 7 still there; 9 left at MODSEQ 15; the others left at or below MODSEQ 8
    const imp = await importFolder(store, user, 'INBOX', { uidValidity: 5, uidNext: 10, highestModseq: 20 });
    for (const uid of [2, 7]) {
      await imp.add({ uid, key: `k${uid}`, flags: '', keywords: [], modseq: 3, size: 10, receivedAt: 1_700_000_000_000 }, Readable.from([Buffer.from(`Subject: ${uid}\r\n\r\nx\r\n`)]));
    }
    assert.equal(await imp.expunged?.({ floor: 8, records: [{ modseq: 15, uids: [{ from: 9, to: 9 }] }] }, [2, 7]), 1);
    const folders = new PgMailFolders(store);
    const vanished = async (since: number): Promise<unknown> => (await folders.changesSince(user, 'INBOX', since)).vanished;
    assert.deepEqual(await vanished(5), [{ from: 1, to: 1 }, { from: 3, to: 6 }, { from: 8, to: 9 }], 'older than the floor: every UID not kept');
    assert.deepEqual(await vanished(10), [{ from: 9, to: 9 }], 'after the floor: the recorded one');
    assert.deepEqual(await vanished(15), []);
    // run again (a resumed migrate): nothing changes
    assert.equal(await imp.expunged?.({ floor: 8, records: [{ modseq: 15, uids: [{ from: 9, to: 9 }] }] }, [2, 7]), 1);
    assert.deepEqual(await vanished(5), [{ from: 1, to: 1 }, { from: 3, to: 6 }, { from: 8, to: 9 }]);
  } finally {
    await store.close();
    await db.drop();
  }
});
