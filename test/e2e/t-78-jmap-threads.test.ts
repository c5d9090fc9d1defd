/**
 * Issue 16, JMAP Threads (RFC 8621 §3) and the indexes behind them, over a real `correio
 * serve` process and real sockets: messages delivered over SMTP and appended over IMAP are put
 * in conversations by Message-ID, In-Reply-To and References (a reply that arrives before its
 * parent included); Thread/get names a conversation's Emails in every mailbox, oldest first;
 * Email/query collapseThreads gives one Email per conversation; Thread/changes; a move keeps
 * the thread; thread ids are the same after a restart. The full-text index is filled from
 * deliveries without any client asking (search.sqlite), and a text condition finds a string
 * inside a word.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ImapFlow } from 'imapflow';
import { sendMail, startSiteProcess, waitFor } from '../helpers/site.js';
import { freePort } from '../helpers/net.js';

let site: Awaited<ReturnType<typeof startSiteProcess>>;
let base: string;
let imapPort: number;
const alice = `Basic ${Buffer.from('alice@example.org:secret').toString('base64')}`;
const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
let accountId: string;
const mailboxes = new Map<string, string>();

function mail(id: string, subject: string, extra: string[] = [], body = 'hello'): string {
  return [`From: Pascal <pascal@example.net>`, 'To: alice@example.org', `Subject: ${subject}`, `Message-ID: <${id}@example.net>`, ...extra, '', body, ''].join('\r\n');
}

type Answer = Record<string, unknown>;
async function api(calls: unknown[]): Promise<Map<string, Answer>> {
  const res = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Authorization: alice, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: calls }) });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { methodResponses: [string, Answer, string][] };
  for (const [name, args, id] of body.methodResponses) assert.notEqual(name, 'error', `${id}: ${JSON.stringify(args)}`);
  return new Map(body.methodResponses.map(([, args, id]) => [id, args]));
}

/** subject → { id, threadId } of every Email of the account */
async function emails(): Promise<Map<string, { id: string; threadId: string; mailboxIds: Record<string, boolean> }>> {
  const r = await api([
    ['Email/query', { accountId, sort: [{ property: 'receivedAt', isAscending: true }] }, 'q'],
    ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject', 'threadId', 'mailboxIds'] }, 'g'],
  ]);
  const list = r.get('g')!.list as { id: string; subject: string; threadId: string; mailboxIds: Record<string, boolean> }[];
  return new Map(list.map((e) => [e.subject, e]));
}

async function deliver(raw: string): Promise<void> {
  const r = await sendMail(site, 'pascal@example.net', ['alice@example.org'], raw);
  assert.match(String(r.final), /^250/);
}

before(async () => {
  // picked afresh each time startSiteProcess starts serve over (a port taken meanwhile)
  let httpPort = 0;
  site = await startSiteProcess({
    domains: ['example.org'],
    users: ['alice@example.org'],
    tables: async () => {
      httpPort = await freePort();
      imapPort = await freePort();
      return `[http]\nlisten = ["127.0.0.1:${httpPort}"]\n[imap]\nlisten = ["127.0.0.1:${imapPort}"]\n`;
    },
  });
  base = `http://127.0.0.1:${httpPort}`;
  // delivered before any client looks: the indexes must fill from the deliveries alone
  await deliver(mail('root', 'Orçamento anual'));
  await deliver(mail('other', 'Almoço', [], 'sem relação'));
  await deliver(mail('child', 'Re: Orçamento anual', ['In-Reply-To: <root@example.net>', 'References: <root@example.net>'], 'segue o relatório revisto'));
  // a reply to a message not yet seen, then that message: one conversation all the same
  await deliver(mail('late-reply', 'Re: Viagem', ['References: <late-parent@example.net>']));
  await deliver(mail('late-parent', 'Viagem'));
  await site.waitForMessages('alice@example.org', 5);
});
after(async () => {
  await site.destroy();
});

void test('deliveries are indexed without a client asking; a text condition finds a string inside a word', async () => {
  const file = join(site.dataDir, 'search.sqlite');
  await waitFor('five messages in the full-text index', () => {
    try {
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT count(*) FROM grams').pluck().get() as number) >= 5;
      } finally {
        db.close();
      }
    } catch {
      return false;
    }
  }, 60_000);
  const session = (await (await fetch(`${base}/jmap/session`, { headers: { Authorization: alice } })).json()) as { primaryAccounts: Record<string, string> };
  accountId = session.primaryAccounts['urn:ietf:params:jmap:mail'];
  const mb = await api([['Mailbox/get', { accountId, properties: ['role', 'name'] }, 'm']]);
  for (const m of mb.get('m')!.list as { id: string; role: string | null; name: string }[]) mailboxes.set(m.role ?? m.name, m.id);
  const found = await api([
    ['Email/query', { accountId, filter: { text: 'latório' } }, 'q'],
    ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject'] }, 'g'],
  ]);
  assert.deepEqual((found.get('g')!.list as { subject: string }[]).map((e) => e.subject), ['Re: Orçamento anual']);
});

