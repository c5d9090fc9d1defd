/**
 * Issue 16, JMAP states made of IMAP's MODSEQs, over a real `correio` (in process), HTTP and
 * IMAP (imapflow with CONDSTORE): the Email state carries the folder's HIGHESTMODSEQ; a flag
 * STORE over IMAP is an Email/changes update, a keyword (any keyword) set over JMAP shows in
 * IMAP FETCH with a higher MODSEQ; ids and states survive a restart (changes since a state of
 * the previous process are still answered); Email/queryChanges for a receivedAt sort; push over
 * EventSource after an SMTP delivery and after an IMAP STORE.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { pino } from 'pino';
import { startApp, type RunningApp } from '../../src/app/index.js';
import { sendMail, startSite, type Site } from '../helpers/site.js';

let site: Site;
let app: RunningApp;
let base: string;
let accountId: string;
let inboxId: string;
const auth = `Basic ${Buffer.from('alice@example.org:secret').toString('base64')}`;
const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];

type Answer = Record<string, unknown>;

function useApp(a: RunningApp): void {
  app = a;
  base = `http://127.0.0.1:${a.httpAddresses()[0].port}`;
}

before(async () => {
  site = await startSite({
    domains: ['example.org'],
    users: ['alice@example.org'],
    tables: '[http]\nlisten = ["127.0.0.1:0"]\n[imap]\nlisten = ["127.0.0.1:0"]\n',
  });
  useApp(site.app!);
  for (let i = 1; i <= 3; i++) await deliver(`m${i}`);
  await site.waitForMessages('alice@example.org', 3);
  const s = (await (await fetch(`${base}/jmap/session`, { headers: { Authorization: auth } })).json()) as { primaryAccounts: Record<string, string> };
  accountId = s.primaryAccounts['urn:ietf:params:jmap:mail'];
  const m = await call('Mailbox/query', { filter: { role: 'inbox' } });
  inboxId = (m.ids as string[])[0];
});
after(async () => {
  if (app !== site.app) await app.stop();
  await site.destroy();
});

async function deliver(subject: string): Promise<void> {
  const r = await sendMail(site, 'pascal@example.net', ['alice@example.org'], `From: pascal@example.net\r\nTo: alice@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.net>\r\n\r\nbody of ${subject}\r\n`);
  assert.match(String(r.final), /^250/);
}

async function call(name: string, args: Answer): Promise<Answer> {
  const res = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: [[name, { accountId, ...args }, 'c']] }) });
  assert.equal(res.status, 200);
  const [[got, out]] = ((await res.json()) as { methodResponses: [string, Answer, string][] }).methodResponses;
  assert.equal(got, name, JSON.stringify(out));
  return out;
}

async function withImap<T>(fn: (c: ImapFlow) => Promise<T>): Promise<T> {
  const c = new ImapFlow({ host: '127.0.0.1', port: app.imapAddresses()[0].port, secure: false, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.org', pass: 'secret' }, logger: false, qresync: true });
  await c.connect();
  try {
    const lock = await c.getMailboxLock('INBOX');
    try {
      return await fn(c);
    } finally {
      lock.release();
    }
  } finally {
    await c.logout();
  }
}

async function newest(): Promise<string[]> {
  return (await call('Email/query', { filter: { inMailbox: inboxId }, sort: [{ property: 'receivedAt', isAscending: false }] })).ids as string[];
}

void test('an IMAP STORE is an Email/changes update; the Email state carries the HIGHESTMODSEQ IMAP reports', async () => {
  const state0 = (await call('Email/get', { ids: [] })).state as string;
  const uid = await withImap(async (c) => {
    const [first] = await c.fetchAll('1', { uid: true });
    const highest = (c.mailbox as { highestModseq?: bigint }).highestModseq;
    await c.messageFlagsAdd(String(first.uid), ['\\Flagged', '$Important'], { uid: true });
    // the message's MODSEQ is now the folder's highest
    const [changed] = await c.fetchAll(String(first.uid), { uid: true, flags: true }, { uid: true });
    assert.ok(highest !== undefined && changed.modseq !== undefined && changed.modseq > highest, `MODSEQ ${highest} → ${changed.modseq}`);
    return { uid: first.uid, highest: changed.modseq };
  });
  const ch = await call('Email/changes', { sinceState: state0 });
  assert.equal((ch.updated as string[]).length, 1);
  assert.deepEqual([ch.created, ch.destroyed], [[], []]);
  assert.ok(String(ch.newState).split('~').some((p) => p.startsWith(`${inboxId}.`) && p.endsWith(`.${uid.highest.toString(36)}`)), `${String(ch.newState)} has HIGHESTMODSEQ ${uid.highest}`);
  const [e] = (await call('Email/get', { ids: ch.updated, properties: ['keywords'] })).list as { keywords: Record<string, boolean> }[];
  assert.deepEqual(e.keywords, { $flagged: true, $important: true }, 'any IMAP keyword is a JMAP keyword, lower-cased');
  const same = await call('Email/changes', { sinceState: ch.newState });
  assert.deepEqual([same.created, same.updated, same.destroyed, same.newState], [[], [], [], ch.newState], 'nothing changed, the same state');
});

void test('a keyword set over JMAP (any keyword) shows over IMAP with a higher MODSEQ; removing it too', async () => {
  const [id] = await newest();
  const before = await withImap(async (c) => (await c.fetchAll('1:*', { flags: true, uid: true })).map((m) => [m.uid, m.modseq] as const));
  const set = await call('Email/set', { update: { [id]: { 'keywords/$seen': true, 'keywords/Projeto-X': true } } });
  assert.deepEqual(set.updated, { [id]: null });
  await withImap(async (c) => {
    const after = await c.fetchAll('1:*', { flags: true, uid: true });
    const changed = after.filter((m) => before.find(([u, ms]) => u === m.uid && ms !== m.modseq));
    assert.equal(changed.length, 1, 'one message has a new MODSEQ');
    const old = before.find(([u]) => u === changed[0].uid)![1]!;
    assert.ok(changed[0].modseq! > old, 'a higher one');
    assert.deepEqual([...changed[0].flags!].sort(), ['\\Seen', 'projeto-x']);
  });
  const drop = await call('Email/set', { update: { [id]: { 'keywords/projeto-x': null } } });
  assert.deepEqual(drop.updated, { [id]: null });
  await withImap(async (c) => {
    const msgs = await c.fetchAll('1:*', { flags: true, uid: true });
    assert.ok(msgs.every((m) => !m.flags!.has('projeto-x')), 'gone over IMAP');
  });
  const bad = await call('Email/set', { update: { [id]: { 'keywords/a(b': true } } });
  assert.equal((bad.notUpdated as Record<string, { type: string }>)[id].type, 'invalidProperties');
});

void test('Email/queryChanges for a receivedAt sort: a delivery is added at index 0, a destroy removed, a keyword change leaves and enters a filtered query', async () => {
  const sort = [{ property: 'receivedAt', isAscending: false }];
  const q0 = await call('Email/query', { filter: { inMailbox: inboxId }, sort, calculateTotal: true });
  assert.equal(q0.canCalculateChanges, true);
  const unseen0 = await call('Email/query', { filter: { inMailbox: inboxId, notKeyword: '$seen' }, sort });
  await new Promise((r) => setTimeout(r, 1100)); // a later receivedAt (seconds) for the new message
  await deliver('m4');
  await site.waitForMessages('alice@example.org', 4);
  const ids0 = q0.ids as string[];
  const gone = ids0[ids0.length - 1];
  const flagged = (unseen0.ids as string[])[0];
  await call('Email/set', { destroy: [gone], update: { [flagged]: { 'keywords/$seen': true } } });
  const qc = await call('Email/queryChanges', { filter: { inMailbox: inboxId }, sort, sinceQueryState: q0.queryState, calculateTotal: true });
  const q1 = await call('Email/query', { filter: { inMailbox: inboxId }, sort });
  const ids1 = q1.ids as string[];
  assert.equal(qc.newQueryState, q1.queryState);
  assert.ok((qc.removed as string[]).includes(gone));
  const added = qc.added as { id: string; index: number }[];
  assert.deepEqual(added.find((a) => a.index === 0), { id: ids1[0], index: 0 }, 'the new message first');
  assert.equal(qc.total, ids1.length);
  // the client's list, patched as RFC 8620 §5.6 says, equals the new query
  const patched = ids0.filter((id) => !(qc.removed as string[]).includes(id));
  for (const a of [...added].sort((x, y) => x.index - y.index)) patched.splice(a.index, 0, a.id);
  assert.deepEqual(patched, ids1);
  const uc = await call('Email/queryChanges', { filter: { inMailbox: inboxId, notKeyword: '$seen' }, sort, sinceQueryState: unseen0.queryState });
  assert.ok((uc.removed as string[]).includes(flagged), 'seen now: out of the unseen query');
  assert.ok(!(uc.added as { id: string }[]).some((a) => a.id === flagged));
  const stale = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: [['Email/queryChanges', { accountId, sinceQueryState: 'nonsense' }, 'x']] }) });
  assert.equal(((await stale.json()) as { methodResponses: [string, { type: string }][] }).methodResponses[0][1].type, 'cannotCalculateChanges');
});

void test('push over EventSource: a state event after an SMTP delivery and after an IMAP STORE', async () => {
  const ac = new AbortController();
  const res = await fetch(`${base}/jmap/eventsource?types=Email,Mailbox&closeafter=no&ping=0`, { headers: { Authorization: auth, Accept: 'text/event-stream' }, signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const nextState = async (): Promise<Record<string, string>> => {
    for (;;) {
      const m = /event: state\ndata: (.*)\n\n/.exec(text);
      if (m) {
        text = text.slice(m.index + m[0].length);
        return (JSON.parse(m[1]) as { changed: Record<string, Record<string, string>> }).changed[accountId];
      }
      const { value, done } = await reader.read();
      assert.ok(!done, 'the stream stays open');
      text += decoder.decode(value);
    }
  };
  try {
    const now = (await call('Email/get', { ids: [] })).state as string;
    await deliver('pushed');
    const afterDelivery = await nextState();
    assert.ok(afterDelivery.Email && afterDelivery.Email !== now, JSON.stringify(afterDelivery));
    const delivered = await call('Email/changes', { sinceState: now });
    assert.equal((delivered.created as string[]).length, 1, 'the delivery is one created Email');
    assert.equal(afterDelivery.Email, delivered.newState, 'the pushed state is the state Email/changes reaches');
    await withImap((c) => c.messageFlagsAdd('1:*', ['\\Answered']));
    const afterStore = await nextState();
    assert.ok(afterStore.Email && afterStore.Email !== afterDelivery.Email);
    const stored = await call('Email/changes', { sinceState: afterDelivery.Email });
    assert.ok((stored.updated as string[]).length >= 1);
    assert.deepEqual(stored.created, []);
  } finally {
    ac.abort();
  }
});

void test('ids and states survive a restart: the same ids, the same state, and changes since a state of the old process', async () => {
  const ids = await newest();
  const state = (await call('Email/get', { ids: [] })).state as string;
  const mstate = (await call('Mailbox/get', { ids: [] })).state as string;
  await site.stop();
  useApp(await startApp(site.config, { logger: pino({ level: 'silent' }) }));
  assert.deepEqual(await newest(), ids);
  assert.equal((await call('Email/get', { ids: [] })).state, state);
  assert.equal((await call('Mailbox/get', { ids: [] })).state, mstate);
  await withImap((c) => c.messageFlagsAdd('1', ['$Restarted']));
  const ch = await call('Email/changes', { sinceState: state });
  assert.equal((ch.updated as string[]).length, 1, 'a state from before the restart is still understood');
  const mch = await call('Mailbox/changes', { sinceState: mstate });
  assert.deepEqual(mch.updated, [inboxId]);
});
