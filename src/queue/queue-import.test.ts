/**
 * importMessage (`correio migrate`) streams a body into the target as SMTP does, never holding
 * it whole: while the source is still producing a 16 MiB body, the octets it produced before
 * are already in the files spool's draft (tmp/<id>) or in PostgreSQL (a transaction that has
 * written chunk rows). The copy is whole afterwards, its envelopes as given; a second import
 * of the same id stores nothing and consumes nothing. Real files and a real PostgreSQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { envelopeIdOf, type Envelope, type MessageId } from '../core/index.js';
import { uniqueId } from '../util/index.js';
import { envelopeInit, readAll } from '../../test/contract/queue-store.contract.js';
import { pgScalar, pgUnavailable, withTestDatabase } from '../../test/helpers/pg.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';
import { FsQueueStore } from './fs-queue-store.js';
import { PgQueueStore } from './pg-queue-store.js';

const piece = 256 * 1024;
const pieces = 64;

/** The same 16 MiB every time: piece i is filled with the letter of i. */
function pieceOf(i: number): Buffer {
  return Buffer.alloc(piece, 0x61 + (i % 26));
}

const wholeHash = ((): string => {
  const h = createHash('sha256');
  for (let i = 0; i < pieces; i++) h.update(pieceOf(i));
  return h.digest('hex');
})();

/**
 * The body, produced piece by piece; before piece i (from `from` on) `stored()` must say at
 * least as many octets as were produced four pieces before are in the target.
 */
function source(stored: () => Promise<boolean | number>, from: number): { body: Readable; checked: () => number } {
  let checked = 0;
  async function* gen(): AsyncGenerator<Buffer> {
    for (let i = 0; i < pieces; i++) {
      if (i >= from) {
        const s = await stored();
        if (typeof s === 'number') assert.ok(s >= (i - 4) * piece, `piece ${i}: ${s} octets in the target, wanted ${(i - 4) * piece} or more`);
        else assert.ok(s, `piece ${i}: nothing written to the target yet`);
        checked++;
      }
      yield pieceOf(i);
    }
  }
  return { body: Readable.from(gen(), { objectMode: false, highWaterMark: 64 * 1024 }), checked: () => checked };
}

function envelopesFor(id: MessageId): Envelope[] {
  return ['a@x.example', 'b@x.example'].map((r, i) => ({
    ...envelopeInit(r, { nextAttemptAt: 42 + i }), id: envelopeIdOf(id, i), messageId: id, size: piece * pieces, attempts: [],
  }));
}

const hashOf = async (r: Readable): Promise<string> => createHash('sha256').update(await readAll(r)).digest('hex');

void test('files spool: a migrated body streams into tmp/ while it is read, and is whole once committed', () =>
  withTempDir('correio-import-', async (dir) => {
    const spool = join(dir, 'spool');
    const store = await FsQueueStore.open(spool);
    try {
      const id = uniqueId();
      const envs = envelopesFor(id);
      const size = (): Promise<number> => Promise.resolve(((): number => {
        try {
          return statSync(join(spool, 'tmp', id)).size;
        } catch {
          return 0;
        }
      })());
      const src = source(size, 8);
      assert.equal(await store.importMessage(id, src.body, envs), true);
      assert.equal(src.checked(), pieces - 8);
      assert.equal(await hashOf(await store.openMessage(id)), wholeHash);
      assert.deepEqual(await store.findMessageEnvelopes(id), envs);
      // there already: nothing is stored and the body is not read
      let read = false;
      const again = new Readable({ read() {
        read = true;
        this.push(null);
      } });
      assert.equal(await store.importMessage(id, again, envs), false);
      assert.equal(read, false);
      assert.equal(again.destroyed, true);
    } finally {
      await store.close();
    }
  }));

void test('PostgreSQL: a migrated body streams into chunk rows while it is read, and is whole once committed', { skip: await pgUnavailable() }, () =>
  withTestDatabase(async (db) => {
    const store = await PgQueueStore.open(db.url, { chunkSize: 512 * 1024 });
    try {
      const id = uniqueId();
      const envs = envelopesFor(id);
      // the draft's own connection has a transaction that has written (chunk rows) before the body ended
      const writing = async (): Promise<boolean> =>
        (await pgScalar(db.url, `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'correio queue bodies' AND backend_xid IS NOT NULL`)) === 1;
      const src = source(writing, 8);
      assert.equal(await store.importMessage(id, src.body, envs), true);
      assert.equal(src.checked(), pieces - 8);
      assert.equal(await hashOf(await store.openMessage(id)), wholeHash);
      assert.ok((await pgScalar(db.url, 'SELECT count(*) AS n FROM queue_body_chunks')) >= 32, 'stored in chunk rows');
      assert.deepEqual(await store.findMessageEnvelopes(id), envs);
      const again = Readable.from([Buffer.from('x')]);
      assert.equal(await store.importMessage(id, again, envs), false);
      assert.equal(again.destroyed, true);
    } finally {
      await store.close();
    }
  }));
