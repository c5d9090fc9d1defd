import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MaildirFolders, MaildirStore } from '../../mailbox/index.js';
import { SelectedMailbox } from './selected-mailbox.js';

const user = 'suzana@dc.uece.br';
const msg = (n: number): Readable => Readable.from([Buffer.from(`Subject: m${n}\r\n\r\nbody ${n}\r\n`)]);
/** IMAP4rev1: \Recent is claimed and counted (RFC 3501 §2.3.2) */
const rev1 = { condstore: false, qresync: false, rev2: false };

/** \Recent messages not gone, counted by walking the view (what the kept count must equal). */
const walked = (s: SelectedMailbox): number => Array.from(s.entries(), ([, m]) => m).filter((m) => m.recent && !m.gone).length;

void test('the IMAP4rev1 RECENT count kept by the view equals a walk of it through messages coming, expunged and reported', async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-recent-'));
  try {
    const folders = new MaildirFolders(new MaildirStore(root, { hostname: 'mx' }));
    for (let i = 1; i <= 4; i++) await folders.append(user, 'INBOX', msg(i), { flags: '' });
    const a = new SelectedMailbox(user, 'INBOX', false, folders, rev1);
    await a.open();
    assert.equal(a.recentCount, 4, 'the first session takes every message as \\Recent');
    const b = new SelectedMailbox(user, 'INBOX', false, folders, rev1);
    await b.open();
    assert.equal(b.recentCount, 0, 'claimed by the first');
    for (let i = 5; i <= 7; i++) await folders.append(user, 'INBOX', msg(i), { flags: '' });
    const lines = await b.refresh(true, true);
    assert.deepEqual(lines, ['* 7 EXISTS', '* 3 RECENT']);
    assert.equal(b.recentCount, walked(b));
    // a recent and an older message expunged: gone from the count at once, RECENT again when reported
    const snap = await folders.sync(user, 'INBOX');
    for (const uid of [2, 6]) await folders.remove(user, 'INBOX', [...snap.list].find((m) => m.uid === uid)!.key);
    const gone = await b.refresh(false, true);
    assert.deepEqual(gone, []);
    assert.equal(b.recentCount, 2);
    assert.equal(b.recentCount, walked(b));
    assert.deepEqual(b.reportGone(), ['* 6 EXPUNGE', '* 2 EXPUNGE', '* 2 RECENT']);
    assert.deepEqual([b.recentCount, walked(b), b.exists], [2, 2, 5]);
    await a.refresh(true, true);
    assert.deepEqual([a.recentCount, walked(a)], [3, 3]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
