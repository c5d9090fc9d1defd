/**
 * t-32: CONDSTORE and QRESYNC (RFC 7162), ESEARCH and LIST-STATUS with a real client nobody here wrote (imapflow with
 * `qresync: true`): two sessions on one INBOX see each other's flag and keyword changes with
 * their MODSEQ and expunges as VANISHED; a later session resynchronizes with SELECT (QRESYNC
 * ...) and with FETCH CHANGEDSINCE; the MODSEQs survive a restart of the server. Python's
 * imaplib speaks the same commands raw (ENABLE, CHANGEDSINCE, UNCHANGEDSINCE, SEARCH MODSEQ).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ImapFlow, type ExpungeEvent, type FlagsEvent } from 'imapflow';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';
import { runPython } from '../helpers/python.js';

const user = 'suzana@dc.uece.br';

async function withServer(fn: (port: number, store: MaildirStore, restart: () => Promise<number>) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'correio-t32-'));
  const store = new MaildirStore(root, { hostname: 'mx' });
  const make = (): ImapServer =>
    new ImapServer({
      hostname: 'mx.dc.uece.br',
      folders: new MaildirFolders(store),
      authenticate: (u, p) => Promise.resolve(u === user && p === 'secret'),
      authFailureDelayMs: 1,
    });
  let server = make();
  try {
    const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
    await fn(bound.port, store, async () => {
      await server.close();
      server = make();
      const [again] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
      return again.port;
    });
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

function client(port: number): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass: 'secret' }, logger: false, qresync: true });
}

async function deliver(store: MaildirStore, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    await store.deliver(user, Readable.from([Buffer.from(`From: helvecio@dsc.ufpb.br\r\nSubject: m${i}\r\n\r\ncorpo ${i}\r\n`)]), { uniqueKey: `t32-${i}` });
  }
}

void test('imapflow with QRESYNC: flag, keyword and expunge changes travel with MODSEQ and VANISHED; SELECT (QRESYNC) and CHANGEDSINCE resynchronize after a restart', () =>
  withServer(async (port, store, restart) => {
    await deliver(store, 3);
    const a = client(port);
    const b = client(port);
    const flags: FlagsEvent[] = [];
    const expunged: ExpungeEvent[] = [];
    a.on('flags', (e: FlagsEvent) => flags.push(e));
    a.on('expunge', (e: ExpungeEvent) => expunged.push(e));
    try {
      await a.connect();
      await b.connect();
      assert.ok(a.enabled.has('QRESYNC') && a.enabled.has('CONDSTORE'), 'QRESYNC enabled');
      const boxA = await a.mailboxOpen('INBOX');
      const uidValidity = boxA.uidValidity;
      const before = boxA.highestModseq;
      assert.equal(typeof before, 'bigint');
      await b.mailboxOpen('INBOX');
      await b.messageFlagsAdd('1', ['$Forwarded', '\\Flagged'], { uid: true });
      await b.messageDelete('2', { uid: true });
      await a.noop();
      const f = flags.find((x) => x.uid === 1);
      assert.ok(f, 'a flags event for UID 1');
      assert.deepEqual([...f.flags].sort(), ['$Forwarded', '\\Flagged']);
      assert.ok(typeof f.modseq === 'bigint' && f.modseq > before!, 'with a MODSEQ above the one at SELECT');
      assert.deepEqual(
        expunged.map((e) => [e.vanished, e.uid]),
        [[true, 2]],
      );
      await a.logout();
      await b.logout();

      // after a restart: the MODSEQs are the same, and QRESYNC tells what changed
      const port2 = await restart();
      const c = client(port2);
      const cFlags: FlagsEvent[] = [];
      const cGone: ExpungeEvent[] = [];
      c.on('flags', (e: FlagsEvent) => cFlags.push(e));
      c.on('expunge', (e: ExpungeEvent) => cGone.push(e));
      await c.connect();
      const boxC = await c.mailboxOpen('INBOX', { changedSince: before, uidValidity });
      assert.equal(boxC.uidValidity, uidValidity);
      assert.ok(boxC.highestModseq! > before!);
      assert.deepEqual(
        cGone.map((e) => [e.vanished, e.earlier, e.uid]),
        [[true, true, 2]],
      );
      assert.deepEqual(
        cFlags.map((e) => e.uid),
        [1],
      );
      const changed = await c.fetchAll('1:*', { flags: true }, { uid: true, changedSince: before });
      assert.deepEqual(
        changed.map((m) => m.uid),
        [1],
      );
      assert.equal(changed[0].modseq, cFlags[0].modseq);
      await c.logout();
    } finally {
      a.close();
      b.close();
    }
  }));

void test('Python imaplib: ENABLE CONDSTORE, FETCH CHANGEDSINCE, STORE UNCHANGEDSINCE with MODIFIED, SEARCH MODSEQ', () =>
  withServer(async (port, store) => {
    await deliver(store, 2);
    const out = await runPython(
      `
import imaplib, sys, re
M = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
M.login('${user}', 'secret')
print('ENABLE', M.enable('CONDSTORE')[0])
typ, data = M.select('INBOX')
print('HIGHEST', M.response('HIGHESTMODSEQ')[1])
typ, data = M.uid('STORE', '1', '+FLAGS', '(\\\\Seen $Junk)')
print('STORE', data)
hi = int(re.search(rb'MODSEQ \\((\\d+)\\)', data[0]).group(1))
typ, data = M.uid('STORE', '1:2', '(UNCHANGEDSINCE %d) +FLAGS' % (hi - 1), '(\\\\Flagged)')
print('COND', typ, M.response('MODIFIED')[1])
typ, data = M.uid('FETCH', '1:*', '(FLAGS) (CHANGEDSINCE %d)' % (hi - 1))
print('CHANGED', data)
typ, data = M.search(None, 'MODSEQ', str(hi))
print('SEARCH', data)
M.logout()
`,
      [String(port)],
    );
    const lines = out.split('\n');
    assert.equal(lines[0], "ENABLE OK");
    assert.match(lines[1], /^HIGHEST \[b'2'\]$/);
    // IMAP4rev1: the messages are \Recent to this first session (RFC 3501 §2.3.2)
    assert.match(lines[2], /^STORE \[b'1 \(UID 1 FLAGS \(\\\\Seen \\\\Recent \$Junk\) MODSEQ \(3\)\)'\]$/);
    assert.equal(lines[3], "COND OK [b'1']");
    assert.match(lines[4], /^CHANGED \[b'1 \(UID 1 FLAGS \(\\\\Seen \\\\Recent \$Junk\) MODSEQ \(3\)\)', b'2 \(UID 2 FLAGS \(\\\\Flagged \\\\Recent\) MODSEQ \(4\)\)'\]$/);
    assert.equal(lines[5], "SEARCH [b'1 2 (MODSEQ 4)']");
  }));

void test('imapflow: ESEARCH (RETURN MIN MAX COUNT ALL) and LIST-STATUS', () =>
  withServer(async (port, store) => {
    await deliver(store, 3);
    const c = client(port);
    try {
      await c.connect();
      await c.mailboxOpen('INBOX');
      await c.messageFlagsAdd('2', ['\\Seen'], { uid: true });
      const r = await c.search({ seen: false }, { uid: true, returnOptions: ['min', 'max', 'count', 'all'] });
      assert.ok(r && typeof r === 'object' && !Array.isArray(r), 'an ESEARCH result');
      assert.deepEqual([r.min, r.max, r.count, r.all], [1, 3, 2, '1,3']);
      const boxes = await c.list({ statusQuery: { messages: true, unseen: true } });
      const inbox = boxes.find((b) => b.path === 'INBOX');
      assert.deepEqual([inbox?.status?.messages, inbox?.status?.unseen], [3, 2]);
      assert.equal(boxes.find((b) => b.path === 'Trash')?.status?.messages ?? 0, 0);
      await c.logout();
    } finally {
      c.close();
    }
  }));
