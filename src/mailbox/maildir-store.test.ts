import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MailError } from '../core/index.js';
import { MaildirStore, encodeUniqueKey } from './index.js';

async function withStore(fn: (s: MaildirStore, root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'correio-maildir-'));
  try {
    await fn(new MaildirStore(root, { hostname: 'mx.dc.uece.br', now: () => 1_700_000_000_000 }), root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function text(r: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('latin1');
}

/** a message split into awkward chunks: CR and LF of one line end in different chunks */
function chunked(s: string): Readable {
  const b = Buffer.from(s, 'latin1');
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += 3) parts.push(b.subarray(i, i + 3));
  return Readable.from(parts);
}

const msg = 'From: helvecio@dsc.ufpb.br\r\nSubject: hi\r\n\r\nline one\r\nline two\r\n';

void test('deliver stores LF in new/, open gives CRLF back, sizes count CRLF', () =>
  withStore(async (s, root) => {
    const { key } = await s.deliver('suzana@DC.UECE.BR', chunked(msg), { uniqueKey: 'q1-1' });
    const dir = join(root, 'dc.uece.br', 'suzana');
    const names = await readdir(join(dir, 'new'));
    assert.deepEqual(names, [key]);
    assert.match(key, /^q1-1\.mx\.dc\.uece\.br,S=\d+,W=\d+$/);
    const stored = await readFile(join(dir, 'new', key), 'latin1');
    assert.equal(stored, msg.replace(/\r\n/g, '\n'));
    assert.ok(key.endsWith(`,S=${stored.length},W=${msg.length}`));
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    assert.equal(await text(await s.open('suzana@dc.uece.br', key)), msg);
    const [m] = await s.list('suzana@dc.uece.br');
    assert.deepEqual(m, { key, size: msg.length, flags: '', receivedAt: 1_700_000_000_000, folder: '' });
  }));

void test('a fresh key is moved into new/ with one rename, no link or unlink; a key that may exist still links (issue 19)', () =>
  withStore(async (s, root) => {
    const calls: string[] = [];
    const { linkSync, unlinkSync, renameSync } = fs;
    // maildir-store's named imports of node:fs follow these once synced
    fs.linkSync = (a, b) => (calls.push('link'), linkSync(a, b));
    fs.unlinkSync = (a) => (calls.push('unlink'), unlinkSync(a));
    fs.renameSync = (a, b) => (calls.push('rename'), renameSync(a, b));
    syncBuiltinESMExports();
    let fresh: { key: string };
    try {
      fresh = await s.deliver('ana@dc.uece.br', Buffer.from(msg, 'latin1'), { uniqueKey: 'f1', freshKey: true });
      assert.deepEqual(calls, ['rename']);
      calls.length = 0;
      const again = await s.deliver('ana@dc.uece.br', Buffer.from(msg, 'latin1'), { uniqueKey: 'f1' });
      assert.deepEqual(calls, ['link', 'unlink']); // EEXIST: already delivered
      assert.equal(again.key, fresh.key);
    } finally {
      Object.assign(fs, { linkSync, unlinkSync, renameSync });
      syncBuiltinESMExports();
    }
    const dir = join(root, 'dc.uece.br', 'ana');
    assert.deepEqual(await readdir(join(dir, 'new')), [fresh.key]);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    assert.equal(await text(await s.open('ana@dc.uece.br', fresh.key)), msg);
  }));

void test('delivering the same uniqueKey twice stores it once, even after it moved to cur/', () =>
  withStore(async (s) => {
    const a = await s.deliver('pascal@dc.uece.br', Readable.from([msg]), { uniqueKey: 'abc.1' });
    const b = await s.deliver('pascal@dc.uece.br', Readable.from([msg]), { uniqueKey: 'abc.1' });
    assert.equal(a.key, b.key);
    await s.setFlags('pascal@dc.uece.br', a.key, 'S');
    const c = await s.deliver('pascal@dc.uece.br', Readable.from([msg]), { uniqueKey: 'abc.1' });
    assert.equal(c.key, a.key);
    // a key that is a prefix of another is a different message
    await s.deliver('pascal@dc.uece.br', Readable.from([msg]), { uniqueKey: 'abc' });
    assert.equal((await s.list('pascal@dc.uece.br')).length, 2);
  }));

void test('redelivery is found by name: in new/ (link EEXIST) and in cur/ unflagged; tmp/ is left empty', () =>
  withStore(async (s, root) => {
    const user = 'pascal@dc.uece.br';
    const dir = join(root, 'dc.uece.br', 'pascal');
    const a = await s.deliver(user, Readable.from([msg]), { uniqueKey: '12345' });
    assert.ok(!a.key.startsWith('12345.'), 'an all-digit key never looks like a leading time');
    await s.setFlags(user, a.key, '');
    assert.deepEqual(await readdir(join(dir, 'cur')), [`${a.key}:2,`]);
    const b = await s.deliver(user, chunked(msg), { uniqueKey: '12345' });
    assert.equal(b.key, a.key);
    assert.deepEqual(await readdir(join(dir, 'new')), []);
    const c = await s.deliver(user, Readable.from([msg]), { uniqueKey: 'other' });
    const d = await s.deliver(user, Readable.from([msg]), { uniqueKey: 'other' });
    assert.equal(d.key, c.key);
    assert.deepEqual(await readdir(join(dir, 'new')), [c.key]);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
    assert.deepEqual((await s.list(user)).map((m) => m.key).sort(), [a.key, c.key].sort());
  }));

void test('flags: setFlags moves to cur/ with :2,FLAGS in ASCII order; remove unlinks', () =>
  withStore(async (s, root) => {
    const user = 'suzana@dc.uece.br';
    const { key } = await s.deliver(user, Readable.from([msg]), { uniqueKey: 'k1' });
    await s.setFlags(user, key, 'SRS');
    const cur = await readdir(join(root, 'dc.uece.br', 'suzana', 'cur'));
    assert.deepEqual(cur, [`${key}:2,RS`]);
    assert.deepEqual((await s.list(user)).map((m) => [m.key, m.flags]), [[key, 'RS']]);
    await s.setFlags(user, key, 'T');
    assert.equal((await s.list(user))[0].flags, 'T');
    assert.equal(await text(await s.open(user, key)), msg);
    await assert.rejects(s.setFlags(user, key, 'S1'), RangeError);
    await assert.rejects(s.setFlags(user, 'nope', 'S'), { code: 'ENOENT' });
    await s.remove(user, key);
    assert.deepEqual(await s.list(user), []);
    await s.remove(user, key); // already gone: fine
    await assert.rejects(s.open(user, key), { code: 'ENOENT' });
  }));

void test('folders are Maildir++ .Name directories; "" and INBOX are the root', () =>
  withStore(async (s, root) => {
    const user = 'suzana@dc.uece.br';
    await s.deliver(user, Readable.from([msg]), { uniqueKey: 'k1', folder: 'Sent' });
    await s.deliver(user, Readable.from([msg]), { uniqueKey: 'k2' });
    assert.equal((await readdir(join(root, 'dc.uece.br', 'suzana', '.Sent', 'new'))).length, 1);
    assert.equal((await s.list(user, 'Sent'))[0].folder, 'Sent');
    assert.equal((await s.list(user, 'INBOX')).length, 1);
    assert.equal((await s.list(user, '')).length, 1);
    assert.deepEqual(await s.list('nobody@dc.uece.br'), []);
  }));

void test('path tricks in users, folders and keys are refused with 550 5.1.1', () =>
  withStore(async (s) => {
    for (const user of ['../x@dc.uece.br', 'a@..', 'a/b@x', 'a@x/y', 'a\0@x', 'nodomain', '@x', 'a@', '.hidden@x', 'a@.x']) {
      await assert.rejects(s.deliver(user, Readable.from([msg]), { uniqueKey: 'k' }), (e: unknown) => e instanceof MailError && e.reply.status === '5.1.1', user);
    }
    for (const folder of ['../x', '.x', 'a/b', 'a..b', 'a.']) {
      await assert.rejects(s.list('a@x', folder), MailError, folder);
    }
    await assert.rejects(s.open('a@x', '../../etc/passwd'), { code: 'ENOENT' });
    assert.equal(encodeUniqueKey('a.b/c:d'), 'a=2eb=2fc=3ad');
    // every printable ASCII character as the octet rule says, and a key beyond ASCII octet by octet
    let all = '';
    for (let c = 0x20; c <= 0x7e; c++) all += String.fromCharCode(c);
    const byOctet = (k: string): string => [...Buffer.from(k, 'utf8')].map((b) => (/[A-Za-z0-9_-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `=${b.toString(16).padStart(2, '0')}`)).join('');
    for (let i = 0; i < all.length; i += 16) assert.equal(encodeUniqueKey(all.slice(i, i + 16)), byOctet(all.slice(i, i + 16)));
    assert.equal(encodeUniqueKey('ç.\u0001x'), '=c3=a7=2e=01x');
    assert.equal(encodeUniqueKey('123'), '=3123');
  }));

void test('bare LF and odd chunking: what open() returns is exactly W= long', () =>
  withStore(async (s) => {
    const odd = 'A: b\r\n\r\nbare\nlf\r\r\nend\r';
    const { key } = await s.deliver('x@y', chunked(odd), { uniqueKey: 'odd' });
    const back = await text(await s.open('x@y', key));
    const [m] = await s.list('x@y');
    assert.equal(m.size, Buffer.byteLength(back, 'latin1'));
    assert.equal(back, 'A: b\r\n\r\nbare\r\nlf\r\nend\r');
  }));

void test('foreign Maildir files (no S=/W=) are listed with their CRLF size', () =>
  withStore(async (s, root) => {
    await s.deliver('x@y', Readable.from([msg]), { uniqueKey: 'mine' });
    await writeFile(join(root, 'y', 'x', 'cur', '1600000000.M1P2.other:2,S'), 'a\nbb\n');
    const list = await s.list('x@y');
    const foreign = list.find((m) => m.key === '1600000000.M1P2.other');
    assert.deepEqual(foreign && [foreign.size, foreign.flags, foreign.receivedAt], [7, 'S', 1_600_000_000_000]);
    assert.equal(list[0].key, '1600000000.M1P2.other', 'sorted by arrival');
  }));

void test('a failing input stream leaves nothing behind', () =>
  withStore(async (s, root) => {
    const bad = new Readable({
      read() {
        this.push('partial\r\n');
        this.destroy(new Error('spool read error'));
      },
    });
    await assert.rejects(s.deliver('x@y', bad, { uniqueKey: 'bad' }), /spool read error/);
    assert.deepEqual(await readdir(join(root, 'y', 'x', 'tmp')), []);
    assert.deepEqual(await s.list('x@y'), []);
  }));

void test('open while the flags change (the file renamed between finding and opening) still reads the message', () =>
  withStore(async (s) => {
    const user = 'suzana@dc.uece.br';
    const { key } = await s.deliver(user, Readable.from([msg]), { uniqueKey: 'race-1' });
    // each round renames the file while open is looking for it (webmail: read and mark read at once)
    for (let i = 0; i < 60; i++) {
      const [body] = await Promise.all([s.open(user, key).then(text), s.setFlags(user, key, i % 2 === 0 ? 'S' : '')]);
      assert.equal(body, msg);
    }
  }));
