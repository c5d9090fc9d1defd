/**
 * @module mail-folder-store-contract
 * The behaviour every MailFolderStore backend must have (Maildir, PostgreSQL, ...), with the
 * MailboxStore beside it that local delivery and POP3 use on the same mailboxes. A backend's
 * test calls mailFolderStoreContract(name, make) and gets one node:test suite.
 * Standards: RFC 9051 §2.3.1.1 (UIDs strictly ascending in arrival order, never reused within
 *   one UIDVALIDITY; UIDNEXT), §2.3.2 (flags and keywords), §5.1 (INBOX case-insensitive),
 *   §6.3.4-§6.3.6 (CREATE, DELETE, RENAME with inferiors; INBOX cannot be deleted), §6.3.7
 *   (subscriptions); RFC 7162 §3.1 (MODSEQ per message, HIGHESTMODSEQ per folder, growing with
 *   every change; one command's changes may share one), §3.1.3 (UNCHANGEDSINCE), §3.2.5.1
 *   (expunged UIDs for VANISHED); RFC 6154 (the special use of the default folders).
 * Security: folder names come from clients: traversal and wildcard names are refused; one
 *   user never sees another's folders or messages.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { MailFolderError, type AppendItem, type FolderSnapshot, type MailboxStore, type MailFolderStore } from '../../src/core/index.js';
import { readAll } from './queue-store.contract.js';

export interface ContractFolders {
  folders: MailFolderStore;
  /** the delivery/POP3 face of the same storage (messages reach INBOX through `deliver`) */
  mailbox: MailboxStore;
  /** closes the stores and removes everything they made */
  cleanup(): Promise<void>;
  /**
   * a second, independent instance on the same storage (another process or node); the
   * persistence and concurrency tests skip without it
   */
  another?(): Promise<{ folders: MailFolderStore; mailbox: MailboxStore }>;
}

const user = 'suzana@dc.uece.br';
const other = 'pascal@dc.uece.br';

export const message = (n: number | string): string => `From: helvecio@dsc.ufpb.br\r\nSubject: m${n}\r\n\r\nbody ${n}\r\n`;
const stream = (text: string): Readable => Readable.from([Buffer.from(text)]);

/** A snapshot as a value to compare: its head, its version and every message of its list. */
const whole = (s: FolderSnapshot): object => ({ ...s, messages: [...s.list] });

const isKind = (kind: MailFolderError['kind']) => (e: unknown): boolean => e instanceof MailFolderError && e.kind === kind;

