/**
 * Issue 14, storage: POP3 and IMAP on the same INBOX at once, over real sockets, as `correio
 * serve` wires them (one MaildirStore; the IMAP server on its folder face). UIDL stays stable
 * while IMAP renames a message's file for its flags; a message IMAP expunged is gone from the
 * next POP3 session; a message POP3 deleted is told to the IMAP session still selected as an
 * EXPUNGE, and the others keep their UIDs.
 * Standards: RFC 1939 §7 (UIDL: the same id for a message across sessions), RFC 9051 §7.5.1
 *   (EXPUNGE told to the other session), §2.3.1.1 (UIDs not reused).
 * Security: loopback only; test passwords.
 * Limitations: POP3 keeps its session's snapshot (RFC 1939 §8, maildrop lock): an IMAP expunge
 *   during a POP3 session is seen by the next POP3 session, not by the running one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';
import { Pop3Server } from '../../src/server/pop3/index.js';
import { LineClient } from '../helpers/net.js';
import { login } from './pop3-harness.js';

const user = 'suzana@dc.uece.br';
const password = 'secret';

async function pop3Uidl(port: number, then?: (c: LineClient) => Promise<void>): Promise<string[]> {
  const c = await LineClient.connect(port, '127.0.0.1');
  try {
    assert.match((await login(c, user, password)) ?? '', /^\+OK/);
    c.write('UIDL\r\n');
    assert.match((await c.readLine()) ?? '', /^\+OK/);
    const ids = (await c.readMultiline()).split('\r\n').filter((l) => l !== '');
    await then?.(c);
    c.write('QUIT\r\n');
    assert.match((await c.readLine()) ?? '', /^\+OK/);
    return ids;
  } finally {
    c.close();
  }
}

void test('POP3 and IMAP on one INBOX at once: UIDL stable through IMAP flag changes; a deletion by either shows in the other', async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-imap-pop3-'));
  const store = new MaildirStore(root, { hostname: 'mx' });
  for (const n of [1, 2, 3]) await store.deliver(user, Readable.from([Buffer.from(`From: helvecio@dsc.ufpb.br\r\nSubject: m${n}\r\n\r\ncorpo ${n}\r\n`)]), { uniqueKey: `q${n}` });
  const authenticate = (u: string, p: string): Promise<boolean> => Promise.resolve(u === user && p === password);
  const pop3 = new Pop3Server({ hostname: 'mx', mailboxes: store, authenticate, allowPlainWithoutTls: true, authFailureDelayMs: 1 });
  const imap = new ImapServer({ hostname: 'mx', folders: new MaildirFolders(store), authenticate, authFailureDelayMs: 1 });
  const [popAt] = await pop3.listen([{ host: '127.0.0.1', port: 0 }]);
  const [imapAt] = await imap.listen([{ host: '127.0.0.1', port: 0 }]);
  const i = await LineClient.connect(imapAt.port, '127.0.0.1');
  try {
    const before = await pop3Uidl(popAt.port);
    assert.equal(before.length, 3);

    await i.readLine();
    i.write(`a LOGIN ${user} ${password}\r\n`);
    assert.match((await i.readTagged('a')).at(-1) ?? '', /^a OK/);
    i.write('b SELECT INBOX\r\n');
    const selected = await i.readTagged('b');
    assert.ok(selected.includes('* 3 EXISTS'), selected.join('\n'));
    i.write('c FETCH 1:* (UID)\r\n');
    const uids = (await i.readTagged('c')).flatMap((l) => /^\* \d+ FETCH \(UID (\d+)\)$/.exec(l)?.[1] ?? []);
    assert.equal(uids.length, 3);
    // flags renamed every file (new/ to cur/, ":2,FS"): POP3's ids stay what they were
    i.write('d STORE 1:3 +FLAGS.SILENT (\\Seen \\Flagged)\r\n');
    assert.match((await i.readTagged('d')).at(-1) ?? '', /^d OK/);
    assert.deepEqual(await pop3Uidl(popAt.port), before);

    // IMAP expunges message 2: the next POP3 session no longer lists it, the others keep their ids
    i.write('e STORE 2 +FLAGS.SILENT (\\Deleted)\r\nf EXPUNGE\r\n');
    await i.readTagged('e');
    const expunged = await i.readTagged('f');
    assert.deepEqual(expunged.filter((l) => / EXPUNGE$/.test(l)), ['* 2 EXPUNGE']);
    assert.match(expunged.at(-1) ?? '', /^f OK/);
    const idOf = (l: string | undefined): string => (l ?? '').split(' ')[1];
    const afterImap = await pop3Uidl(popAt.port, async (c) => {
      // POP3 deletes its message 1 (the first delivered) at QUIT
      c.write('DELE 1\r\n');
      assert.match((await c.readLine()) ?? '', /^\+OK/);
    });
    assert.deepEqual(afterImap.map(idOf), [idOf(before[0]), idOf(before[2])]);

    // the IMAP session still selected is told of POP3's deletion, and the rest keep their UIDs
    i.write('g NOOP\r\n');
    const noop = await i.readTagged('g');
    assert.deepEqual(noop.filter((l) => / EXPUNGE$/.test(l)), ['* 1 EXPUNGE']);
    i.write('h FETCH 1:* (UID FLAGS)\r\n');
    const left = await i.readTagged('h');
    assert.equal(left.length, 2, left.join('\n'));
    const [, uid, flags] = /^\* 1 FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)$/.exec(left[0]) ?? [];
    assert.equal(uid, uids[2]);
    assert.deepEqual(flags?.split(' ').filter((f) => f !== '\\Recent').sort(), ['\\Flagged', '\\Seen']);
    assert.deepEqual((await pop3Uidl(popAt.port)).map(idOf), [idOf(before[2])]);
    i.write('z LOGOUT\r\n');
    await i.readTagged('z');
  } finally {
    i.close();
    await pop3.close();
    await imap.close();
    await rm(root, { recursive: true, force: true });
  }
});
