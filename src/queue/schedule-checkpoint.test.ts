import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DirSyncer } from '../util/index.js';
import { parseSchedule, schedulePath, takeSchedule, writeSchedule } from './schedule-checkpoint.js';
import { FsQueueStore } from './fs-queue-store.js';
import { StoreQueueControl } from './queue-control.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';

const entries = [
  { id: '01abc-1', at: 0, state: 'queued' as const },
  { id: '01abd-2', at: 1_700_000_000_123, state: 'deferred' as const },
  { id: '01abe-1', at: Infinity, state: 'held' as const },
  { id: '01abf-3', at: 1_700_000_000_456, state: 'notice-pending' as const },
];

void test('a schedule is written whole and taken once; a cut or damaged one is void', () =>
  withTempDir('correio-schedule-', async (dir) => {
    const syncer = new DirSyncer();
    assert.equal(await takeSchedule(dir, syncer), undefined, 'none yet');
    assert.equal(await writeSchedule(dir, syncer, entries), 4);
    const text = await readFile(schedulePath(dir), 'utf8');
    assert.equal(text, 'correio-schedule 2\n0 01abc-1 q\n1700000000123 01abd-2 d\n- 01abe-1 h\n1700000000456 01abf-3 n\nend 4\n');
    assert.deepEqual(await takeSchedule(dir, syncer), entries);
    assert.equal(existsSync(schedulePath(dir)), false, 'taken: removed, so a crash after the start finds none');
    assert.equal(await takeSchedule(dir, syncer), undefined);
    const cut = Buffer.from(text.slice(0, -9));
    assert.equal(await parseSchedule(cut), undefined, 'no end line');
    assert.equal(await parseSchedule(Buffer.from(text.replace('end 4', 'end 5'))), undefined, 'count differs');
    assert.equal(await parseSchedule(Buffer.from(text.replace('01abd-2', '../x-2'))), undefined, 'not an envelope id');
    assert.equal(await parseSchedule(Buffer.from(text.replace('01abd-2 d', '01abd-2 x'))), undefined, 'not a state');
    assert.equal(await parseSchedule(Buffer.from(text.replace('correio-schedule 2', 'correio-schedule 9'))), undefined);
    // an older correio's file (version 1): no states
    assert.deepEqual(await parseSchedule(Buffer.from('correio-schedule 1\n0 01abc-1\n- 01abe-1\nend 2\n')), [{ id: '01abc-1', at: 0 }, { id: '01abe-1', at: Infinity }]);
  }));

void test('an offline change to the queue (the CLI without a server) removes the saved schedule: its times would be stale', () =>
  withTempDir('correio-schedule-', async (dir) => {
    const spool = join(dir, 'spool');
    const owner = await FsQueueStore.open(spool, { cache: true });
    const draft = await owner.createMessage();
    await draft.commit([{
      sender: { local: 'a', domain: 'example.com' }, recipient: { local: 'b', domain: 'example.net' },
      route: { transport: 'smtp', nextHop: 'example.net' }, arrivedAt: 1, size: 3, nextAttemptAt: 5_000, dsn: {}, state: 'deferred',
    }], [Buffer.from('x\r\n')]);
    await owner.saveSchedule([{ id: `${draft.id}-1`, at: 5_000 }]);
    await owner.close();
    const cli = await FsQueueStore.open(spool, { recover: 'never' });
    assert.equal(existsSync(schedulePath(spool)), true, 'reading leaves it');
    for await (const e of cli.walkEnvelopes()) assert.equal(e.messageId, draft.id);
    assert.equal(existsSync(schedulePath(spool)), true);
    assert.equal(await new StoreQueueControl(cli).flush(), 1);
    assert.equal(existsSync(schedulePath(spool)), false, 'the flush removed it first');
    await cli.close();
  }));