export function mailFolderStoreContract(name: string, make: () => Promise<ContractFolders>): void {
  void describe(`MailFolderStore contract: ${name}`, () => {
    async function withStore(fn: (s: ContractFolders) => Promise<void>): Promise<void> {
      const s = await make();
      try {
        await fn(s);
      } finally {
        await s.cleanup();
      }
    }
    async function deliver(s: { mailbox: MailboxStore }, n: number, to = user): Promise<void> {
      await s.mailbox.deliver(to, stream(message(n)), { uniqueKey: `contract-${to}-${n}` });
    }

    void test('an empty INBOX: UIDVALIDITY set, UIDNEXT 1, no messages; INBOX in any case', () =>
      withStore(async ({ folders }) => {
        const a = await folders.sync(user, 'INBOX');
        assert.ok(a.uidValidity >= 1 && a.uidValidity <= 0xffffffff);
        assert.equal(a.uidNext, 1);
        assert.deepEqual([...a.list], []);
        assert.ok(await folders.folderExists(user, 'inbox'));
        assert.equal((await folders.sync(user, 'Inbox')).uidValidity, a.uidValidity);
      }));

    void test('delivered messages get UIDs in arrival order, with their size, date and octets', () =>
      withStore(async (s) => {
        const before = Date.now() - 5000;
        for (let i = 1; i <= 3; i++) await deliver(s, i);
        const a = await s.folders.sync(user, 'INBOX');
        assert.deepEqual([...a.list].map((m) => m.uid), [1, 2, 3]);
        assert.equal(a.uidNext, 4);
        for (const [i, m] of [...a.list].entries()) {
          assert.equal(m.size, Buffer.byteLength(message(i + 1)));
          assert.equal(m.flags, '');
          assert.deepEqual(m.keywords, []);
          assert.ok(m.receivedAt >= before && m.receivedAt <= Date.now() + 5000, `receivedAt ${m.receivedAt}`);
          assert.equal((await readAll(await s.folders.open(user, 'INBOX', m.key))).toString(), message(i + 1));
        }
        // a second sync changes nothing
        assert.deepEqual(whole(await s.folders.sync(user, 'INBOX')), whole(a));
      }));

    void test('an expunged UID is never reused; a removal through the MailboxStore (POP3) shows too', () =>
      withStore(async (s) => {
        for (let i = 1; i <= 3; i++) await deliver(s, i);
        const a = await s.folders.sync(user, 'INBOX');
        await s.folders.remove(user, 'INBOX', a.list.at(2)!.key);
        await s.mailbox.remove(user, a.list.at(1)!.key);
        await assert.rejects(s.folders.open(user, 'INBOX', a.list.at(2)!.key));
        await deliver(s, 4);
        const b = await s.folders.sync(user, 'INBOX');
        assert.equal(b.uidValidity, a.uidValidity);
        assert.deepEqual([...b.list].map((m) => m.uid), [1, 4]);
        assert.equal(b.uidNext, 5);
      }));

    void test('APPEND stores flags, keywords and the internal date (a message given as a stream or whole); its UID is the one a sync gives', () =>
      withStore(async ({ folders }) => {
        await folders.createFolder(user, 'Work');
        const when = Date.UTC(2020, 0, 2, 3, 4, 5);
        const r = await folders.append(user, 'Work', stream(message('a')), { flags: 'RS', keywords: ['$Forwarded', 'todo'], receivedAt: when });
        const r2 = await folders.append(user, 'Work', Buffer.from(message('b')), { flags: '' });
        const snap = await folders.sync(user, 'Work');
        assert.equal(r.uidValidity, snap.uidValidity);
        assert.deepEqual([...snap.list].map((m) => m.uid), [r.uid, r2.uid]);
        assert.ok(r2.uid > r.uid);
        const [m] = snap.list;
        assert.equal(m.flags, 'RS');
        assert.deepEqual(m.keywords, ['$Forwarded', 'todo']);
        assert.equal(m.receivedAt, when);
        assert.equal(m.size, Buffer.byteLength(message('a')));
        assert.equal((await readAll(await folders.open(user, 'Work', m.key))).toString(), message('a'));
        assert.equal((await readAll(await folders.open(user, 'Work', snap.list.at(1)!.key))).toString(), message('b'));
      }));

    void test('exactOctets (RFC 3516 §4.4) says truly which octets come back exactly: the same answer whole or octet by octet', () =>
      withStore(async ({ folders }) => {
        const head = 'Subject: b\r\n\r\n';
        const bodies = ['A\u0000B\r\nC\r', 'A\nB\r\n', '\nA\r\n', 'A\r\r\nB\r\n', 'A\rB\r\n'];
        const kept: boolean[] = [];
        for (const body of bodies) {
          const octets = Buffer.from(head + body, 'latin1');
          const { uid } = await folders.append(user, 'INBOX', octets, { flags: '' });
          const m = [...(await folders.sync(user, 'INBOX')).list].find((x) => x.uid === uid)!;
          const back = await readAll(await folders.open(user, 'INBOX', m.key));
          const rule = folders.exactOctets;
          const said = rule ? rule.check()(octets) : true;
          const piecewise = rule?.check();
          const saidByOctet = piecewise ? [...octets].map((o) => piecewise(Buffer.of(o))).at(-1) : true;
          assert.equal(saidByOctet, said, JSON.stringify(body));
          assert.equal(said, back.equals(octets), `${JSON.stringify(body)} read back as ${JSON.stringify(back.toString('latin1'))}`);
          kept.push(said);
        }
        // CRLF, a lone CR and NUL are kept by every store; a bare LF by none of ours
        assert.deepEqual([kept[0], kept[1], kept[2], kept[4]], [true, false, false, true]);
      }));

    void test('COPY keeps flags, keywords and date, gives new ascending UIDs in the target and leaves the source', () =>
      withStore(async (s) => {
        const { folders } = s;
        await folders.createFolder(user, 'Archive.2024');
        await deliver(s, 1);
        await deliver(s, 2);
        const src = await folders.sync(user, 'INBOX');
        await folders.updateFlags(user, 'INBOX', [1], { mode: 'add', flags: 'F', keywords: ['$Important'] });
        await folders.append(user, 'Archive.2024', stream(message('x')), { flags: '' });
        const c = await folders.copy(user, 'INBOX', [...src.list].map((m) => m.key), 'Archive.2024');
        const dst = await folders.sync(user, 'Archive.2024');
        assert.equal(c.uidValidity, dst.uidValidity);
        assert.deepEqual(c.uids, [2, 3]);
        // INTERNALDATE has a precision of one second (RFC 9051 §9 date-time)
        const sec = (ms: number): number => Math.floor(ms / 1000);
        assert.deepEqual([...dst.list].map((m) => [m.uid, m.flags, m.keywords, sec(m.receivedAt)]), [
          [1, '', [], sec(dst.list.at(0)!.receivedAt)],
          [2, 'F', ['$Important'], sec(src.list.at(0)!.receivedAt)],
          [3, '', [], sec(src.list.at(1)!.receivedAt)],
        ]);
        assert.equal((await readAll(await folders.open(user, 'Archive.2024', dst.list.at(2)!.key))).toString(), message(2));
        assert.equal((await folders.sync(user, 'INBOX')).list.length, 2);
        await assert.rejects(folders.copy(user, 'INBOX', [src.list.at(0)!.key], 'Nope'), isKind('nonexistent'));
      }));

    /** A case for an optional part of the interface: skipped (saying why) where the backend lacks it. */
    function optional(title: string, has: (f: MailFolderStore) => boolean, lacking: string, fn: (s: ContractFolders) => Promise<void>): void {
      void test(title, async (t) => {
        const s = await make();
        try {
          if (has(s.folders)) await fn(s);
          else t.skip(lacking);
        } finally {
          await s.cleanup();
        }
      });
    }

    optional(
      'MULTIAPPEND (optional appendMany): UIDs in order with flags, keywords and dates; a bad keyword stores none; given as they come (an async iterable, streams among them), an error thrown mid-stream stores none',
      (f) => f.appendMany !== undefined,
      'the backend has no appendMany (MULTIAPPEND then appends one by one)',
      async (s) => {
        const folders = s.folders as Required<Pick<MailFolderStore, 'appendMany'>> & MailFolderStore;
        await folders.createFolder(user, 'Lote');
        const at = Date.UTC(2024, 0, 2, 3, 4, 5);
        const r = await folders.appendMany(user, 'Lote', [
          { message: Buffer.from(message(1)), flags: 'S' },
          { message: Buffer.from(message(2)), flags: '', keywords: ['$Label1'], receivedAt: at },
        ]);
        const snap = await folders.sync(user, 'Lote');
        assert.equal(r.uidValidity, snap.uidValidity);
        // the UIDs of the messages in the order given (a store may number them by INTERNALDATE)
        assert.deepEqual([...r.uids].sort(), [1, 2]);
        const byUid = new Map([...snap.list].map((m) => [m.uid, m]));
        const [one, two] = r.uids.map((u) => byUid.get(u)!);
        assert.deepEqual([one.flags, one.keywords, two.flags, two.keywords], ['S', [], '', ['$Label1']]);
        assert.equal(Math.floor(two.receivedAt / 1000), at / 1000);
        assert.equal((await readAll(await folders.open(user, 'Lote', two.key))).toString(), message(2));
        assert.equal((await readAll(await folders.open(user, 'Lote', one.key))).toString(), message(1));
        await assert.rejects(folders.appendMany(user, 'Lote', [{ message: Buffer.from(message(3)), flags: '' }, { message: Buffer.from(message(4)), flags: '', keywords: ['bad keyword'] }]));
        await assert.rejects(folders.appendMany(user, 'Nope', [{ message: Buffer.from(message(5)), flags: '' }]), isKind('nonexistent'));
        assert.equal((await folders.sync(user, 'Lote')).list.length, 2);
        // the messages as IMAP reads them: the next asked for once a streamed one is read
        async function* given(fail: boolean): AsyncGenerator<AppendItem> {
          yield { message: Buffer.from(message(6)), flags: 'S' };
          const text = Buffer.from(message(7));
          const literal = async function* (): AsyncGenerator<Buffer> {
            yield text.subarray(0, 10);
            if (fail) throw new Error('the client went away');
            yield text.subarray(10);
          };
          yield { message: Readable.from(literal(), { objectMode: false }), flags: '', keywords: ['$Label2'] };
        }
        const streamed = await folders.appendMany(user, 'Lote', given(false));
        const after = new Map([...(await folders.sync(user, 'Lote')).list].map((m) => [m.uid, m]));
        assert.equal(after.size, 4);
        assert.equal((await readAll(await folders.open(user, 'Lote', after.get(streamed.uids[1])!.key))).toString(), message(7));
        assert.deepEqual(after.get(streamed.uids[1])!.keywords, ['$Label2']);
        // (a backend may give its own error for it)
        await assert.rejects(folders.appendMany(user, 'Lote', given(true)));
        assert.equal((await folders.sync(user, 'Lote')).list.length, 4);
      },
    );

    optional(
      'MOVE (optional move): flags, keywords, date and octets go along; gone from the source, new UIDs in the target',
      (f) => f.move !== undefined,
      'the backend has no move (MOVE is then a copy and a removal)',
      async (s) => {
        const folders = s.folders as Required<Pick<MailFolderStore, 'move'>> & MailFolderStore;
        await folders.createFolder(user, 'Done');
        await folders.append(user, 'Done', stream(message('x')), { flags: '' });
        for (let i = 1; i <= 3; i++) await deliver(s, i);
        await folders.updateFlags(user, 'INBOX', [2], { mode: 'add', flags: 'S', keywords: ['$Forwarded'] });
        const src = await folders.sync(user, 'INBOX');
        const keys = [src.list.at(1)!.key, src.list.at(2)!.key, 'no-such-key'];
        const r = await folders.move(user, 'INBOX', keys, 'Done');
        const dst = await folders.sync(user, 'Done');
        assert.equal(r.uidValidity, dst.uidValidity);
        assert.deepEqual(r.moved, keys.slice(0, 2));
        assert.deepEqual(r.uids, [2, 3]);
        assert.deepEqual([...dst.list].map((m) => [m.uid, m.flags, m.keywords]), [[1, '', []], [2, 'S', ['$Forwarded']], [3, '', []]]);
        assert.equal(Math.floor(dst.list.at(1)!.receivedAt / 1000), Math.floor(src.list.at(1)!.receivedAt / 1000));
        assert.equal((await readAll(await folders.open(user, 'Done', dst.list.at(2)!.key))).toString(), message(3));
        const after = await folders.sync(user, 'INBOX');
        assert.deepEqual([...after.list].map((m) => m.uid), [1]);
        const ch = await folders.changesSince(user, 'INBOX', src.highestModseq);
        assert.deepEqual(ch.vanished, [{ from: 2, to: 3 }]);
        await assert.rejects(folders.move(user, 'INBOX', [after.list.at(0)!.key], 'Nope'), isKind('nonexistent'));
      },
    );

    void test('updateFlags: one new MODSEQ per call, add/remove/set, missing UIDs, UNCHANGEDSINCE, no change no MODSEQ', () =>
      withStore(async (s) => {
        const { folders } = s;
        for (let i = 1; i <= 3; i++) await deliver(s, i);
        const a = await folders.sync(user, 'INBOX');
        const m0 = a.highestModseq;
        assert.ok([...a.list].every((m) => m.modseq >= 1 && m.modseq <= m0));
        const u = await folders.updateFlags(user, 'INBOX', [1, 2, 9], { mode: 'add', flags: 'S', keywords: ['$Forwarded'] });
        assert.ok(u.highestModseq > m0);
        assert.deepEqual(u.updated.map((m) => [m.uid, m.modseq, m.flags, m.keywords]), [
          [1, u.highestModseq, 'S', ['$Forwarded']],
          [2, u.highestModseq, 'S', ['$Forwarded']],
        ]);
        assert.deepEqual(u.missing, [9]);
        assert.deepEqual(u.modified, []);
        // keywords are case-insensitive: adding "$forwarded" again changes nothing
        const same = await folders.updateFlags(user, 'INBOX', [1], { mode: 'add', flags: 'S', keywords: ['$forwarded'] });
        assert.deepEqual(same.updated, []);
        assert.equal(same.highestModseq, u.highestModseq);
        const cond = await folders.updateFlags(user, 'INBOX', [1, 3], { mode: 'add', flags: 'F' }, { unchangedSince: m0 });
        assert.deepEqual(cond.modified, [1]);
        assert.deepEqual(cond.updated.map((m) => [m.uid, m.flags]), [[3, 'F']]);
        assert.ok(cond.highestModseq > u.highestModseq);
        const rm = await folders.updateFlags(user, 'INBOX', [1], { mode: 'remove', flags: 'S', keywords: ['$FORWARDED'] });
        assert.deepEqual(rm.updated.map((m) => [m.flags, m.keywords]), [['', []]]);
        // "set" replaces the flags; keywords stay when not given
        await folders.updateFlags(user, 'INBOX', [2], { mode: 'set', flags: 'DT' });
        const b = await folders.sync(user, 'INBOX');
        assert.deepEqual([...b.list].map((m) => [m.uid, m.flags, m.keywords]), [
          [1, '', []],
          [2, 'DT', ['$Forwarded']],
          [3, 'F', []],
        ]);
        assert.ok([...b.list].every((m) => m.modseq <= b.highestModseq));
        assert.equal(b.highestModseq, Math.max(...[...b.list].map((m) => m.modseq)));
        await assert.rejects(folders.updateFlags(user, 'INBOX', [1], { mode: 'add', keywords: ['bad keyword'] }), isKind('cannot'));
        assert.deepEqual((await folders.sync(user, 'INBOX')).highestModseq, b.highestModseq);
      }));

    void test('MODSEQ: arrivals, flags set through the MailboxStore and expunges raise it; changesSince tells them', () =>
      withStore(async (s) => {
        const { folders } = s;
        for (let i = 1; i <= 3; i++) await deliver(s, i);
        const a = await folders.sync(user, 'INBOX');
        const m0 = a.highestModseq;
        await s.mailbox.setFlags(user, a.list.at(0)!.key, 'RS');
        await folders.remove(user, 'INBOX', a.list.at(1)!.key);
        await deliver(s, 4);
        const ch = await folders.changesSince(user, 'INBOX', m0);
        assert.equal(ch.uidValidity, a.uidValidity);
        assert.ok(ch.highestModseq > m0);
        assert.deepEqual(ch.changed.map((m) => [m.uid, m.flags]), [[1, 'RS'], [4, '']]);
        assert.ok(ch.changed.every((m) => m.modseq > m0 && m.modseq <= ch.highestModseq));
        assert.deepEqual(ch.vanished, [{ from: 2, to: 2 }]);
        const none = await folders.changesSince(user, 'INBOX', ch.highestModseq);
        assert.deepEqual([none.changed, none.vanished], [[], []]);
        // from the start: every message present, and the vanished never names one of them
        const all = await folders.changesSince(user, 'INBOX', 0);
        assert.deepEqual(all.changed.map((m) => m.uid), [1, 3, 4]);
        for (const r of all.vanished) for (const uid of [1, 3, 4]) assert.ok(uid < r.from || uid > r.to, `vanished ${r.from}:${r.to} names ${uid}`);
      }));

    void test('default folders: made once, with their special use, and subscribed', () =>
      withStore(async ({ folders }) => {
        await folders.ensureDefaultFolders(user);
        await folders.ensureDefaultFolders(user);
        const list = await folders.listFolders(user);
        assert.equal(list[0].name, 'INBOX');
        assert.deepEqual(
          list.map((f) => [f.name, f.specialUse ?? '']).sort(),
          [['Archive', '\\Archive'], ['Drafts', '\\Drafts'], ['INBOX', ''], ['Junk', '\\Junk'], ['Sent', '\\Sent'], ['Trash', '\\Trash']],
        );
        assert.deepEqual((await folders.listSubscriptions(user)).sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
        assert.equal(folders.delimiter, '.');
      }));

    void test('CREATE, RENAME with inferiors (messages and UIDVALIDITY kept), DELETE; names refused', () =>
      withStore(async ({ folders }) => {
        await folders.createFolder(user, 'Work');
        await folders.createFolder(user, 'Work.2024');
        const r = await folders.append(user, 'Work.2024', stream(message(1)), { flags: 'S' });
        await assert.rejects(folders.createFolder(user, 'Work'), isKind('exists'));
        await assert.rejects(folders.createFolder(user, 'INBOX'), isKind('exists'));
        for (const bad of ['../x', 'a/b', 'a*', 'a%', '.hidden', 'a..b', 'x\u0000', 'trailing.', '']) {
          await assert.rejects(folders.createFolder(user, bad), isKind('bad-name'), JSON.stringify(bad));
        }
        await folders.renameFolder(user, 'Work', 'Job');
        assert.deepEqual((await folders.listFolders(user)).map((f) => f.name).sort(), ['INBOX', 'Job', 'Job.2024']);
        assert.equal(await folders.folderExists(user, 'Work.2024'), false);
        const moved = await folders.sync(user, 'Job.2024');
        assert.deepEqual([...moved.list].map((m) => [m.uid, m.flags]), [[r.uid, 'S']]);
        assert.equal(moved.uidValidity, r.uidValidity);
        await assert.rejects(folders.renameFolder(user, 'Job', 'Job.2024'), isKind('exists'));
        await assert.rejects(folders.renameFolder(user, 'Nope', 'Other'), isKind('nonexistent'));
        await folders.deleteFolder(user, 'Job.2024');
        assert.deepEqual((await folders.listFolders(user)).map((f) => f.name).sort(), ['INBOX', 'Job']);
        await assert.rejects(folders.deleteFolder(user, 'INBOX'), isKind('cannot'));
        await assert.rejects(folders.deleteFolder(user, 'Nope'), isKind('nonexistent'));
        await assert.rejects(folders.sync(user, 'Job.2024'), isKind('nonexistent'));
        await assert.rejects(folders.append(user, 'Nope', stream(message(2)), { flags: '' }), isKind('nonexistent'));
      }));

    void test('a folder made again after DELETE does not bring back its messages or reuse its UIDs under the same UIDVALIDITY', () =>
      withStore(async ({ folders }) => {
        await folders.createFolder(user, 'Tmp');
        const a = await folders.append(user, 'Tmp', stream(message(1)), { flags: '' });
        await folders.deleteFolder(user, 'Tmp');
        await folders.createFolder(user, 'Tmp');
        const snap = await folders.sync(user, 'Tmp');
        assert.deepEqual([...snap.list], []);
        const b = await folders.append(user, 'Tmp', stream(message(2)), { flags: '' });
        // RFC 9051 §2.3.1.1: a UID named again must come with another UIDVALIDITY
        assert.ok(b.uidValidity !== a.uidValidity || b.uid > a.uid, `uid ${b.uid} reused under UIDVALIDITY ${b.uidValidity}`);
      }));

    optional(
      'CREATE-SPECIAL-USE (where canCreateSpecialUse): the use is listed, and goes with RENAME',
      (f) => f.canCreateSpecialUse === true,
      'the backend keeps no special use given at creation',
      async ({ folders }) => {
        await folders.createFolder(user, 'Enviadas', { specialUse: '\\Sent' });
        await folders.createFolder(user, 'Plain', {});
        const list = await folders.listFolders(user);
        assert.equal(list.find((f) => f.name === 'Enviadas')?.specialUse, '\\Sent');
        assert.equal(list.find((f) => f.name === 'Plain')?.specialUse, undefined);
        await folders.renameFolder(user, 'Enviadas', 'Saida');
        assert.equal((await folders.listFolders(user)).find((f) => f.name === 'Saida')?.specialUse, '\\Sent');
      },
    );

    optional(
      '\\Recent (optional recentFrom): the first claim takes every message so far, the next caller gets only newer ones',
      (f) => f.recentFrom !== undefined,
      'the backend keeps no \\Recent (no message is recent)',
      async (s) => {
        const folders = s.folders as Required<Pick<MailFolderStore, 'recentFrom'>> & MailFolderStore;
        assert.equal(await folders.recentFrom(user, 'INBOX', false), 1);
        for (let i = 1; i <= 2; i++) await deliver(s, i);
        await folders.sync(user, 'INBOX');
        // a look (EXAMINE) claims nothing; a claim (SELECT) takes UIDs 1 and 2
        assert.equal(await folders.recentFrom(user, 'INBOX', false), 1);
        assert.equal(await folders.recentFrom(user, 'INBOX', true), 1);
        assert.equal(await folders.recentFrom(user, 'INBOX', true), 3);
        await deliver(s, 3);
        await folders.sync(user, 'INBOX');
        assert.equal(await folders.recentFrom(user, 'INBOX', true), 3);
        assert.equal(await folders.recentFrom(user, 'INBOX', false), 4);
      },
    );

    void test('subscriptions: on, off, and kept for names that do not exist', () =>
      withStore(async ({ folders }) => {
        await folders.createFolder(user, 'Lists');
        await folders.setSubscribed(user, 'Lists', true);
        await folders.setSubscribed(user, 'Lists', true);
        await folders.setSubscribed(user, 'INBOX', true);
        assert.deepEqual((await folders.listSubscriptions(user)).sort(), ['INBOX', 'Lists']);
        await folders.setSubscribed(user, 'Lists', false);
        assert.deepEqual(await folders.listSubscriptions(user), ['INBOX']);
        await assert.rejects(folders.setSubscribed(user, '../x', true), isKind('bad-name'));
      }));

    void test('users are kept apart', () =>
      withStore(async (s) => {
        await deliver(s, 1, user);
        await s.folders.createFolder(user, 'Private');
        await s.folders.ensureDefaultFolders(other);
        assert.deepEqual([...(await s.folders.sync(other, 'INBOX')).list], []);
        assert.equal(await s.folders.folderExists(other, 'Private'), false);
        assert.ok(!(await s.folders.listFolders(other)).some((f) => f.name === 'Private'));
        const mine = await s.folders.sync(user, 'INBOX');
        await assert.rejects(s.folders.open(other, 'INBOX', mine.list.at(0)!.key));
        const u = await s.folders.updateFlags(other, 'INBOX', [1], { mode: 'add', flags: 'S' });
        assert.deepEqual(u.missing, [1]);
        assert.equal((await s.folders.sync(user, 'INBOX')).list.at(0)!.flags, '');
      }));

    void test('watch tells of a delivery, and stops when asked', () =>
      withStore(async (s) => {
        await s.folders.sync(user, 'INBOX');
        let calls = 0;
        let told!: () => void;
        const seen = new Promise<void>((r) => (told = r));
        const stop = s.folders.watch(user, 'INBOX', () => {
          calls++;
          told();
        });
        try {
          await deliver(s, 1);
          // a store that cannot watch is allowed to stay silent only if it says so; ours must tell
          await Promise.race([seen, new Promise((_, rej) => setTimeout(() => rej(new Error('no change told within 10 s')), 10_000))]);
          assert.ok(calls >= 1);
        } finally {
          stop();
        }
      }));

    void test('a second instance on the same storage sees the same UIDs; concurrent writers never share a UID', async (t) => {
      const s = await make();
      try {
        if (!s.another) {
          t.skip('the backend offers no second instance');
          return;
        }
        const two = await s.another();
        for (let i = 1; i <= 2; i++) await deliver(s, i);
        const a = await s.folders.sync(user, 'INBOX');
        assert.deepEqual(whole(await two.folders.sync(user, 'INBOX')), whole(a));
        const work = (w: { folders: MailFolderStore; mailbox: MailboxStore }, tag: string): Promise<void> =>
          (async () => {
            for (let i = 0; i < 8; i++) {
              await w.mailbox.deliver(user, stream(message(`${tag}${i}`)), { uniqueKey: `contract-${tag}${i}` });
              await w.folders.append(user, 'INBOX', stream(message(`${tag}a${i}`)), { flags: 'S' });
              await w.folders.sync(user, 'INBOX');
            }
          })();
        await Promise.all([work(s, 'x'), work(two, 'y')]);
        const x = await s.folders.sync(user, 'INBOX');
        const y = await two.folders.sync(user, 'INBOX');
        assert.equal(x.list.length, 34);
        assert.equal(new Set([...x.list].map((m) => m.uid)).size, 34);
        assert.deepEqual([...x.list].map((m) => [m.uid, m.key]), [...y.list].map((m) => [m.uid, m.key]));
        assert.ok(x.uidNext > Math.max(...[...x.list].map((m) => m.uid)));
        assert.equal(x.uidValidity, a.uidValidity);
      } finally {
        await s.cleanup();
      }
    });
  });
}
