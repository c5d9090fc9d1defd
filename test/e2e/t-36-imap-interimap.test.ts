/**
 * t-36: interimap (Debian package interimap, a QRESYNC synchroniser nobody here wrote) keeps two
 * correio accounts in sync both ways: the first run copies each side's folders and messages to
 * the other; then a flag, a keyword, an expunge and a new message in another folder on either
 * side reach the other side (RFC 7162 QRESYNC SELECT with VANISHED, UIDPLUS, LIST-STATUS,
 * MULTIAPPEND); a third run finds nothing to change. Skips when interimap is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';

const interimap = ['/usr/bin/interimap', '/usr/local/bin/interimap'].find((p) => existsSync(p));
const skip = interimap ? false : 'interimap is not installed (Debian package interimap)';
const alice = 'alice@dc.uece.br';
const bruno = 'bruno@dc.uece.br';

function run(config: string, home: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(interimap!, [`--config=${config}`], { timeout: 60_000, env: { ...process.env, HOME: home, XDG_DATA_HOME: home, XDG_CONFIG_HOME: home } }, (err, out, errOut) =>
      err ? reject(new Error(`interimap: ${err.message}\n${errOut}`)) : resolve(out + errOut),
    );
  });
}

void test('interimap syncs two correio accounts both ways over QRESYNC: messages, flags, keywords, expunges, folders', { skip }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-t36-'));
  const store = new MaildirStore(join(root, 'mail'), { hostname: 'mx' });
  const folders = new MaildirFolders(store);
  const server = new ImapServer({
    hostname: 'mx.dc.uece.br',
    folders,
    authenticate: (u, p) => Promise.resolve((u === alice || u === bruno) && p === 'secret'),
    authFailureDelayMs: 1,
  });
  const deliver = (user: string, subject: string, folder?: string): Promise<unknown> =>
    store.deliver(user, Readable.from([Buffer.from(`Subject: ${subject}\r\nMessage-ID: <${subject}@t36>\r\n\r\nbody of ${subject}\r\n`)]), { uniqueKey: `${user}-${subject}`, ...(folder && { folder }) });
  /** subject → flags and keywords of every message of a user's folder */
  const content = async (user: string, folder: string): Promise<string[]> => {
    const snap = await folders.sync(user, folder);
    const out: string[] = [];
    for (const m of snap.list) {
      const text = (await buffer(await folders.open(user, folder, m.key))).toString('latin1');
      out.push(`${/^Subject: (.*)$/m.exec(text)![1].trim()} ${m.flags} ${[...m.keywords].sort().join(',')}`.trim());
    }
    return out.sort();
  };
  try {
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    await folders.ensureDefaultFolders(alice);
    await folders.ensureDefaultFolders(bruno);
    for (const s of ['a1', 'a2', 'a3']) await deliver(alice, s);
    await deliver(bruno, 'b1');
    const section = (user: string): string[] => ['type = imap', 'host = 127.0.0.1', `port = ${bound.port}`, 'STARTTLS = NO', `username = ${user}`, 'password = secret', 'auth = PLAIN'];
    const config = join(root, 'interimap.conf');
    await writeFile(config, ['database = ' + join(root, 'interimap.db'), '', '[local]', ...section(alice), '', '[remote]', ...section(bruno), ''].join('\n'));

    // 1: each side's INBOX reaches the other
    await run(config, root);
    assert.deepEqual(await content(alice, 'INBOX'), ['a1', 'a2', 'a3', 'b1']);
    assert.deepEqual(await content(bruno, 'INBOX'), ['a1', 'a2', 'a3', 'b1']);

    // 2: changes on both sides
    const a = await folders.sync(alice, 'INBOX');
    const uidOf = async (user: string, subject: string): Promise<number> => {
      for (const m of (await folders.sync(user, 'INBOX')).list) {
        if ((await buffer(await folders.open(user, 'INBOX', m.key))).toString('latin1').includes(`Subject: ${subject}\r`)) return m.uid;
      }
      throw new Error(`no ${subject}`);
    };
    assert.equal(a.list.length, 4);
    await folders.updateFlags(alice, 'INBOX', [await uidOf(alice, 'a1')], { mode: 'add', flags: 'S', keywords: ['$Work'] });
    await folders.updateFlags(bruno, 'INBOX', [await uidOf(bruno, 'a2')], { mode: 'add', flags: 'F' });
    const a3 = await uidOf(bruno, 'a3');
    const key = [...(await folders.sync(bruno, 'INBOX')).list].find((m) => m.uid === a3)!.key;
    await folders.remove(bruno, 'INBOX', key);
    await deliver(alice, 'arq1', 'Archive');
    await run(config, root);
    const inbox = ['a1 S $Work', 'a2 F', 'b1'];
    assert.deepEqual(await content(alice, 'INBOX'), inbox);
    assert.deepEqual(await content(bruno, 'INBOX'), inbox);
    assert.deepEqual(await content(bruno, 'Archive'), ['arq1']);

    // 3: nothing left to do
    const before = await folders.sync(alice, 'INBOX');
    await run(config, root);
    const after = await folders.sync(alice, 'INBOX');
    assert.equal(after.highestModseq, before.highestModseq);
    assert.deepEqual([...after.list].map((m) => m.uid), [...before.list].map((m) => m.uid));
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
});
