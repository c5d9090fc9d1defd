/**
 * t-31: the seed's user reads and files mail over IMAP: SMTP in, queue, Maildir, then real
 * clients nobody here wrote (imapflow, Python's imaplib) through one `correio serve`
 * (startApp) with its configured IMAP listener: login, LIST with special use, SELECT, FETCH,
 * flags, APPEND, COPY, MOVE, EXPUNGE, SEARCH, IDLE seeing a delivery, two sessions in sync.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ImapFlow } from 'imapflow';
import { runDialog } from '../helpers/dialog.js';
import { freePort } from '../helpers/net.js';
import { runPython } from '../helpers/python.js';
import { startSite, type Site } from '../helpers/site.js';

async function send(site: Site, subject: string, body: string): Promise<void> {
  await runDialog(
    site.port,
    `
S~ 220 .*
C: HELO dsc.ufpb.br
S~ 250 .*
C: MAIL FROM:<helvecio@dsc.ufpb.br>
S: 250 OK
C: RCPT TO:<suzana@dc.uece.br>
S: 250 OK
C: DATA
S~ 354 .*
C: From: Helvecio <helvecio@dsc.ufpb.br>
C: To: suzana@dc.uece.br
C: Subject: ${subject}
C:
C: ${body}
C: .
S~ 250 OK.*
C: QUIT
S~ 221 .*
`,
    { address: site.host },
  );
}

function client(port: number): ImapFlow {
  // imapflow starts IDLE by itself after `autoIdleDelay` without commands (15 s by default, as
  // long as the wait below allows for a delivery): the session idles sooner here
  return new ImapFlow({ host: '127.0.0.1', port, secure: false, tls: { rejectUnauthorized: false }, auth: { user: 'suzana@dc.uece.br', pass: 'secret' }, logger: false, autoIdleDelay: 1000 });
}

async function count(c: ImapFlow, path: string): Promise<number | undefined> {
  const s = await c.status(path, { messages: true });
  return s === false ? undefined : s.messages;
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string, ms = 15000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

void test('imapflow reads, flags, files and expunges mail delivered over SMTP; IDLE sees a new delivery; two sessions stay in sync', async () => {
  const imapPort = await freePort();
  const site = await startSite({
    hostname: 'dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['suzana@dc.uece.br'],
    tables: `[imap]\nlisten = ["127.0.0.1:${imapPort}"]\n`,
  });
  const a = client(imapPort);
  const b = client(imapPort);
  try {
    await send(site, 'leia-me', 'corpo para IMAP');
    await site.waitForMessages('suzana@dc.uece.br', 1);
    await a.connect();
    const list = await a.list();
    assert.deepEqual(
      list.map((m) => [m.path, m.specialUse ?? '']).sort(),
      [['Archive', '\\Archive'], ['Drafts', '\\Drafts'], ['INBOX', '\\Inbox'], ['Junk', '\\Junk'], ['Sent', '\\Sent'], ['Trash', '\\Trash']],
    );
    const box = await a.mailboxOpen('INBOX');
    assert.equal(box.exists, 1);
    const msg = await a.fetchOne('1', { envelope: true, source: true, flags: true, uid: true, bodyStructure: true });
    assert.ok(msg);
    assert.equal(msg.envelope?.subject, 'leia-me');
    assert.equal(msg.envelope?.from?.[0]?.address, 'helvecio@dsc.ufpb.br');
    assert.match(msg.source?.toString() ?? '', /\r\n\r\ncorpo para IMAP\r\n$/);
    assert.equal(msg.bodyStructure?.type, 'text/plain');
    assert.deepEqual([...(msg.flags ?? [])], []);

    // a second session on the same mailbox sees the first one's flag change and expunge
    await b.connect();
    await b.mailboxOpen('INBOX');
    const flagEvents: string[][] = [];
    const expunges: number[] = [];
    const exists: number[] = [];
    b.on('flags', (e: { flags: Set<string> }) => flagEvents.push([...e.flags]));
    b.on('expunge', (e: { seq: number }) => expunges.push(e.seq));
    b.on('exists', (e: { count: number }) => exists.push(e.count));

    await a.messageFlagsAdd('1', ['\\Flagged', '\\Seen']);
    assert.deepEqual(await a.search({ flagged: true }), [1]);
    assert.deepEqual(await a.search({ subject: 'LEIA' }), [1]);
    assert.deepEqual(await a.search({ body: 'para imap' }), [1]);
    assert.deepEqual(await a.search({ seen: false }), []);
    await b.noop();
    await until(() => flagEvents.some((f) => f.includes('\\Flagged')), 'the flag change in the other session');

    // IDLE (imapflow idles by itself when nothing else is to do) sees a delivery through the queue
    await send(site, 'segunda', 'chegou agora');
    await until(() => exists.includes(2), 'EXISTS 2 in the idling session');

    const appended = await a.append('Sent', 'From: suzana@dc.uece.br\r\nSubject: enviada\r\n\r\nok\r\n', ['\\Seen']);
    assert.ok(appended && appended.uid === 1);
    const copied = await a.messageCopy('1', 'Archive');
    assert.ok(copied && copied.uidMap?.get(1) === 1);
    const moved = await a.messageMove('2', 'Trash');
    assert.ok(moved && moved.uidMap?.size === 1);
    assert.equal(await count(a, 'Trash'), 1);
    assert.equal(await count(a, 'Archive'), 1);

    await a.messageFlagsAdd('1', ['\\Deleted']);
    await a.messageDelete('1');
    assert.equal(await count(a, 'INBOX'), 0);
    await b.noop();
    await until(() => expunges.length >= 2, 'two EXPUNGEs in the other session');
    // the files are gone from the Maildir that POP3 and delivery use
    assert.equal((await site.mailbox('suzana@dc.uece.br')).length, 0);
  } finally {
    await a.logout().catch(() => undefined);
    await b.logout().catch(() => undefined);
    await site.destroy();
  }
});

const python = spawnSync('python3', ['-c', 'import imaplib'], { encoding: 'utf8' });

void test('Python imaplib: login, list, select, search, fetch, store, append, copy, expunge', { skip: python.status === 0 ? false : 'python3 with imaplib is not installed' }, async () => {
  const imapPort = await freePort();
  const site = await startSite({
    hostname: 'dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['suzana@dc.uece.br'],
    tables: `[imap]\nlisten = ["127.0.0.1:${imapPort}"]\n`,
  });
  try {
    await send(site, 'via python', 'linha um');
    await site.waitForMessages('suzana@dc.uece.br', 1);
    const out = await runPython(
      `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
print('caps', ' '.join(sorted(m.capabilities)))
m.login('suzana@dc.uece.br', 'secret')
typ, boxes = m.list()
print('list', len(boxes), any(b'\\\\Sent' in b for b in boxes))
typ, data = m.select('INBOX')
print('select', typ, data[0].decode())
typ, data = m.search(None, 'SUBJECT', '"via python"')
print('search', data[0].decode())
typ, data = m.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)] RFC822.SIZE)')
print('fetch', data[0][1].decode().strip())
typ, data = m.store('1', '+FLAGS', '(\\\\Answered)')
print('store', data[0].decode())
typ, data = m.append('Drafts', '(\\\\Draft)', None, b'Subject: rascunho\\r\\n\\r\\ntexto\\r\\n')
print('append', typ, data[0].decode())
typ, data = m.copy('1', 'Archive')
print('copy', typ, data[0].decode())
m.store('1', '+FLAGS', '(\\\\Deleted)')
typ, data = m.expunge()
print('expunge', data[0].decode())
m.logout()
`,
      [String(imapPort)],
    );
    const lines = out.trim().split('\n');
    for (const cap of ['IMAP4REV1', 'IDLE', 'UIDPLUS', 'MOVE', 'AUTH=PLAIN']) assert.ok(lines[0].split(' ').includes(cap), cap);
    assert.equal(lines[1], 'list 6 True');
    assert.equal(lines[2], 'select OK 1');
    assert.equal(lines[3], 'search 1');
    assert.equal(lines[4], 'fetch Subject: via python');
    // the first session to select the INBOX: its messages are \Recent to it (RFC 3501 §2.3.2)
    assert.equal(lines[5], 'store 1 (FLAGS (\\Answered \\Recent))');
    assert.match(lines[6], /^append OK \[APPENDUID \d+ 1\] APPEND completed$/);
    assert.match(lines[7], /^copy OK \[COPYUID \d+ 1 1\] COPY completed$/);
    assert.equal(lines[8], 'expunge 1');
  } finally {
    await site.destroy();
  }
});
