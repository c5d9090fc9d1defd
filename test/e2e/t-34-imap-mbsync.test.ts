/**
 * t-34: mbsync (isync, a client nobody here wrote) keeps a local Maildir++ tree and a correio
 * mailbox in sync both ways over IMAP: the first run copies the server's folders and messages;
 * then changes on each side (a flag, a deletion, a new message, a new folder) reach the other;
 * a third run finds nothing to do. Skips when mbsync is not installed (Debian package isync).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';

const mbsync = ['/usr/bin/mbsync', '/usr/local/bin/mbsync'].find((p) => existsSync(p));
const skip = mbsync ? false : 'mbsync is not installed (Debian package isync)';
const user = 'suzana@dc.uece.br';

function run(config: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(mbsync!, ['-c', config, '-a'], { timeout: 60_000 }, (err, out, errOut) => (err ? reject(new Error(`mbsync: ${err.message}\n${errOut}`)) : resolve(out + errOut)));
  });
}

/** file name → Maildir info flags of a local folder (cur and new). */
async function localFlags(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sub of ['cur', 'new']) {
    for (const name of await readdir(join(dir, sub)).catch(() => [])) {
      const body = await readFile(join(dir, sub, name), 'latin1');
      const subject = /^Subject: (.*)$/m.exec(body)?.[1].trim() ?? '?';
      out.set(subject, /:2,([A-Z]*)$/.exec(name)?.[1] ?? '');
    }
  }
  return out;
}

void test('mbsync syncs a Maildir++ tree with correio both ways: messages, flags, deletions, folders', { skip }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-t34-'));
  const store = new MaildirStore(join(root, 'server'), { hostname: 'mx' });
  const folders = new MaildirFolders(store);
  const server = new ImapServer({
    hostname: 'mx.dc.uece.br',
    folders,
    authenticate: (u, p) => Promise.resolve(u === user && p === 'secret'),
    authFailureDelayMs: 1,
  });
  try {
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    for (let i = 1; i <= 3; i++) await store.deliver(user, Readable.from([Buffer.from(`Subject: m${i}\r\n\r\nbody ${i}\r\n`)]), { uniqueKey: `m${i}` });
    const local = join(root, 'local', 'INBOX');
    const config = join(root, 'mbsyncrc');
    await writeFile(
      config,
      [
        'IMAPAccount correio',
        'Host 127.0.0.1',
        `Port ${bound.port}`,
        `User ${user}`,
        'Pass secret',
        'SSLType None',
        'AuthMechs LOGIN',
        '',
        'IMAPStore remote',
        'Account correio',
        '',
        'MaildirStore local',
        `Inbox ${local}`,
        'SubFolders Maildir++',
        '',
        'Channel all',
        'Far :remote:',
        'Near :local:',
        'Patterns *',
        'Create Both',
        'Remove Both',
        'Expunge Both',
        'SyncState *',
        '',
      ].join('\n'),
    );
    // 1: the server's mailbox (INBOX and the default folders) comes down
    await run(config);
    assert.deepEqual([...(await localFlags(local))].sort(), [['m1', ''], ['m2', ''], ['m3', '']]);
    for (const f of ['Archive', 'Drafts', 'Junk', 'Sent', 'Trash']) assert.ok(existsSync(join(local, `.${f}`, 'cur')), f);

    // 2: changes on both sides
    const files = new Map<string, string>();
    for (const sub of ['cur', 'new']) for (const n of await readdir(join(local, sub))) files.set(/^Subject: (.*)$/m.exec(await readFile(join(local, sub, n), 'latin1'))![1], join(local, sub, n));
    const m1 = files.get('m1')!;
    await rename(m1, join(local, 'cur', `${m1.split('/').pop()!.replace(/:2,.*$/, '')}:2,S`));
    await unlink(files.get('m2')!);
    await writeFile(join(local, 'new', `${Date.now()}.local1.host`), 'Subject: from-mutt\r\n\r\nwritten locally\r\n');
    await mkdir(join(local, '.Projetos', 'cur'), { recursive: true });
    await mkdir(join(local, '.Projetos', 'new'), { recursive: true });
    await mkdir(join(local, '.Projetos', 'tmp'), { recursive: true });
    await writeFile(join(local, '.Projetos', 'cur', `${Date.now()}.local2.host:2,F`), 'Subject: plano\r\n\r\nnovo projeto\r\n');
    const before = await folders.sync(user, 'INBOX');
    await folders.updateFlags(user, 'INBOX', [[...before.list].find((m) => m.uid === 3)!.uid], { mode: 'add', flags: 'F' });
    await store.deliver(user, Readable.from([Buffer.from('Subject: m4\r\n\r\nbody 4\r\n')]), { uniqueKey: 'm4' });
    await run(config);

    const subjects = async (folder: string): Promise<[string, string][]> => {
      const snap = await folders.sync(user, folder);
      const out: [string, string][] = [];
      for (const m of snap.list) {
        const chunks: Buffer[] = [];
        for await (const c of await folders.open(user, folder, m.key)) chunks.push(c as Buffer);
        out.push([/^Subject: (.*)$/m.exec(Buffer.concat(chunks).toString('latin1'))![1].trim(), m.flags]);
      }
      return out.sort();
    };
    // the server: m1 seen, m2 gone, m3 flagged, m4, the local message; the new folder with its flag
    assert.deepEqual(await subjects('INBOX'), [['from-mutt', ''], ['m1', 'S'], ['m3', 'F'], ['m4', '']]);
    assert.deepEqual(await subjects('Projetos'), [['plano', 'F']]);
    // the local side: m3's flag and m4 came down
    assert.deepEqual([...(await localFlags(local))].sort(), [['from-mutt', ''], ['m1', 'S'], ['m3', 'F'], ['m4', '']]);

    // 3: nothing left to do: a third run changes neither side
    const snapBefore = await folders.sync(user, 'INBOX');
    await run(config);
    const snapAfter = await folders.sync(user, 'INBOX');
    assert.deepEqual([...snapAfter.list].map((m) => [m.uid, m.flags]), [...snapBefore.list].map((m) => [m.uid, m.flags]));
    assert.equal(snapAfter.highestModseq, snapBefore.highestModseq);
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
});
