import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FolderMessage, FolderSnapshot } from '../core/index.js';
import { MaildirFolders, MaildirStore } from './index.js';
import { ModseqLog } from './modseq-log.js';

const user = 'suzana@dc.uece.br';
const msg = (n: number): Readable => Readable.from([Buffer.from(`Subject: m${n}\r\n\r\nbody ${n}\r\n`)]);

/** A small deterministic generator (the same run every time). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

const brief = (ms: readonly FolderMessage[]): string[] => ms.map((m) => `${m.uid}/${m.modseq}/${m.flags}/${m.keywords.join(',')}/${m.key}`);

void test('ModseqLog: the UIDs above a MODSEQ, stale entries skipped, out-of-order ones placed, compaction keeps the answers', () => {
  const now = new Map<number, number>();
  const log = ModseqLog.after(10);
  const set = (uid: number, modseq: number): void => {
    now.set(uid, modseq);
    log.add(uid, modseq);
  };
  set(1, 11);
  set(2, 12);
  set(1, 13); // 1 changed again: its entry at 11 is stale
  set(3, 12); // a list read again may tell a lower MODSEQ late
  set(3, 12); // and tell it twice
  now.delete(2); // gone
  const current = (uid: number): number | undefined => now.get(uid);
  assert.deepEqual([...log.since(10, current)!], [1, 3]);
  assert.deepEqual([...log.since(12, current)!], [1]);
  assert.deepEqual([...log.since(13, current)!], []);
  assert.equal(log.since(9, current), undefined, 'below the base: not known');
  assert.equal(log.countAbove(11), 4);
  for (let i = 0; i < 3000; i++) set(100 + (i % 7), 20 + i);
  log.compact(now.size, current);
  assert.ok(log.length <= now.size, `compacted to ${log.length}`);
  assert.deepEqual([...log.since(10, current)!], [1, 3, 100, 101, 102, 103, 104, 105, 106]);
  assert.deepEqual([...log.since(3016, current)!], [101, 102, 103]);
});

void test('changesSince (the MODSEQ log) equals a walk of the folder through random flag changes, expunges, moves, copies, appends and other programs\' changes', async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-modseq-log-'));
  try {
    const store = new MaildirStore(root, { hostname: 'mx' });
    const folders = new MaildirFolders(store);
    const dir = join(root, 'dc.uece.br', 'suzana');
    await folders.createFolder(user, 'Other');
    for (let i = 0; i < 150; i++) await folders.append(user, 'INBOX', msg(i), { flags: i % 3 ? 'S' : '' });
    const r = rng(14);
    /** UIDs expunged from INBOX, with its HIGHESTMODSEQ before (their expunge is above it) */
    const expunged: { uid: number; before: number }[] = [];
    const asked = new Set<number>([0, 1]);
    let walked = 0;
    let logged = 0;
    for (let step = 0; step < 72; step++) {
      const snap = await folders.sync(user, 'INBOX');
      asked.add(snap.highestModseq);
      const some = (k: number): FolderMessage[] => Array.from({ length: 1 + r(k) }, () => snap.list.at(r(snap.list.length))!);
      switch (step % 6) {
        case 0:
          await folders.updateFlags(user, 'INBOX', some(5).map((m) => m.uid), r(2) ? { mode: 'add', flags: 'F', keywords: [`k${r(3)}`] } : { mode: 'remove', flags: 'S' });
          break;
        case 1:
          for (const m of new Set(some(3))) {
            await folders.remove(user, 'INBOX', m.key);
            expunged.push({ uid: m.uid, before: snap.highestModseq });
          }
          break;
        case 2: {
          const ms = [...new Set(some(2))];
          const moved = await folders.move(user, 'INBOX', ms.map((m) => m.key), 'Other');
          for (const m of ms) if (moved.moved.includes(m.key)) expunged.push({ uid: m.uid, before: snap.highestModseq });
          // the copies carry the flags and keywords they had (looked up by key, not from a map of the folder)
          const other = await folders.sync(user, 'Other');
          for (const [i, key] of moved.moved.entries()) {
            const was = ms.find((m) => m.key === key)!;
            const now = [...other.list].find((m) => m.uid === moved.uids[i])!;
            assert.deepEqual([now.flags, now.keywords], [was.flags, was.keywords]);
          }
          break;
        }
        case 3: {
          const other = await folders.sync(user, 'Other');
          const ms = [...other.list].slice(0, 2);
          const copied = await folders.copy(user, 'Other', ms.map((m) => m.key), 'INBOX');
          const inbox = await folders.sync(user, 'INBOX');
          assert.deepEqual(copied.uids.map((u) => { const m = [...inbox.list].find((x) => x.uid === u)!; return [m.flags, m.keywords]; }), ms.map((m) => [m.flags, m.keywords]));
          break;
        }
        case 4: {
          // another program: a flag changed in the file name, a file removed
          const names = (await readdir(join(dir, 'cur'))).sort();
          const a = names[r(names.length)];
          await rename(join(dir, 'cur', a), join(dir, 'cur', `${a.split(':')[0]}:2,R`));
          const b = names.find((n) => n !== a && !n.startsWith(a.split(':')[0]))!;
          const gone = [...snap.list].find((m) => b.split(':')[0] === m.key);
          await unlink(join(dir, 'cur', b));
          if (gone) expunged.push({ uid: gone.uid, before: snap.highestModseq });
          break;
        }
        default:
          await folders.append(user, 'INBOX', msg(1000 + step), { flags: '' });
          if (step % 12 === 5) await writeFile(join(dir, 'new', `1700000000.M${step}P1.other`), 'Subject: dropped in\n\nhi\n');
      }
      // every MODSEQ asked so far, and a few random ones, against a walk of the same snapshot
      const top = (await folders.sync(user, 'INBOX')).highestModseq;
      for (const since of [...asked, r(top + 1), top - 1]) {
        let ch;
        let now: FolderSnapshot;
        // both of one state (a change another program made in the clock tick of ours is found later)
        do {
          ch = await folders.changesSince(user, 'INBOX', since);
          now = await folders.sync(user, 'INBOX');
        } while (now.highestModseq !== ch.highestModseq);
        const walk = [...now.list].filter((m) => m.modseq > since);
        assert.deepEqual(brief(ch.changed), brief(walk), `step ${step}, since ${since}`);
        if (walk.length > now.list.length / 4) walked++;
        else logged++;
        const vanished = new Set(ch.vanished.flatMap((v) => Array.from({ length: v.to - v.from + 1 }, (_, i) => v.from + i)));
        for (const m of now.list) assert.ok(!vanished.has(m.uid), `UID ${m.uid} is in the folder`);
        for (const e of expunged) if (e.before >= since) assert.ok(vanished.has(e.uid), `step ${step}: UID ${e.uid} expunged after ${e.before} is not vanished since ${since}`);
      }
    }
    assert.ok(logged > 100 && walked > 10, `the log answered ${logged} times, the walk ${walked} times`);
    // a new process (its log starts at the HIGHESTMODSEQ it reads: older questions walk) agrees
    const fresh = new MaildirFolders(new MaildirStore(root, { hostname: 'mx' }));
    const now = await folders.sync(user, 'INBOX');
    for (const since of asked) {
      assert.deepEqual(brief((await fresh.changesSince(user, 'INBOX', since)).changed), brief([...now.list].filter((m) => m.modseq > since)));
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
