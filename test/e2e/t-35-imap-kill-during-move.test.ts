/**
 * t-35: kill -9 of the IMAP server in the middle of MOVE and COPY (a real process, killed
 * when the folders on disk show the command under way): every message is
 * afterwards in the source folder, the target folder or both, never in neither; no folder
 * holds a message twice; a restarted server serves the folders at once (the dead process's
 * lock is taken over) and gives new messages UIDs above every UID it gave before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { files, killDuring, loginAndSelect, start, subjects, user } from '../helpers/imap-kill.js';
import { LineClient } from '../helpers/net.js';
import { withTempDir } from '../helpers/temp-dir.js';

const count = 150;

void test('kill -9 during MOVE and COPY: nothing lost, nothing doubled within a folder, UIDs never reused', () =>
  withTempDir('correio-t35-', async (root) => {
    const store = new MaildirStore(root, { hostname: 'mx' });
    const folders = new MaildirFolders(store);
    await folders.ensureDefaultFolders(user);
    const all = Array.from({ length: count }, (_, i) => `m${i}`);
    for (const s of all) await store.deliver(user, Readable.from([Buffer.from(`Subject: ${s}\r\n\r\n${s}\r\n`)]), { uniqueKey: s });
    const seen = await folders.sync(user, 'INBOX');
    let maxUid = Math.max(...[...seen.list].map((m) => m.uid));

    const check = async (what: string): Promise<void> => {
      const inbox = await subjects(folders, 'INBOX');
      const archive = await subjects(folders, 'Archive');
      for (const [name, list] of [['INBOX', inbox], ['Archive', archive]] as const) {
        assert.equal(new Set(list).size, list.length, `${what}: a message twice in ${name}`);
      }
      const union = new Set([...inbox, ...archive]);
      for (const s of all) assert.ok(union.has(s), `${what}: ${s} is in neither folder`);
    };

    // MOVE: killed once the copies have started to appear in Archive
    await killDuring(root, 'm', 'm UID MOVE 1:* Archive', async () => (await files(root, 'Archive')) > 0);
    await check('MOVE');
    // MOVE again from what is left, killed once INBOX has begun to empty
    const left = await files(root, 'INBOX');
    await killDuring(root, 'm2', 'm2 UID MOVE 1:* Archive', async () => (await files(root, 'INBOX')) < left);
    await check('second MOVE');
    // COPY back, killed midway: copies may be doubled across folders, never lost
    const inboxNow = await files(root, 'INBOX');
    // (the copies are written into tmp/ and renamed into cur/ all at once: counted in tmp/ too)
    await killDuring(root, 'c2', 'c SELECT Archive\r\nc2 UID COPY 1:* INBOX', async () => (await files(root, 'INBOX', true)) > inboxNow + 5);
    await check('COPY');

    // a restarted server answers at once on the same folders (no lock left by the dead one)
    const { proc, port } = await start(root);
    try {
      const c = await LineClient.connect(port, '127.0.0.1');
      try {
        const sel = await loginAndSelect(c);
        assert.match(sel.at(-1)!, /^s OK \[READ-WRITE\] SELECT completed$/);
        c.write('a APPEND INBOX {13+}\r\nSubject: new\r\n\r\n');
        const a = await c.readTagged('a');
        const uid = Number(/APPENDUID \d+ (\d+)/.exec(a.at(-1)!)?.[1]);
        assert.ok(uid > maxUid, `new UID ${uid} above ${maxUid}`);
        maxUid = uid;
        c.write('x LOGOUT\r\n');
        await c.readTagged('x');
      } finally {
        c.close();
      }
    } finally {
      proc.kill('SIGKILL');
    }
    // the UIDs the store gives now are above every one given before
    const inbox = await folders.sync(user, 'INBOX');
    assert.ok(inbox.uidNext > maxUid);
    assert.equal(new Set([...inbox.list].map((m) => m.uid)).size, inbox.list.length);
  }));
