import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { mkdtemp, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { MaildirFolders, MaildirStore } from '../../mailbox/index.js';
import { formatRanges, inSequenceSet, intersectRanges, mergeRanges, subtractNumbers } from '../../protocol/imap/index.js';
import { pick } from './message-commands.js';
import { SelectedMailbox, type ViewMessage } from './selected-mailbox.js';

const user = 'suzana@dc.uece.br';
const msg = (n: number): Readable => Readable.from([Buffer.from(`Subject: m${n}\r\n\r\nbody ${n}\r\n`)]);
const modes = { condstore: false, qresync: false, rev2: true };

async function withFolder(fn: (o: { dir: string; store: MaildirStore; folders: MaildirFolders; lists: () => number }) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'correio-selected-'));
  try {
    const store = new MaildirStore(root, { hostname: 'mx' });
    let lists = 0;
    const list = store.list.bind(store);
    store.list = (u, f) => {
      lists++;
      return list(u, f);
    };
    const folders = new MaildirFolders(store);
    for (let i = 1; i <= 5; i++) await folders.append(user, 'INBOX', msg(i), { flags: '' });
    await fn({ dir: join(root, 'dc.uece.br', 'suzana'), store, folders, lists: () => lists });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** A session's messages in sequence order, as its commands walk them. */
const all = (s: SelectedMailbox): ViewMessage[] => Array.from(s.entries(), ([, m]) => m);
/** A session's view as (uid, flags) pairs. */
const view = (s: SelectedMailbox): string[] => all(s).map((m) => `${m.uid}:${m.flags}`);

void test('changes made through the store reach another session without listing the folder (the journal of our own changes)', () =>
  withFolder(async ({ folders, lists }) => {
    const a = new SelectedMailbox(user, 'INBOX', false, folders, modes);
    await a.open();
    // past the unsure window of the appends above: a listing now is sure (see maildir-folder-state)
    await sleep(2100);
    await folders.sync(user, 'INBOX');
    const before = lists();
    const t0 = Date.now();
    const r = await folders.append(user, 'INBOX', msg(6), { flags: 'S' });
    await folders.updateFlags(user, 'INBOX', [2], { mode: 'add', flags: 'F' });
    const snap = await folders.sync(user, 'INBOX');
    await folders.remove(user, 'INBOX', [...snap.list].find((m) => m.uid === 3)!.key);
    const lines = await a.refresh(true, true);
    assert.deepEqual(lines, ['* 2 FETCH (UID 2 FLAGS (\\Flagged))', '* 3 EXPUNGE', `* 5 EXISTS`]);
    assert.deepEqual(view(a), ['1:', '2:F', '4:', '5:', `${r.uid}:S`]);
    // within two seconds of our own changes nothing was listed again (a slower run lists once, by the rule)
    if (Date.now() - t0 < 1900) assert.equal(lists(), before);
    else assert.ok(lists() <= before + 1);
  }));

void test('another program changing new/ and cur/ between two commands is seen at the next one, also in the same second as our change', () =>
  withFolder(async ({ dir, folders }) => {
    const a = new SelectedMailbox(user, 'INBOX', false, folders, modes);
    await a.open();
    // our change, then at once (the same second) what mutt or Dovecot would do with plain file operations
    await folders.updateFlags(user, 'INBOX', [1], { mode: 'add', flags: 'S' });
    await sleep(25); // past the clock tick of our change (Linux: 1–10 ms); the same tick is the next test's
    const cur = await readdir(join(dir, 'cur'));
    const second = cur.find((n) => a.at(2)!.key === n.split(':')[0])!;
    const third = cur.find((n) => a.at(3)!.key === n.split(':')[0])!;
    await rename(join(dir, 'cur', second), join(dir, 'cur', `${second.split(':')[0]}:2,R`));
    await unlink(join(dir, 'cur', third));
    await writeFile(join(dir, 'tmp', '1700000000.M1P1.other'), 'Subject: dropped in\n\nhi\n');
    await rename(join(dir, 'tmp', '1700000000.M1P1.other'), join(dir, 'new', '1700000000.M1P1.other'));
    const lines = await a.refresh(true, true);
    assert.deepEqual(lines, ['* 1 FETCH (UID 1 FLAGS (\\Seen))', '* 2 FETCH (UID 2 FLAGS (\\Answered))', '* 3 EXPUNGE', '* 5 EXISTS']);
    assert.deepEqual(view(a), ['1:S', '2:R', '4:', '5:', '6:']);
  }));

void test('a change by another program hidden in the stamp of one of ours (the same clock tick) is found within two seconds', () =>
  withFolder(async ({ dir, folders }) => {
    const a = new SelectedMailbox(user, 'INBOX', false, folders, modes);
    await a.open();
    // the other program's unlink runs between our rename and the stamp taken after it: new/ and
    // cur/ then show the stamp our change left, as a change in the same clock tick would
    const victim = (await readdir(join(dir, 'cur'))).find((n) => n.startsWith(a.at(4)!.key))!;
    const renameSync = fs.renameSync;
    fs.renameSync = (from: fs.PathLike, to: fs.PathLike): void => {
      renameSync(from, to);
      fs.unlinkSync(join(dir, 'cur', victim));
    };
    syncBuiltinESMExports();
    try {
      await folders.updateFlags(user, 'INBOX', [1], { mode: 'add', flags: 'F' });
    } finally {
      fs.renameSync = renameSync;
      syncBuiltinESMExports();
    }
    const seen = [...(await a.refresh(true, true))];
    // the unsure window: the next look two seconds after our change lists the folder
    await sleep(2100);
    seen.push(...(await a.refresh(true, true)));
    assert.ok(seen.includes('* 1 FETCH (UID 1 FLAGS (\\Flagged))'), seen.join('|'));
    assert.ok(seen.includes('* 4 EXPUNGE'), seen.join('|'));
    assert.deepEqual(view(a), ['1:F', '2:', '3:', '5:']);
    // and every other session agrees with a fresh listing
    const b = new SelectedMailbox(user, 'INBOX', false, new MaildirFolders(new MaildirStore(join(dir, '..', '..'), { hostname: 'mx' })), modes);
    await b.open();
    assert.deepEqual(view(b), view(a));
  }));

void test('QRESYNC from the store\'s changes (resyncLines, vanishedEarlier) equals a walk of the view; sessions share the snapshot\'s messages until they change them', () =>
  withFolder(async ({ folders }) => {
    const qr = { condstore: true, qresync: true, rev2: true };
    for (let i = 6; i <= 60; i++) await folders.append(user, 'INBOX', msg(i), { flags: i % 2 ? 'S' : '' });
    const a = new SelectedMailbox(user, 'INBOX', false, folders, qr);
    await a.open();
    const asked = [0, 1];
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let step = 0; step < 30; step++) {
      const snap = await folders.sync(user, 'INBOX');
      asked.push(snap.highestModseq);
      const m = snap.list.at(rnd(snap.list.length))!;
      if (step % 3 === 0) await folders.updateFlags(user, 'INBOX', [m.uid, snap.list.at(rnd(snap.list.length))!.uid], { mode: 'add', flags: 'F', keywords: [`k${step % 4}`] });
      else if (step % 3 === 1) await folders.remove(user, 'INBOX', m.key);
      else await folders.append(user, 'INBOX', msg(100 + step), { flags: '' });
      // a live view with messages gone but not yet reported (no EXPUNGE allowed) half the time
      await a.refresh(step % 2 === 0, true);
      // the messages a set names, found by search per range, as a test of every message finds them
      for (let k = 0; k < 20; k++) {
        const end = (): number => (rnd(8) === 0 ? Infinity : 1 + rnd(a.maxUid + 3));
        const set = Array.from({ length: 1 + rnd(3) }, () => {
          const [x, y] = [end(), end()];
          return { from: Math.min(x, y), to: Math.max(x, y) };
        });
        for (const uid of [true, false]) {
          const walk = all(a).flatMap((m, i) => (a.contains(set, m, i + 1, uid) ? [i] : []));
          const picked = pick(a, set, uid);
          assert.ok(Array.isArray(picked) || !uid, 'a UID set is never refused');
          // a sequence number past the end is refused (BAD) rather than left out
          if (Array.isArray(picked)) assert.deepEqual(picked.map((p) => p.seq - 1), walk, `${uid ? 'UID' : 'sequence'} set ${JSON.stringify(set)}`);
        }
      }
      const top = (await folders.sync(user, 'INBOX')).highestModseq;
      for (const since of [...asked, top - 1]) {
        for (const known of [undefined, [{ from: 3, to: 40 }], [{ from: 10, to: Infinity }]]) {
          // UID FETCH ... (CHANGEDSINCE since VANISHED): the view as it is
          const ch = await folders.changesSince(user, 'INBOX', since);
          const max = Math.max(a.uidNext - 1, a.maxUid, 1);
          const within = known ? intersectRanges(ch.vanished, known, max) : mergeRanges(ch.vanished);
          const left = subtractNumbers(within, all(a).map((x) => x.uid));
          assert.equal(await a.vanishedEarlier(since, known), left.length > 0 ? `* VANISHED (EARLIER) ${formatRanges(left)}` : undefined, `step ${step} since ${since}`);
          // UID FETCH set (CHANGEDSINCE since VANISHED): the messages a walk of the view finds (those not gone)
          const set = known ?? [{ from: 1, to: Infinity }];
          const changed = await a.changedIn(set, since);
          assert.deepEqual(changed.places, all(a).flatMap((x, i) => (!x.gone && x.modseq > since && a.contains(set, x, i + 1, true) ? [i] : [])), `step ${step} since ${since}`);
          assert.equal(changed.vanished, await a.vanishedEarlier(since, set));
          // SELECT (QRESYNC ...): a fresh view
          const s = new SelectedMailbox(user, 'INBOX', true, folders, qr);
          await s.open();
          const walk: string[] = [];
          const v = await s.vanishedEarlier(since, known);
          if (v) walk.push(v);
          all(s).forEach((x, i) => {
            if (x.modseq > since && (!known || inSequenceSet(known, x.uid, s.maxUid))) walk.push(s.flagsFetch(i + 1, x));
          });
          assert.deepEqual(await s.resyncLines(since, known), walk, `step ${step} since ${since}`);
        }
      }
    }
    // copy on write: one session's changes to its view leave the store's snapshot and other sessions alone
    const b = new SelectedMailbox(user, 'INBOX', false, folders, qr);
    const c = new SelectedMailbox(user, 'INBOX', false, folders, qr);
    await b.open();
    await c.open();
    const snap = await folders.sync(user, 'INBOX');
    const before = JSON.stringify([...snap.list]);
    assert.equal(b.at(1)!, snap.list.at(0)!, 'shared, not copied, at SELECT');
    b.markGone(1);
    b.took([{ ...snap.list.at(1)!, flags: 'DFS', keywords: ['x'], modseq: snap.highestModseq + 1 }], snap.highestModseq + 1);
    assert.deepEqual([b.at(1)!.gone, b.at(2)!.flags, b.at(2)!.keywords], [true, 'DFS', ['x']]);
    assert.equal(JSON.stringify([...snap.list]), before, 'the snapshot is unchanged');
    assert.equal(JSON.stringify([...(await folders.sync(user, 'INBOX')).list]), before);
    assert.deepEqual([c.at(1)!.gone, c.at(2)!.flags], [undefined, snap.list.at(1)!.flags], 'another session is unchanged');
  }));