void test('conversations from Message-ID, In-Reply-To and References, across mailboxes, oldest first', async () => {
  // a reply written elsewhere and appended to Sent over IMAP joins the conversation
  const imap = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.org', pass: 'secret' }, logger: false });
  await imap.connect();
  await imap.append('Sent', mail('sent-1', 'Re: Re: Orçamento anual', ['In-Reply-To: <child@example.net>', 'References: <root@example.net> <child@example.net>']), ['\\Seen']);
  await imap.logout();
  const e = await emails();
  const t = e.get('Orçamento anual')!.threadId;
  assert.equal(e.get('Re: Orçamento anual')!.threadId, t);
  assert.equal(e.get('Re: Re: Orçamento anual')!.threadId, t, 'the reply in Sent');
  assert.notEqual(e.get('Almoço')!.threadId, t);
  assert.equal(e.get('Re: Viagem')!.threadId, e.get('Viagem')!.threadId, 'a reply before its parent');
  assert.notEqual(e.get('Viagem')!.threadId, t);
  const got = await api([['Thread/get', { accountId, ids: [t, e.get('Almoço')!.threadId, 'tnothing'] }, 't']]);
  const threads = got.get('t')!.list as { id: string; emailIds: string[] }[];
  assert.deepEqual(threads[0], { id: t, emailIds: ['Orçamento anual', 'Re: Orçamento anual', 'Re: Re: Orçamento anual'].map((s) => e.get(s)!.id) });
  assert.deepEqual(threads[1].emailIds, [e.get('Almoço')!.id]);
  assert.deepEqual(got.get('t')!.notFound, ['tnothing']);
});

void test('Email/query collapseThreads: one Email per conversation, the newest; Thread/changes after a reply', async () => {
  const inbox = mailboxes.get('inbox')!;
  const q = await api([
    ['Email/query', { accountId, filter: { inMailbox: inbox }, collapseThreads: true, calculateTotal: true }, 'q'],
    ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject'] }, 'g'],
  ]);
  assert.equal(q.get('q')!.collapseThreads, true);
  assert.equal(q.get('q')!.total, 3);
  assert.deepEqual((q.get('g')!.list as { subject: string }[]).map((x) => x.subject), ['Viagem', 'Re: Orçamento anual', 'Almoço']);
  const all = await api([['Email/query', { accountId, filter: { inMailbox: inbox }, calculateTotal: true }, 'q']]);
  assert.equal(all.get('q')!.total, 5);

  const state = (await api([['Thread/get', { accountId, ids: [] }, 't']])).get('t')!.state as string;
  const before = await emails();
  await deliver(mail('child-2', 'Re: Almoço', ['In-Reply-To: <other@example.net>']));
  const changes = await waitFor('the reply in Thread/changes', async () => {
    const c = (await api([['Thread/changes', { accountId, sinceState: state }, 'c']])).get('c')!;
    return (c.updated as string[]).length > 0 ? c : undefined;
  }, 60_000);
  assert.deepEqual(changes.updated, [before.get('Almoço')!.threadId]);
  assert.deepEqual(changes.created, []);
  assert.equal((await emails()).get('Re: Almoço')!.threadId, before.get('Almoço')!.threadId);
});

void test('a move keeps the id and the conversation; ids and thread ids are the same after a restart', async () => {
  const before = await emails();
  const moved = before.get('Re: Orçamento anual')!;
  await api([['Email/set', { accountId, update: { [moved.id]: { mailboxIds: { [mailboxes.get('archive')!]: true } } } }, 's']]);
  const after1 = await emails();
  assert.equal(after1.get('Re: Orçamento anual')!.threadId, moved.threadId);
  assert.equal(after1.get('Re: Orçamento anual')!.id, moved.id, 'the Email keeps its id (RFC 8621 §4.1.1)');
  assert.deepEqual(Object.keys(after1.get('Re: Orçamento anual')!.mailboxIds), [mailboxes.get('archive')]);
  await site.stop();
  await site.restart();
  const after2 = await emails();
  for (const [subject, e] of after1) {
    assert.equal(after2.get(subject)?.threadId, e.threadId, subject);
    assert.equal(after2.get(subject)?.id, e.id, subject);
  }
  const t = (await api([['Thread/get', { accountId, ids: [moved.threadId] }, 't']])).get('t')!.list as { emailIds: string[] }[];
  assert.equal(t[0].emailIds.length, 3);
});
