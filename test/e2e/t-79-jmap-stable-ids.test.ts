/**
 * Issue 16, RFC 8621 §4.1.1 and RFC 8620 §6 (Email ids and blob ids are immutable) over a real
 * `correio` (in process), HTTP and IMAP (imapflow), on the Maildir backend and on PostgreSQL
 * mailboxes (skipped without a PostgreSQL server): a message moved over JMAP, over IMAP MOVE
 * and (Maildir) by another program renaming its file into another folder keeps its Email id
 * and blob id; Email/changes reports the moves as updates; the blob downloads by its old id;
 * the ids are the same after a restart and a move after it; an IMAP COPY then EXPUNGE is a new
 * Email (a new file) and the original destroyed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import { startApp, type RunningApp } from '../../src/app/index.js';
import { sendMail, startSite } from '../helpers/site.js';
import { pgUnavailable, withTestDatabase } from '../helpers/pg.js';

const auth = `Basic ${Buffer.from('alice@example.org:secret').toString('base64')}`;
const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
type Answer = Record<string, unknown>;
interface Mail {
  id: string;
  blobId: string;
  mailboxIds: Record<string, boolean>;
}

/** The scenario on one backend (`tables`: the [storage] and listeners); `maildir`: the user's Maildir root, when the mailboxes are files. */
async function scenario(tables: string, maildir: boolean): Promise<void> {
  const site = await startSite({ domains: ['example.org'], users: ['alice@example.org'], tables });
  let app: RunningApp = site.app!;
  const base = (): string => `http://127.0.0.1:${app.httpAddresses()[0].port}`;
  let accountId = '';
  const call = async (name: string, args: Answer): Promise<Answer> => {
    const res = await fetch(`${base()}/jmap/api`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: [[name, { accountId, ...args }, 'c']] }) });
    assert.equal(res.status, 200);
    const [[got, out]] = ((await res.json()) as { methodResponses: [string, Answer, string][] }).methodResponses;
    assert.equal(got, name, JSON.stringify(out));
    return out;
  };
  /** subject → the Email's id, blobId and mailboxIds */
  const all = async (): Promise<Map<string, Mail>> => {
    const q = await call('Email/query', { sort: [{ property: 'receivedAt', isAscending: true }] });
    const g = await call('Email/get', { ids: q.ids, properties: ['subject', 'blobId', 'mailboxIds'] });
    return new Map((g.list as (Mail & { subject: string })[]).map((e) => [e.subject, { id: e.id, blobId: e.blobId, mailboxIds: e.mailboxIds }]));
  };
  const imap = async <T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> => {
    const c = new ImapFlow({ host: '127.0.0.1', port: app.imapAddresses()[0].port, secure: false, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.org', pass: 'secret' }, logger: false });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.logout();
    }
  };
  /** IMAP MOVE of the message with `subject` from `from` to `to` */
  const imapMove = (subject: string, from: string, to: string): Promise<void> =>
    imap(async (c) => {
      const lock = await c.getMailboxLock(from);
      try {
        const uids = await c.search({ subject }, { uid: true });
        assert.ok(uids && uids.length === 1, subject);
        assert.ok(await c.messageMove(String(uids[0]), to, { uid: true }));
      } finally {
        lock.release();
      }
    });
  try {
    for (const s of ['one', 'two', 'three', 'four']) {
      const r = await sendMail(site, 'pascal@example.net', ['alice@example.org'], `From: pascal@example.net\r\nTo: alice@example.org\r\nSubject: ${s}\r\nMessage-ID: <${s}@example.net>\r\n\r\nbody of ${s}\r\n`);
      assert.match(String(r.final), /^250/);
    }
    await site.waitForMessages('alice@example.org', 4);
    const session = (await (await fetch(`${base()}/jmap/session`, { headers: { Authorization: auth } })).json()) as { primaryAccounts: Record<string, string> };
    accountId = session.primaryAccounts['urn:ietf:params:jmap:mail'];
    const boxes = new Map(((await call('Mailbox/get', { properties: ['role'] })).list as { id: string; role: string }[]).map((m) => [m.role, m.id]));
    const first = await all();
    const state = (await call('Email/get', { ids: [] })).state as string;

    // a JMAP move
    await call('Email/set', { update: { [first.get('one')!.id]: { mailboxIds: { [boxes.get('archive')!]: true } } } });
    // an IMAP MOVE
    await imapMove('two', 'INBOX', 'Archive');
    // another program renames a file into another folder, keeping its unique name
    if (maildir) {
      const root = join(site.dataDir, 'mail', 'example.org', 'alice');
      let threeFile: string | undefined;
      for (const sub of ['cur', 'new']) for (const f of await readdir(join(root, sub))) if ((await readFile(join(root, sub, f), 'utf8')).includes('Subject: three')) threeFile = join(root, sub, f);
      assert.ok(threeFile, 'the file of "three"');
      await mkdir(join(root, '.Archive', 'cur'), { recursive: true });
      const name = basename(threeFile);
      await rename(threeFile, join(root, '.Archive', 'cur', name.includes(':2,') ? name : `${name}:2,`));
    }
    const moved = await all();
    const movedSubjects = maildir ? ['one', 'two', 'three'] : ['one', 'two'];
    for (const s of movedSubjects) {
      assert.equal(moved.get(s)!.id, first.get(s)!.id, `${s}: the Email keeps its id`);
      assert.equal(moved.get(s)!.blobId, first.get(s)!.blobId, `${s}: the blob keeps its id`);
      assert.deepEqual(Object.keys(moved.get(s)!.mailboxIds), [boxes.get('archive')], `${s} is in Archive`);
    }
    const ch = await call('Email/changes', { sinceState: state });
    assert.deepEqual(ch.created, [], 'a move creates nothing');
    assert.deepEqual(ch.destroyed, [], 'a move destroys nothing');
    assert.deepEqual([...(ch.updated as string[])].sort(), movedSubjects.map((s) => first.get(s)!.id).sort());
    // the blob downloads by the id it had before the move
    const dl = await fetch(`${base()}/jmap/download/${accountId}/${first.get('two')!.blobId}/two.eml?type=message/rfc822`, { headers: { Authorization: auth } });
    assert.equal(dl.status, 200);
    assert.match(await dl.text(), /Subject: two/);

    // a restart: the same ids; a move after it keeps them too
    await site.stop();
    app = await startApp(site.config, { logger: pino({ level: 'silent' }) });
    const restarted = await all();
    for (const [s, e] of moved) {
      assert.equal(restarted.get(s)?.id, e.id, `${s} after the restart`);
      assert.equal(restarted.get(s)?.blobId, e.blobId, `${s} after the restart`);
    }
    const state2 = (await call('Email/get', { ids: [] })).state as string;
    await imapMove('one', 'Archive', 'INBOX');
    const back = await all();
    assert.equal(back.get('one')!.id, first.get('one')!.id, 'moved back over IMAP after a restart: the same id');
    assert.deepEqual(Object.keys(back.get('one')!.mailboxIds), [boxes.get('inbox')]);
    assert.deepEqual((await call('Email/changes', { sinceState: state2 })).updated, [first.get('one')!.id]);

    // COPY then EXPUNGE: the copy is a new message (a new file), the original is destroyed
    const state3 = (await call('Email/get', { ids: [] })).state as string;
    await imap(async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const uids = await c.search({ subject: 'four' }, { uid: true });
        assert.ok(uids && uids.length === 1);
        await c.messageCopy(String(uids[0]), 'Archive', { uid: true });
        await c.messageDelete(String(uids[0]), { uid: true });
      } finally {
        lock.release();
      }
    });
    const copied = await all();
    const ch3 = await call('Email/changes', { sinceState: state3 });
    assert.deepEqual(ch3.destroyed, [first.get('four')!.id]);
    assert.deepEqual(ch3.created, [copied.get('four')!.id]);
    assert.notEqual(copied.get('four')!.id, first.get('four')!.id);
  } finally {
    if (app !== site.app) await app.stop();
    await site.destroy();
  }
}

const listeners = '[http]\nlisten = ["127.0.0.1:0"]\n[imap]\nlisten = ["127.0.0.1:0"]\n';

void test('Maildir: JMAP move, IMAP MOVE and a rename by another program keep Email and blob ids, across a restart', () => scenario(listeners, true));

const skip = await pgUnavailable();
void describe('PostgreSQL mailboxes', { skip }, () => {
  void test('JMAP move and IMAP MOVE keep Email and blob ids, across a restart', () =>
    withTestDatabase((db) => scenario(`[storage]\nurl = ${JSON.stringify(db.url)}\n${listeners}`, false)));
});
