/**
 * IMAP under hostile input: thousands of random and mutated commands (in every state), then a
 * normal session must still work; thousands more carrying literals of random octets (LITERAL+
 * and synchronizing, some past the 64 KB limit), each answered with its tag; and one user can
 * never reach another user's mailboxes.
 * The random source is seeded, so a failure repeats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';
import { AuthThrottle } from '../../src/policy/auth-throttle.js';
import { LineClient } from '../helpers/net.js';

const users: Record<string, string> = { 'suzana@dc.uece.br': 'secret', 'jacques@dc.uece.br': 'other' };

async function withServer(fn: (port: number, store: MaildirStore) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'correio-imapfuzz-'));
  const store = new MaildirStore(root, { hostname: 'mx' });
  const msg = 'From: a@b.c\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n';
  for (const u of Object.keys(users)) await store.deliver(u, Readable.from([Buffer.from(msg)]), { uniqueKey: `k-${u}` });
  const server = new ImapServer({
    hostname: 'mx',
    folders: new MaildirFolders(store),
    authenticate: (u, p) => Promise.resolve(users[u] === p),
    authFailureDelayMs: 1,
    maxAuthFailures: 1000,
    // the fuzz fails many logins: a throttle that would block the address after five is not under test here
    authThrottle: new AuthThrottle({ maxFailuresPerAddress: 1_000_000, maxFailuresPerAccount: 1_000_000 }),
  });
  const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
  try {
    await fn(bound.port, store);
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** xorshift32: a small seeded random source */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

const valid = [
  'CAPABILITY', 'NOOP', 'SELECT INBOX', 'EXAMINE Sent', 'FETCH 1:* (FLAGS UID BODY.PEEK[1.MIME] BODYSTRUCTURE ENVELOPE)', 'FETCH 1 BODY[1]<0.1>',
  'UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])', 'STORE 1 +FLAGS (\\Seen)', 'SEARCH OR SEEN TEXT hi', 'UID SEARCH ALL',
  'LIST "" *', 'LSUB "" %', 'STATUS INBOX (MESSAGES UIDNEXT)', 'CREATE Fuzz', 'RENAME Fuzz Fuzz2', 'DELETE Fuzz2', 'COPY 1 Archive', 'CHECK', 'UNSELECT',
  'LOGIN suzana@dc.uece.br secret', 'ID NIL', 'ENABLE CONDSTORE', 'NAMESPACE', 'SUBSCRIBE Sent', 'UID EXPUNGE 99', 'APPEND Drafts {3+}\r\nabc',
];
const alphabet = ' ()[]{}<>"\\*%:.,+-~$0123456789ABCabc\r\n\u0000\u00e9~';

function mutate(s: string, r: () => number): string {
  const chars = [...s];
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (chars.length + 1));
    const op = r();
    const c = alphabet[Math.floor(r() * alphabet.length)];
    if (op < 0.4) chars.splice(at, 0, c);
    else if (op < 0.7) chars.splice(at, 1);
    else chars[at] = c;
  }
  return clean(chars.join(''));
}

/** One line; a literal announced at its end would swallow the next commands: not what is tested here. */
function clean(s: string): string {
  return s.replace(/\r|\n/g, ' ').replace(/\{[\d+]*\}?\s*$/, '');
}

