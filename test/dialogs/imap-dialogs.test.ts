/**
 * IMAP dialog transcripts (C:/S: lines) against an ImapServer on a real Maildir: the core
 * commands, and the password rules before TLS (LOGINDISABLED, PRIVACYREQUIRED).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { constants as zlibConstants, createDeflateRaw, createInflateRaw } from 'node:zlib';
import { ImapFlow } from 'imapflow';
import { MailboxQuota, MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { MemoryDirectory } from '../helpers/memory-directory.js';
import { ImapServer, type ImapServerOptions } from '../../src/server/imap/index.js';
import { runDialog, runDialogFile } from '../helpers/dialog.js';
import { LineClient } from '../helpers/net.js';
import { tlsCredentials } from '../e2e/pop3-harness.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const sourceDir = join(here, '..', '..', '..', 'test', 'dialogs');

async function withServer(
  opts: Partial<ImapServerOptions> | ((store: MaildirStore) => Partial<ImapServerOptions>),
  fn: (port: number) => Promise<void>,
  prepare?: (inbox: string) => Promise<void>,
): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'correio-imap-'));
  const store = new MaildirStore(root, { hostname: 'mx' });
  await store.deliver('suzana@dc.uece.br', Readable.from([Buffer.from('From: helvecio@dsc.ufpb.br\r\nSubject: oi\r\n\r\ncorpo\r\n')]), { uniqueKey: 'q1' });
  // the first message was seen by an earlier session: not \Recent (RFC 3501 §2.3.2)
  await writeFile(join(store.mailboxPath('suzana@dc.uece.br', ''), 'correio-recent'), '2\n');
  await prepare?.(store.mailboxPath('suzana@dc.uece.br', ''));
  const server = new ImapServer({
    hostname: 'mx.dc.uece.br',
    folders: new MaildirFolders(store),
    authenticate: (u, p) => Promise.resolve(u === 'suzana@dc.uece.br' && p === 'secret'),
    authFailureDelayMs: 1,
    ...(typeof opts === 'function' ? opts(store) : opts),
  });
  const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
  try {
    await fn(bound.port);
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

void test('imap-core.txt: login, list, select, fetch, store, search, append, expunge, errors', () =>
  withServer({}, (port) => runDialogFile(port, join(sourceDir, 'imap-core.txt'))));

void test('imap-condstore.txt: CONDSTORE, QRESYNC and keywords (RFC 7162)', () =>
  withServer(
    {},
    (port) => runDialogFile(port, join(sourceDir, 'imap-condstore.txt')),
    // a UID list of version 1 with a known UIDVALIDITY (upgraded on first use)
    (inbox) => writeFile(join(inbox, 'correio-uidlist'), 'C1 777 1\n'),
  ));

void test('imap-quota.txt: QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA, SETQUOTA refused, OVERQUOTA on APPEND and COPY, MOVE allowed', () => {
  const directory = new MemoryDirectory({ domains: ['dc.uece.br'], users: ['suzana@dc.uece.br'] });
  return withServer(
    (store) => ({ quota: new MailboxQuota({ directory, mailboxes: store, defaults: () => ({ storage: 2048, messages: 3 }) }) }),
    (port) => runDialogFile(port, join(sourceDir, 'imap-quota.txt')),
  );
});

void test('imap-catenate.txt: CATENATE (RFC 4469) with text and URLs of this user\'s messages; BADURL for the others', () =>
  withServer(
    {},
    (port) => runDialogFile(port, join(sourceDir, 'imap-catenate.txt')),
    (inbox) => writeFile(join(inbox, 'correio-uidlist'), 'C1 777 1\n'),
  ));

void test('imap-catenate.txt with every URL\'s message over the streaming threshold (10 octets): read from its file as the store writes (catenate CatenatedStream), the same answers', () =>
  withServer(
    { appendStreamFrom: 10 },
    (port) => runDialogFile(port, join(sourceDir, 'imap-catenate.txt')),
    (inbox) => writeFile(join(inbox, 'correio-uidlist'), 'C1 777 1\n'),
  ));

void test('imap-append-stream.txt: APPEND, MULTIAPPEND and FETCH of messages over the streaming thresholds (here 10 octets): refusals before the "+", nothing stored of a bad command', () =>
  withServer({ appendStreamFrom: 10, fetchStreamFrom: 10 }, (port) => runDialogFile(port, join(sourceDir, 'imap-append-stream.txt'))));

void test('imap-esearch.txt: ESEARCH, SEARCHRES ("$"), LIST-EXTENDED and LIST-STATUS', () =>
  withServer({}, (port) => runDialogFile(port, join(sourceDir, 'imap-esearch.txt'))));

void test('imap-rev2.txt: IMAP4rev2 and UTF8=ACCEPT enabled, MULTIAPPEND, UTF8 APPEND data, BINARY', () =>
  withServer({}, async (port) => {
    await runDialogFile(port, join(sourceDir, 'imap-rev2.txt'), { utf8: true });
    // an IMAP4rev1 session sees the same mailbox in modified UTF-7, and RECENT in SELECT
    await runDialog(
      port,
      `
S~ \\* OK .*
C: c1 LOGIN suzana@dc.uece.br secret
S~ c1 OK .*
C: c2 LIST "" "Caf*"
S: * LIST (\\HasNoChildren) "." Caf&AOk-
S: c2 OK LIST completed
C: c3 SEARCH ALL
S: c3 BAD No mailbox selected
C: c4 EXAMINE Caf&AOk-
S~ \\* FLAGS .*
S~ \\* OK \\[PERMANENTFLAGS .*
S: * 3 EXISTS
S: * 3 RECENT
S: * OK [UNSEEN 1] First unseen
S~ .*
S~ .*
S~ .*
S~ c4 OK .*
C: c5 SEARCH UNSEEN
S: * SEARCH 1 3
S: c5 OK SEARCH completed
`,
    );
  }));

void test('imap-sort-thread.txt: SORT and THREAD (ORDEREDSUBJECT, REFERENCES) and their UID forms', () =>
  withServer({}, (port) => runDialogFile(port, join(sourceDir, 'imap-sort-thread.txt'))));

void test('CREATE-SPECIAL-USE (RFC 6154): CREATE with USE, listed with it (also after RENAME); USE refusals', () =>
  withServer({}, (port) =>
    runDialog(
      port,
      `
S~ \\* OK \\[CAPABILITY .* CREATE-SPECIAL-USE .*\\] .*
C: u1 LOGIN suzana@dc.uece.br secret
S~ u1 OK .*
C: u2 CREATE Enviadas (USE (\\Sent))
S: u2 OK CREATE completed
C: u3 CREATE Velhas (USE (\\Archive \\Trash))
S: u3 NO [USE] One special use per mailbox
C: u4 CREATE Todas (USE (\\All))
S: u4 NO [USE] Special use \\All is not supported
C: u5 LIST "" Velhas
S: u5 OK LIST completed
C: u6 RENAME Enviadas Saida
S: u6 OK RENAME completed
C: u7 LIST (SPECIAL-USE) "" "S*"
S: * LIST (\\HasNoChildren \\Sent) "." Saida
S: * LIST (\\HasNoChildren \\Sent) "." Sent
S: u7 OK LIST completed
C: u8 CREATE Bad (USE \\Sent)
S~ u8 BAD Syntax error: .*
`,
    ),
  ));

void test('BINARY (RFC 3516): APPEND of literal8 with NUL octets, FETCH BINARY[] answers literal8', () =>
  withServer({}, async (port) => {
    const c = await LineClient.connect(port, '127.0.0.1');
    try {
      const run = (line: string, tag: string): Promise<string[]> => {
        c.write(line);
        return c.readTagged(tag);
      };
      await c.readLine();
      await run('x1 LOGIN suzana@dc.uece.br secret\r\n', 'x1');
      const message = 'Subject: \u0000\r\n\r\nA\u0000B';
      const a = await run(`x2 APPEND INBOX ~{${message.length}+}\r\n${message}\r\n`, 'x2');
      assert.match(a.at(-1)!, /^x2 OK \[APPENDUID \d+ 2\] APPEND completed$/);
      await run('x3 EXAMINE INBOX\r\n', 'x3');
      const f = await run('x4 FETCH 2 (BINARY.PEEK[] BINARY.SIZE[])\r\n', 'x4');
      assert.deepEqual(f, ['* 2 FETCH (BINARY[] ~{17}', 'Subject: \u0000', '', 'A\u0000B BINARY.SIZE[] 17)', 'x4 OK FETCH completed']);
      // the first message has no NUL: a plain literal
      const g = await run('x5 FETCH 1 (BINARY.PEEK[1])\r\n', 'x5');
      assert.deepEqual(g, ['* 1 FETCH (BINARY[1] {7}', 'corpo', ')', 'x5 OK FETCH completed']);
    } finally {
      c.close();
    }
  }));

for (const [how, opts] of [['in memory', {}], ['streamed (threshold 10 octets)', { appendStreamFrom: 10 }]] as const) {
  void test(`BINARY (RFC 3516 §4.4), ${how}: a literal8 the Maildir cannot keep exactly (bare LF, CR CR LF) is NO [UNKNOWN-CTE] and nothing is stored; NUL and CRLF come back exactly`, () =>
    withServer(opts, async (port) => {
      const c = await LineClient.connect(port, '127.0.0.1');
      try {
        const run = (line: string, tag: string): Promise<string[]> => {
          c.write(line);
          return c.readTagged(tag);
        };
        const lit8 = (text: string): string => `~{${Buffer.byteLength(text, 'latin1')}+}\r\n${text}`;
        const cte = (tag: string): string[] => [`${tag} NO [UNKNOWN-CTE] This mailbox keeps line ends as CRLF: a bare LF, or a CR before CRLF, would not come back as sent`];
        const messages = async (): Promise<string[]> => run('s1 STATUS INBOX (MESSAGES UIDNEXT)\r\n', 's1');
        await c.readLine();
        await run('x1 LOGIN suzana@dc.uece.br secret\r\n', 'x1');
        const before = await messages();
        assert.deepEqual(before, ['* STATUS INBOX (MESSAGES 1 UIDNEXT 2)', 's1 OK STATUS completed']);
        assert.deepEqual(await run(`x2 APPEND INBOX ${lit8('Subject: b\r\n\r\nA\nB\r\n')}\r\n`, 'x2'), cte('x2'));
        assert.deepEqual(await run(`x3 APPEND INBOX ${lit8('Subject: b\r\n\r\nA\r\r\nB')}\r\n`, 'x3'), cte('x3'));
        // MULTIAPPEND: all or none (the first message is good)
        assert.deepEqual(await run(`x4 APPEND INBOX {5+}\r\nhello ${lit8('Subject: b\r\n\r\n\u0000\n')}\r\n`, 'x4'), cte('x4'));
        // CATENATE: a TEXT part given as literal8
        assert.deepEqual(await run(`x5 APPEND INBOX CATENATE (TEXT {12+}\r\nSubject: b\r\n TEXT ${lit8('\r\nA\nB')})\r\n`, 'x5'), cte('x5'));
        assert.deepEqual(await messages(), before);
        // a plain literal keeps today's behaviour: stored with its line ends normalised
        assert.match((await run('x6 APPEND INBOX {17+}\r\nSubject: p\r\n\r\nA\nB\r\n', 'x6')).at(-1)!, /^x6 OK \[APPENDUID \d+ 2\] APPEND completed$/);
        const good = 'Subject: \u0000\r\n\r\nA\rB\u0000\r\n';
        assert.match((await run(`x7 APPEND INBOX ${lit8(good)}\r\n`, 'x7')).at(-1)!, /^x7 OK \[APPENDUID \d+ 3\] APPEND completed$/);
        assert.deepEqual(await messages(), ['* STATUS INBOX (MESSAGES 3 UIDNEXT 4)', 's1 OK STATUS completed']);
        await run('x8 EXAMINE INBOX\r\n', 'x8');
        c.write('x9 UID FETCH 3 (BINARY.PEEK[])\r\n');
        assert.equal(await c.readLine(), `* 3 FETCH (UID 3 BINARY[] ~{${good.length}}`);
        // the octets as sent: read past the literal's CRLFs (each readLine strips one)
        assert.equal([await c.readLine(), await c.readLine(), await c.readLine(), await c.readLine()].join('\r\n'), `${good})`);
        assert.deepEqual(await c.readTagged('x9'), ['x9 OK UID FETCH completed']);
      } finally {
        c.close();
      }
    }));
}

void test('COMPRESS=DEFLATE (RFC 4978): the OK in clear, then raw DEFLATE both ways; COMPRESSIONACTIVE; imapflow compresses', () =>
  withServer({}, async (port) => {
    const c = await LineClient.connect(port, '127.0.0.1');
    try {
      await c.readLine();
      c.write('z1 LOGIN suzana@dc.uece.br secret\r\n');
      await c.readTagged('z1');
      c.write('z2 COMPRESS GZIP\r\n');
      assert.deepEqual(await c.readTagged('z2'), ['z2 BAD Unknown compression mechanism']);
      c.write('z3 COMPRESS DEFLATE\r\n');
      assert.deepEqual(await c.readTagged('z3'), ['z3 OK DEFLATE active']);
      // from here the client speaks DEFLATE too
      const deflate = createDeflateRaw();
      const inflate = createInflateRaw();
      const sock = c.socket;
      deflate.on('data', (d: Buffer) => sock.write(d));
      sock.removeAllListeners('data');
      sock.on('data', (d: Buffer) => inflate.write(d));
      let text = '';
      inflate.on('data', (d: Buffer) => (text += d.toString('latin1')));
      const send = async (line: string, tag: string): Promise<string> => {
        text = '';
        deflate.write(`${line}\r\n`);
        deflate.flush(zlibConstants.Z_SYNC_FLUSH);
        for (let i = 0; i < 500 && !new RegExp(`^${tag} `, 'm').test(text); i++) await new Promise((r) => setTimeout(r, 10));
        return text;
      };
      assert.equal(await send('z4 COMPRESS DEFLATE', 'z4'), 'z4 NO [COMPRESSIONACTIVE] Compression is already active\r\n');
      const sel = await send('z5 SELECT INBOX', 'z5');
      assert.match(sel, /\* 1 EXISTS\r\n/);
      assert.equal(await send('z6 FETCH 1 BODY.PEEK[TEXT]', 'z6'), '* 1 FETCH (BODY[TEXT] {7}\r\ncorpo\r\n)\r\nz6 OK FETCH completed\r\n');
    } finally {
      c.close();
    }
    // imapflow negotiates COMPRESS by itself when offered
    const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: 'suzana@dc.uece.br', pass: 'secret' }, logger: false });
    try {
      await client.connect();
      assert.equal((client as unknown as { _deflate?: unknown })._deflate !== undefined, true, 'imapflow compressed the session');
      const lock = await client.getMailboxLock('INBOX');
      try {
        // 1.2 MB: APPENDed and FETCHed streamed (append-stream, fetch-stream) through the compression
        const big = `Subject: grande\r\n\r\n${'linha de texto que se repete\r\n'.repeat(40_000)}`;
        await client.append('INBOX', big);
        const msg = await client.fetchOne('2', { source: true });
        assert.ok(msg && msg.source?.equals(Buffer.from(big)));
      } finally {
        lock.release();
      }
      await client.logout();
    } finally {
      client.close();
    }
  }));

void test('passwords refused before TLS where configured: LOGINDISABLED advertised, LOGIN and AUTHENTICATE refused', () =>
  withServer({ plaintextAuth: 'never' }, (port) =>
    runDialog(
      port,
      `
S~ \\* OK \\[CAPABILITY IMAP4rev1 .* LOGINDISABLED\\] .*
C: a1 LOGIN suzana@dc.uece.br secret
S: a1 NO [PRIVACYREQUIRED] Plaintext authentication is disabled here; use STARTTLS first
C: a2 AUTHENTICATE PLAIN AHN1emFuYUBkYy51ZWNlLmJyAHNlY3JldA==
S: a2 NO [PRIVACYREQUIRED] Plaintext authentication is disabled here; use STARTTLS first
C: a3 LOGOUT
S: * BYE Logging out
S: a3 OK LOGOUT completed
`,
    ),
  ));

void test('AUTHENTICATE PLAIN with SASL-IR and LOGIN with challenges; "*" cancels with BAD', () =>
  withServer({}, (port) =>
    runDialog(
      port,
      `
S~ \\* OK .*
C: a1 AUTHENTICATE LOGIN
S: + VXNlcm5hbWU6
C: *
S: a1 BAD Authentication cancelled
C: a2 AUTHENTICATE LOGIN
S: + VXNlcm5hbWU6
C: c3V6YW5hQGRjLnVlY2UuYnI=
S: + UGFzc3dvcmQ6
C: c2VjcmV0
S~ a2 OK \\[CAPABILITY .*\\] Logged in
C: a3 LOGOUT
S: * BYE Logging out
S: a3 OK LOGOUT completed
`,
    ).then(() =>
      runDialog(
        port,
        `
S~ \\* OK .*
C: b1 AUTHENTICATE PLAIN AHN1emFuYUBkYy51ZWNlLmJyAHNlY3JldA==
S~ b1 OK \\[CAPABILITY .*\\] Logged in
`,
      ),
    ),
  ));

void test('bad input: long lines, huge literals, garbage, nesting and too many sequence-set ranges get BAD/NO and the session goes on', () =>
  withServer({ appendLimit: 1000 }, async (port) => {
    const c = await LineClient.connect(port, '127.0.0.1');
    try {
      assert.match((await c.readLine()) ?? '', /^\* OK /);
      const ask = async (line: string): Promise<string> => {
        c.write(`${line}\r\n`);
        return (await c.readLine()) ?? '(closed)';
      };
      assert.equal(await ask(`x1 NOOP ${'a'.repeat(70_000)}`), '* BAD [TOOBIG] Command line too long');
      assert.equal(await ask('x2 LOGIN {999999999}'), 'x2 BAD [TOOBIG] Literal too large');
      assert.match(await ask('x3 LOGIN suzana@dc.uece.br secret'), /^x3 OK /);
      assert.equal(await ask('x4 APPEND INBOX {5000}'), 'x4 NO [TOOBIG] Message too large');
      // a non-synchronizing literal over the limit is read and thrown away, then refused
      c.write(`x5 APPEND INBOX {2000+}\r\n${'y'.repeat(2000)}\r\n`);
      assert.equal(await c.readLine(), 'x5 NO [TOOBIG] Message too large');
      assert.match(await ask(`x6 SEARCH ${'('.repeat(300)}ALL${')'.repeat(300)}`), /^x6 BAD Syntax error/);
      assert.equal(await ask('\u0000\u0001\u0002 ((('), '* BAD Syntax error: tag expected at octet 0');
      assert.match(await ask('x7 FETCH 1 FLAGS'), /^x7 BAD No mailbox selected/);
      assert.match(await ask('x8 NOOP'), /^x8 OK /);
      // a sequence set of more ranges than the parser takes (sequence-set.ts maxRanges), in a line under 64 KB
      c.write('x9 SELECT INBOX\r\n');
      await c.readTagged('x9');
      assert.match(await ask(`x10 UID FETCH ${Array.from({ length: 10_001 }, (_, i) => 2 * i + 1).join(',')} FLAGS`), /^x10 BAD /);
      assert.match(await ask('x11 NOOP'), /^x11 OK /);
    } finally {
      c.close();
    }
  }));

void test('STATUS APPENDLIMIT (RFC 7889 §3.1) and DELETED-STORAGE (RFC 9208 §5.1.1, which QUOTA=RES-STORAGE requires), in STATUS and LIST-STATUS', () =>
  withServer({ appendLimit: 10_000 }, async (port) => {
    const c = await LineClient.connect(port, '127.0.0.1');
    try {
      await c.readLine();
      const big = (n: number): string => `Subject: ${n}\r\n\r\n${'x'.repeat(n - 15 - String(n).length)}\r\n`;
      c.write(`s1 LOGIN suzana@dc.uece.br secret\r\ns2 APPEND Drafts (\\Deleted) {3000+}\r\n${big(3000)}\r\ns3 APPEND Drafts {2000+}\r\n${big(2000)}\r\n`);
      await c.readTagged('s3');
      c.write('s4 STATUS Drafts (DELETED DELETED-STORAGE APPENDLIMIT SIZE)\r\n');
      // the \Deleted message's 3,000 octets (its RFC822.SIZE), as James's Status.test counts
      // (corpora/imap/james-mpt: SIZE 1016, two of four \Deleted, DELETED-STORAGE 508); not 2 units of 1024
      assert.deepEqual(await c.readTagged('s4'), ['* STATUS Drafts (DELETED 1 DELETED-STORAGE 3000 APPENDLIMIT 10000 SIZE 5000)', 's4 OK STATUS completed']);
      c.write('s5 LIST "" Drafts RETURN (STATUS (DELETED-STORAGE APPENDLIMIT))\r\n');
      const listed = await c.readTagged('s5');
      assert.ok(listed.includes('* STATUS Drafts (DELETED-STORAGE 3000 APPENDLIMIT 10000)'), listed.join('\n'));
    } finally {
      c.close();
    }
  }));

const creds = await tlsCredentials();
const tlsSkip = creds === undefined ? 'no TLS certificate: test/fixtures/tls absent and openssl missing' : false;

void test('STARTTLS: passwords only after the handshake, injected input discarded; implicit TLS listener', { skip: tlsSkip }, () =>
  withServer({ plaintextAuth: 'never', tls: creds! }, async (port) => {
    const trust = { ca: creds!.cert, servername: 'localhost' };
    const c = await LineClient.connect(port, '127.0.0.1');
    try {
      const greeting = (await c.readLine()) ?? '';
      assert.match(greeting, /STARTTLS/);
      assert.match(greeting, /LOGINDISABLED/);
      // CVE-2011-0411 class: a command pipelined behind STARTTLS is never run
      c.write('t1 STARTTLS\r\nt2 LOGIN suzana@dc.uece.br secret\r\n');
      assert.equal(await c.readLine(), 't1 OK Begin TLS negotiation now');
      await c.startTls(trust);
      c.write('t3 CAPABILITY\r\n');
      const caps = (await c.readLine()) ?? '';
      assert.match(caps, /AUTH=PLAIN/);
      assert.doesNotMatch(caps, /STARTTLS|LOGINDISABLED/);
      assert.equal(await c.readLine(), 't3 OK CAPABILITY completed');
      c.write('t4 LOGIN suzana@dc.uece.br secret\r\n');
      assert.match((await c.readLine()) ?? '', /^t4 OK /);
    } finally {
      c.close();
    }
  }));

void test('implicit TLS (RFC 8314): the greeting comes over TLS and passwords are accepted', { skip: tlsSkip }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-imaps-'));
  const server = new ImapServer({
    hostname: 'mx',
    folders: new MaildirFolders(new MaildirStore(root, { hostname: 'mx' })),
    authenticate: (u, p) => Promise.resolve(u === 'suzana@dc.uece.br' && p === 'secret'),
    plaintextAuth: 'never',
    tls: creds!,
  });
  const [bound] = await server.listen([{ host: '127.0.0.1', port: 0, implicitTls: true }]);
  try {
    const c = await LineClient.connectTls(bound.port, '127.0.0.1', { ca: creds!.cert, servername: 'localhost' });
    try {
      const greeting = (await c.readLine()) ?? '';
      assert.match(greeting, /^\* OK \[CAPABILITY .*AUTH=PLAIN/);
      assert.doesNotMatch(greeting, /STARTTLS/);
      c.write('a LOGIN suzana@dc.uece.br secret\r\n');
      assert.match((await c.readLine()) ?? '', /^a OK /);
    } finally {
      c.close();
    }
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
});

void test('RFC 9051 §7.5.1: another session\'s EXPUNGE is not reported during FETCH, STORE or SEARCH, only at NOOP (or a UID command)', () =>
  withServer({}, async (port) => {
    const open = async (): Promise<{ c: LineClient; run: (tag: string, cmd: string) => Promise<string[]> }> => {
      const c = await LineClient.connect(port, '127.0.0.1');
      await c.readLine();
      const run = (tag: string, cmd: string): Promise<string[]> => {
        c.write(`${tag} ${cmd}\r\n`);
        return c.readTagged(tag);
      };
      await run('l', 'LOGIN suzana@dc.uece.br secret');
      await run('s', 'SELECT INBOX');
      return { c, run };
    };
    const a = await open();
    const b = await open();
    try {
      await a.run('a1', 'APPEND INBOX {10+}\r\nSubject: 2');
      assert.ok((await b.run('b0', 'NOOP')).includes('* 2 EXISTS'));
      await a.run('a2', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
      assert.deepEqual(await a.run('a3', 'EXPUNGE'), ['* 1 EXPUNGE', 'a3 OK EXPUNGE completed']);
      // B still numbers the gone message 1: FETCH, STORE and SEARCH answer without EXPUNGE
      const f = await b.run('b1', 'FETCH 2 (UID)');
      assert.deepEqual(f, ['* 2 FETCH (UID 2)', 'b1 OK FETCH completed']);
      assert.deepEqual(await b.run('b2', 'FETCH 1 (UID)'), ['b2 NO [EXPUNGEISSUED] Some messages were expunged']);
      assert.deepEqual(await b.run('b3', 'SEARCH ALL'), ['* SEARCH 2', 'b3 OK SEARCH completed']);
      assert.deepEqual(await b.run('b4', 'STORE 2 +FLAGS (\\Seen)'), ['* 2 FETCH (FLAGS (\\Seen))', 'b4 OK STORE completed']);
      // NOOP reports it, and the numbers move
      assert.deepEqual(await b.run('b5', 'NOOP'), ['* 1 EXPUNGE', 'b5 OK NOOP completed']);
      assert.deepEqual(await b.run('b6', 'FETCH 1 (UID FLAGS)'), ['* 1 FETCH (UID 2 FLAGS (\\Seen))', 'b6 OK FETCH completed']);
      // A sees B's flag change as an unsolicited FETCH
      // (A was first told of message 2, after its own APPEND: \Recent is A's, RFC 3501 §2.3.2)
      assert.deepEqual(await a.run('a4', 'NOOP'), ['* 1 FETCH (UID 2 FLAGS (\\Seen \\Recent))', 'a4 OK NOOP completed']);
    } finally {
      a.c.close();
      b.c.close();
    }
  }));