void test('fuzz: thousands of random and mutated commands never crash the server; a normal session works afterwards', () =>
  withServer(async (port) => {
    const r = rng(0x1234567);
    let sent = 0;
    for (let conn = 0; conn < 6; conn++) {
      const c = await LineClient.connect(port, '127.0.0.1');
      try {
        assert.match((await c.readLine()) ?? '', /^\* OK/);
        if (conn % 2 === 1) {
          c.write('l LOGIN suzana@dc.uece.br secret\r\ns SELECT INBOX\r\n');
        }
        for (let i = 0; i < 600; i++) {
          const base = valid[Math.floor(r() * valid.length)];
          const line = r() < 0.15 ? clean(Array.from({ length: Math.floor(r() * 80) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('')) : mutate(base, r);
          c.write(`f${i} ${line}\r\n`);
          sent++;
        }
        // the session still answers in order (every command got its tagged reply)
        c.write('z NOOP\r\n');
        for (let n = 0; n < 5000; n++) {
          const l = await c.readLine(20000);
          if (l === undefined) break; // the server may end a session (LOGOUT in the fuzz)
          if (l.startsWith('z ')) {
            assert.match(l, /^z OK /);
            break;
          }
        }
      } finally {
        c.close();
      }
    }
    assert.ok(sent >= 3000);
    const c = await LineClient.connect(port, '127.0.0.1');
    try {
      await c.readLine();
      c.write('a LOGIN suzana@dc.uece.br secret\r\n');
      assert.match((await c.readLine()) ?? '', /^a OK/);
      c.write('b EXAMINE INBOX\r\n');
      let l: string | undefined;
      do l = await c.readLine();
      while (l !== undefined && !l.startsWith('b '));
      assert.match(l ?? '', /^b OK \[READ-ONLY\]/);
    } finally {
      c.close();
    }
  }));

/** Commands with literals where `{L}` stands: each gets random octets, sent as `{n+}` or as `{n}` after the "+". */
const withLiterals = [
  'APPEND Drafts {L}', 'APPEND Drafts (\\Seen $Fuzz) "01-Jan-2020 00:00:00 +0000" {L}', 'APPEND Drafts {L} {L}', 'APPEND Drafts CATENATE (TEXT {L} URL {L})',
  'APPEND Drafts UTF8 (~{L})', 'LOGIN {L} {L}', 'AUTHENTICATE PLAIN {L}', 'SEARCH CHARSET UTF-8 TEXT {L}', 'UID SEARCH OR SUBJECT {L} BODY {L}', 'CREATE {L}',
  'SELECT {L}', 'STATUS {L} (MESSAGES SIZE)', 'RENAME {L} {L}', 'FETCH 1 (BODY.PEEK[HEADER.FIELDS ({L})])', 'ID ({L} {L})', 'SORT (SUBJECT) UTF-8 TEXT {L}',
];

/** random octets: mostly IMAP syntax and text, sometimes anything (NUL, CR, LF, 8-bit), sometimes past the 64 KB literal limit */
function octets(r: () => number): Buffer {
  const roll = r();
  const n = roll < 0.02 ? 65_537 + Math.floor(r() * 2000) : roll < 0.1 ? 0 : Math.floor(r() * 300);
  const b = Buffer.alloc(n);
  const any = r() < 0.15;
  for (let i = 0; i < n; i++) b[i] = any ? Math.floor(r() * 256) : alphabet.charCodeAt(Math.floor(r() * alphabet.length)) & 0xff;
  return b;
}

void test('fuzz with literals: thousands of commands with random literal octets, synchronizing and not, over the limit or not; sessions stay in step', () =>
  withServer(async (port) => {
    const r = rng(0x5eed1);
    let sent = 0;
    let literals = 0;
    const answers = new Map<string, number>();
    const count = (line: string): void => {
      const key = / (OK|NO|BAD) (\[\w+)?/.exec(line)?.slice(1).join('') ?? line;
      answers.set(key, (answers.get(key) ?? 0) + 1);
    };
    for (let conn = 0; conn < 6; conn++) {
      const c = await LineClient.connect(port, '127.0.0.1');
      try {
        assert.match((await c.readLine()) ?? '', /^\* OK/);
        // four of the six in the authenticated and selected states
        if (conn % 3 !== 0) {
          c.write('l LOGIN suzana@dc.uece.br secret\r\ns SELECT INBOX\r\n');
          await c.readTagged('s');
        }
        for (let i = 0; i < 500; i++) {
          const tag = `g${i}`;
          const pieces = withLiterals[Math.floor(r() * withLiterals.length)].split('{L}');
          let cut = false;
          // what goes out in one write (Nagle's algorithm would hold a second small write for an ACK)
          let out: Buffer[] = [];
          for (let k = 0; k < pieces.length && !cut; k++) {
            const text = (k === 0 ? `${tag} ` : '') + (r() < 0.3 ? mutate(pieces[k], r) : pieces[k]);
            if (k === pieces.length - 1) {
              c.write(Buffer.concat([...out, Buffer.from(`${text}\r\n`, 'latin1')]));
              break;
            }
            const data = octets(r);
            literals++;
            if (r() < 0.5) {
              out.push(Buffer.from(`${text}{${data.length}+}\r\n`, 'latin1'), data);
              continue;
            }
            // a synchronizing literal: the data only after "+"; a refusal ends the command
            c.write(Buffer.concat([...out, Buffer.from(`${text}{${data.length}}\r\n`, 'latin1')]));
            out = [];
            for (;;) {
              const l = await c.readLine(20000);
              assert.notEqual(l, undefined, `the session ended at ${tag}`);
              if (l!.startsWith('+')) {
                out.push(data);
                break;
              }
              if (l!.startsWith(`${tag} `)) {
                count(l!);
                cut = true;
                break;
              }
            }
          }
          sent++;
          if (cut) continue;
          // every command is answered with its tag, whatever became of its literals
          const lines = await c.readTagged(tag, 20000);
          assert.match(lines.at(-1) ?? '', new RegExp(`^${tag} (OK|NO|BAD) `), `${tag}: ${lines.slice(-3).join(' | ')}`);
          count(lines.at(-1) ?? '');
        }
        c.write('z NOOP\r\n');
        assert.match((await c.readTagged('z', 20000)).at(-1) ?? '', /^z OK /);
      } finally {
        c.close();
      }
    }
    assert.ok(sent >= 3000 && literals >= 3000, `${sent} commands, ${literals} literals`);
    // the fuzz reached past the framing: messages stored, literals refused as too large, others refused by the grammar
    const summary = JSON.stringify([...answers]);
    for (const key of ['OK[APPENDUID', 'OK', 'BAD[TOOBIG', 'BAD', 'NO[BADURL', 'NO[CANNOT']) assert.ok((answers.get(key) ?? 0) > 0, `${key} in ${summary}`);
    // the messages that went in are whole messages a normal session can FETCH
    const c = await LineClient.connect(port, '127.0.0.1');
    try {
      await c.readLine();
      c.write('a LOGIN suzana@dc.uece.br secret\r\nb SELECT Drafts\r\nc FETCH 1:* (UID RFC822.SIZE BODYSTRUCTURE ENVELOPE)\r\n');
      assert.match((await c.readTagged('b')).at(-1) ?? '', /^b OK \[READ-WRITE\]/);
      assert.match((await c.readTagged('c', 60000)).at(-1) ?? '', /^c OK /);
    } finally {
      c.close();
    }
  }));

void test("a user never reaches another user's mailboxes", () =>
  withServer(async (port, store) => {
    const c = await LineClient.connect(port, '127.0.0.1');
    const until = (tag: string): Promise<string[]> => c.readTagged(tag);
    try {
      await c.readLine();
      c.write('a LOGIN jacques@dc.uece.br other\r\n');
      await until('a');
      for (const [i, name] of ['../suzana', '../../dc.uece.br/suzana', '/etc', '..', '.', 'suzana@dc.uece.br', '~suzana', 'INBOX/../../suzana'].entries()) {
        c.write(`s${i} SELECT "${name}"\r\n`);
        const lines = await until(`s${i}`);
        assert.match(lines[lines.length - 1], new RegExp(`^s${i} NO `), name);
        // a folder may be named like another user: it is then one of this user's own folders
        if (/[@~]/.test(name)) continue;
        c.write(`c${i} CREATE "${name}"\r\n`);
        const made = await until(`c${i}`);
        assert.match(made[made.length - 1], new RegExp(`^c${i} NO `), name);
      }
      // jacques' own INBOX holds only his message; suzana's is untouched
      c.write('x SELECT INBOX\r\n');
      assert.ok((await until('x')).includes('* 1 EXISTS'));
      c.write('y STORE 1 +FLAGS (\\Deleted)\r\nz EXPUNGE\r\n');
      await until('z');
      assert.equal((await store.list('suzana@dc.uece.br')).length, 1);
      assert.equal((await store.list('jacques@dc.uece.br')).length, 0);
    } finally {
      c.close();
    }
  }));
