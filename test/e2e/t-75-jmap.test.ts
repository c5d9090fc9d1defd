/**
 * Issue 16, JMAP at the protocol level over a real `correio` (in process) and real sockets:
 * discovery, the session, method calls with result references, errors, Mailbox and Email
 * get/query/changes/set, Thread and SearchSnippet, blob download — and the same mailboxes seen
 * through IMAP (imapflow): a flag set over IMAP shows in Email/get and Email/changes, and a
 * keyword set over JMAP shows in IMAP FETCH FLAGS. Users never reach each other's mail.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { sendMail, startSite, type Site } from '../helpers/site.js';
import { runCli } from '../helpers/cli.js';

let site: Site;
let base: string;
let imapPort: number;
const alice = `Basic ${Buffer.from('alice@example.org:secret').toString('base64')}`;
const bob = `Basic ${Buffer.from('bob@example.org:secret').toString('base64')}`;
const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission'];
let accountId: string;
let inboxId: string;

const message = [
  'From: "Pascal Ribeiro" <pascal@example.net>',
  'To: alice@example.org',
  'Subject: =?UTF-8?Q?Relat=C3=B3rio_do_m=C3=AAs?=',
  'Date: Fri, 04 Dec 2026 10:00:00 +0000',
  'Message-ID: <report-1@example.net>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  '--outer',
  'Content-Type: multipart/alternative; boundary="alt"',
  '',
  '--alt',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Ol=C3=A1 Alice, segue o relat=C3=B3rio da esta=C3=A7=C3=A3o.',
  '--alt',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Ol&aacute; Alice, segue o <b>relat&oacute;rio</b>.</p>',
  '--alt--',
  '--outer',
  'Content-Type: text/csv; name="dados.csv"',
  'Content-Disposition: attachment; filename="dados.csv"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('mes,valor\njaneiro,42\n').toString('base64'),
  '--outer--',
  '',
].join('\n');

before(async () => {
  site = await startSite({
    domains: ['example.org'],
    users: ['alice@example.org', 'bob@example.org'],
    tables: '[http]\nlisten = ["127.0.0.1:0"]\n[imap]\nlisten = ["127.0.0.1:0"]\n',
  });
  base = `http://127.0.0.1:${site.app!.httpAddresses()[0].port}`;
  imapPort = site.app!.imapAddresses()[0].port;
  const r = await sendMail(site, 'pascal@example.net', ['alice@example.org'], message);
  assert.match(String(r.final), /^250/);
  await site.waitForMessages('alice@example.org', 1);
});
after(async () => {
  await site.destroy();
});

async function api(calls: unknown[], auth = alice): Promise<{ status: number; body: { methodResponses: [string, Record<string, unknown>, string][]; sessionState: string; type?: string } }> {
  const res = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: calls }) });
  return { status: res.status, body: (await res.json()) as never };
}

/** the arguments of the answer with this call id (failing on an error answer) */
function answer(body: { methodResponses: [string, Record<string, unknown>, string][] }, callId: string): Record<string, unknown> {
  const r = body.methodResponses.find((x) => x[2] === callId);
  assert.ok(r, `no answer ${callId}`);
  assert.notEqual(r[0], 'error', `${callId}: ${JSON.stringify(r[1])}`);
  return r[1];
}

void test('discovery: /.well-known/jmap redirects to the session; the session names the account and URLs', async () => {
  const wk = await fetch(`${base}/.well-known/jmap`, { headers: { Authorization: alice }, redirect: 'manual' });
  assert.equal(wk.status, 307);
  assert.equal(wk.headers.get('location'), '/jmap/session');
  assert.equal((await fetch(`${base}/jmap/session`)).status, 401, 'the session needs a login');
  const s = (await (await fetch(`${base}/jmap/session`, { headers: { Authorization: alice } })).json()) as Record<string, never>;
  assert.equal(s.username, 'alice@example.org');
  assert.equal(s.apiUrl, `${base}/jmap/api`);
  accountId = (s.primaryAccounts as Record<string, string>)['urn:ietf:params:jmap:mail'];
  assert.ok((s.accounts as Record<string, unknown>)[accountId]);
  assert.ok((s.capabilities as Record<string, unknown>)['urn:ietf:params:jmap:core']);
});

void test('Mailbox/get lists the IMAP folders with roles and counts', async () => {
  const { body } = await api([['Mailbox/get', { accountId, ids: null }, 'm']]);
  const list = answer(body, 'm').list as { id: string; name: string; role: string | null; totalEmails: number; unreadEmails: number }[];
  const inbox = list.find((m) => m.role === 'inbox');
  assert.ok(inbox);
  inboxId = inbox.id;
  assert.deepEqual([inbox.name, inbox.totalEmails, inbox.unreadEmails], ['Inbox', 1, 1]);
  assert.deepEqual(list.map((m) => m.role).sort(), ['archive', 'drafts', 'inbox', 'junk', 'sent', 'trash']);
});

void test('Email/query + Email/get by result reference: headers, bodies, attachments; blob download', async () => {
  const { body } = await api([
    ['Email/query', { accountId, filter: { inMailbox: inboxId }, calculateTotal: true }, 'q'],
    [
      'Email/get',
      { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject', 'from', 'messageId', 'sentAt', 'preview', 'textBody', 'htmlBody', 'attachments', 'bodyValues', 'keywords', 'mailboxIds', 'hasAttachment'], fetchTextBodyValues: true, fetchHTMLBodyValues: true },
      'g',
    ],
  ]);
  assert.equal(answer(body, 'q').total, 1);
  const [e] = answer(body, 'g').list as Record<string, never>[];
  assert.equal(e.subject, 'Relatório do mês');
  assert.deepEqual(e.from, [{ name: 'Pascal Ribeiro', email: 'pascal@example.net' }]);
  assert.deepEqual(e.messageId, ['report-1@example.net']);
  assert.equal(e.sentAt, '2026-12-04T10:00:00Z');
  assert.deepEqual(e.mailboxIds, { [inboxId]: true });
  assert.deepEqual(e.keywords, {});
  assert.equal(e.hasAttachment, true);
  assert.match(e.preview, /^Olá Alice, segue o relatório da estação\./);
  const text = (e.textBody as { partId: string; type: string }[])[0];
  assert.equal(text.type, 'text/plain');
  assert.match((e.bodyValues as Record<string, { value: string }>)[text.partId].value, /relatório da estação/);
  const html = (e.htmlBody as { partId: string; type: string }[])[0];
  assert.equal(html.type, 'text/html');
  const [att] = e.attachments as { name: string; blobId: string; type: string }[];
  assert.deepEqual([att.name, att.type], ['dados.csv', 'text/csv']);
  const dl = await fetch(`${base}/jmap/download/${accountId}/${att.blobId}/dados.csv?type=text/csv`, { headers: { Authorization: alice } });
  assert.equal(dl.status, 200);
  assert.equal(await dl.text(), 'mes,valor\njaneiro,42\n');
  assert.match(String(dl.headers.get('content-disposition')), /^attachment/);
  assert.equal((await fetch(`${base}/jmap/download/${accountId}/${att.blobId}/x`, { headers: { Authorization: bob } })).status, 404, 'not for bob');
});

void test('flags cross protocols: $seen over JMAP shows in IMAP; \\Flagged over IMAP shows in Email/changes and Email/get', async () => {
  const q = await api([['Email/query', { accountId, filter: { inMailbox: inboxId } }, 'q'], ['Email/get', { accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['keywords'] }, 'g']]);
  const id = (answer(q.body, 'q').ids as string[])[0];
  const state0 = answer(q.body, 'g').state as string;
  const set = await api([['Email/set', { accountId, update: { [id]: { 'keywords/$seen': true } } }, 's']]);
  assert.deepEqual(answer(set.body, 's').updated, { [id]: null });
  const state1 = answer(set.body, 's').newState as string;
  assert.notEqual(state1, state0);

  const imap = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.org', pass: 'secret' }, logger: false });
  await imap.connect();
  try {
    const lock = await imap.getMailboxLock('INBOX');
    try {
      const msg = await imap.fetchOne('1', { flags: true });
      assert.ok(msg && msg.flags?.has('\\Seen'), 'IMAP sees the keyword set over JMAP');
      await imap.messageFlagsAdd('1', ['\\Flagged']);
    } finally {
      lock.release();
    }
  } finally {
    await imap.logout();
  }
  const ch = await api([['Email/changes', { accountId, sinceState: state1 }, 'c'], ['Email/get', { accountId, ids: [id], properties: ['keywords'] }, 'g']]);
  assert.deepEqual(answer(ch.body, 'c').updated, [id]);
  assert.deepEqual((answer(ch.body, 'g').list as { keywords: unknown }[])[0].keywords, { $seen: true, $flagged: true });
  const unread = await api([['Mailbox/get', { accountId, ids: [inboxId], properties: ['unreadEmails'] }, 'm']]);
  assert.equal((answer(unread.body, 'm').list as { unreadEmails: number }[])[0].unreadEmails, 0);
});

void test('search: Email/query text filter and SearchSnippet/get highlight', async () => {
  const { body } = await api([
    ['Email/query', { accountId, filter: { text: 'estação' } }, 'q'],
    ['SearchSnippet/get', { accountId, filter: { text: 'estação' }, '#emailIds': { resultOf: 'q', name: 'Email/query', path: '/ids' } }, 's'],
    ['Email/query', { accountId, filter: { operator: 'NOT', conditions: [{ from: 'pascal' }] } }, 'none'],
  ]);
  assert.equal((answer(body, 'q').ids as string[]).length, 1);
  const [snip] = answer(body, 's').list as { preview: string }[];
  assert.match(snip.preview, /<mark>estação<\/mark>/);
  assert.deepEqual(answer(body, 'none').ids, []);
});

void test('a move: mailboxIds to Archive; the id stays, Email/changes has it updated; the counts follow', async () => {
  const { body } = await api([['Mailbox/query', { accountId, filter: { role: 'archive' } }, 'a'], ['Email/query', { accountId, filter: { inMailbox: inboxId } }, 'q']]);
  const archive = (answer(body, 'a').ids as string[])[0];
  const id = (answer(body, 'q').ids as string[])[0];
  const mv = await api([['Email/set', { accountId, update: { [id]: { mailboxIds: { [archive]: true } } } }, 's'], ['Email/query', { accountId, filter: { inMailbox: archive } }, 'q2'], ['Mailbox/get', { accountId, ids: [inboxId, archive], properties: ['totalEmails'] }, 'm']]);
  assert.deepEqual(answer(mv.body, 's').updated, { [id]: null });
  // RFC 8621 §4.1.1: the id is immutable, in its new mailbox too; to a client it was updated
  assert.deepEqual(answer(mv.body, 'q2').ids, [id]);
  assert.deepEqual((answer(mv.body, 'm').list as { totalEmails: number }[]).map((m) => m.totalEmails), [0, 1]);
  const ch = await api([['Email/changes', { accountId, sinceState: answer(mv.body, 's').oldState }, 'c'], ['Email/get', { accountId, ids: [id], properties: ['mailboxIds'] }, 'g']]);
  assert.deepEqual([answer(ch.body, 'c').created, answer(ch.body, 'c').updated, answer(ch.body, 'c').destroyed], [[], [id], []]);
  assert.deepEqual((answer(ch.body, 'g').list as { mailboxIds: Record<string, boolean> }[])[0].mailboxIds, { [archive]: true });
});

void test('errors: unknown method, bad result reference, another account, not JSON, unknown capability', async () => {
  const { body } = await api([
    ['Email/frobnicate', { accountId }, 'a'],
    ['Email/get', { accountId, '#ids': { resultOf: 'nope', name: 'Email/query', path: '/ids' } }, 'b'],
    ['Core/echo', { hello: 'world' }, 'c'],
  ]);
  assert.deepEqual(body.methodResponses.map((r) => [r[0], (r[1] as { type?: string }).type]), [['error', 'unknownMethod'], ['error', 'invalidResultReference'], ['Core/echo', undefined]]);
  // bob asks for alice's account: it does not exist for him
  const other = await api([['Mailbox/get', { accountId, ids: null }, 'x']], bob);
  assert.deepEqual(other.body.methodResponses[0].slice(0, 2), ['error', { type: 'accountNotFound', description: `no account ${accountId} here` }]);
  const notJson = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Authorization: alice, 'Content-Type': 'application/json' }, body: '{' });
  assert.equal(notJson.status, 400);
  assert.equal(((await notJson.json()) as { type: string }).type, 'urn:ietf:params:jmap:error:notJSON');
  const cap = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Authorization: alice, 'Content-Type': 'application/json' }, body: JSON.stringify({ using: ['urn:example:nope'], methodCalls: [] }) });
  assert.equal(((await cap.json()) as { type: string }).type, 'urn:ietf:params:jmap:error:unknownCapability');
});

void test('compose and send: upload, Email/set create (draft with attachment), EmailSubmission/set; bob receives it; the draft moves to Sent', async () => {
  const up = await fetch(`${base}/jmap/upload/${accountId}`, { method: 'POST', headers: { Authorization: alice, 'Content-Type': 'text/plain' }, body: 'notas da reunião\n' });
  assert.equal(up.status, 201);
  const blob = (await up.json()) as { blobId: string; size: number; type: string };
  assert.deepEqual([blob.size, blob.type], [Buffer.byteLength('notas da reunião\n'), 'text/plain']);
  const { body } = await api([
    ['Mailbox/query', { accountId, filter: { role: 'drafts' } }, 'd'],
    ['Mailbox/query', { accountId, filter: { role: 'sent' } }, 's'],
    ['Identity/get', { accountId }, 'i'],
  ]);
  const drafts = (answer(body, 'd').ids as string[])[0];
  const sentBox = (answer(body, 's').ids as string[])[0];
  const identity = (answer(body, 'i').list as { id: string; email: string }[])[0];
  assert.equal(identity.email, 'alice@example.org');
  const send = await api([
    [
      'Email/set',
      {
        accountId,
        create: {
          draft: {
            mailboxIds: { [drafts]: true },
            keywords: { $draft: true, $seen: true },
            from: [{ name: 'Alice Souza', email: 'alice@example.org' }],
            to: [{ name: 'Bob', email: 'bob@example.org' }],
            subject: 'Reunião amanhã',
            textBody: [{ partId: 't', type: 'text/plain' }],
            bodyValues: { t: { value: 'Bob, segue a ata da reunião.' } },
            attachments: [{ blobId: blob.blobId, type: 'text/plain', name: 'ata.txt', disposition: 'attachment' }],
          },
        },
      },
      'c',
    ],
    ['EmailSubmission/set', { accountId, create: { go: { identityId: identity.id, emailId: '#draft' } }, onSuccessUpdateEmail: { '#go': { [`mailboxIds/${drafts}`]: null, [`mailboxIds/${sentBox}`]: true, 'keywords/$draft': null } } }, 'sub'],
    ['Email/query', { accountId, filter: { inMailbox: sentBox } }, 'q'],
  ]);
  const created = answer(send.body, 'c').created as Record<string, { id: string }>;
  assert.ok(created.draft.id);
  const sub = answer(send.body, 'sub');
  assert.ok((sub.created as Record<string, { id: string }>).go.id, JSON.stringify(sub));
  // the implicit Email/set of onSuccessUpdateEmail comes right after
  const implicit = send.body.methodResponses.find((r) => r[0] === 'Email/set' && r[2] === 'sub');
  assert.ok(implicit, JSON.stringify(send.body.methodResponses));
  assert.equal((answer(send.body, 'q').ids as string[]).length, 1, 'the sent message is in Sent');
  const [got] = await site.waitForMessages('bob@example.org', 1);
  assert.match(got, /^Subject: =\?UTF-8\?B\?/m);
  assert.match(got, /^Received: from .*\r?\n\tby mx\.example\.org \(correio\) with HTTPA id /m, 'through intake, like a submission');
  assert.match(got, /filename="ata\.txt"/);
  assert.match(got, new RegExp(Buffer.from('notas da reunião\n').toString('base64')));
});

void test('sending as someone else is refused by the sender rules (forbiddenFrom)', async () => {
  const { body } = await api([['Mailbox/query', { accountId, filter: { role: 'drafts' } }, 'd']]);
  const drafts = (answer(body, 'd').ids as string[])[0];
  const forged = await api([
    ['Email/set', { accountId, create: { x: { mailboxIds: { [drafts]: true }, from: [{ email: 'boss@example.org' }], to: [{ email: 'bob@example.org' }], subject: 'forged' } } }, 'c'],
    ['EmailSubmission/set', { accountId, create: { s: { emailId: '#x' } } }, 's'],
  ]);
  const notCreated = answer(forged.body, 's').notCreated as Record<string, { type: string; description: string }>;
  assert.equal(notCreated.s.type, 'forbiddenFrom', JSON.stringify(notCreated));
});

void test('Email/import from an uploaded message; push: an EventSource sees a delivery as a state change', async () => {
  const raw = 'From: carol@example.net\r\nTo: alice@example.org\r\nSubject: imported\r\nMessage-ID: <imp-1@example.net>\r\n\r\nold mail\r\n';
  const up = (await (await fetch(`${base}/jmap/upload/${accountId}`, { method: 'POST', headers: { Authorization: alice, 'Content-Type': 'message/rfc822' }, body: raw })).json()) as { blobId: string };
  const imp = await api([['Email/import', { accountId, emails: { m1: { blobId: up.blobId, mailboxIds: { [inboxId]: true }, keywords: { $seen: true }, receivedAt: '2020-01-02T03:04:05Z' } } }, 'i'], ['Email/get', { accountId, ids: ['#m1'], properties: ['subject', 'receivedAt', 'keywords'] }, 'g']]);
  const created = answer(imp.body, 'i').created as Record<string, { id: string }>;
  assert.ok(created.m1.id);
  const g = await api([['Email/get', { accountId, ids: [created.m1.id], properties: ['subject', 'receivedAt', 'keywords'] }, 'g']]);
  assert.deepEqual((answer(g.body, 'g').list as unknown[])[0], { id: created.m1.id, subject: 'imported', receivedAt: '2020-01-02T03:04:05Z', keywords: { $seen: true } });

  const ac = new AbortController();
  const res = await fetch(`${base}/jmap/eventsource?types=*&closeafter=state&ping=0`, { headers: { Authorization: alice, Accept: 'text/event-stream' }, signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(String(res.headers.get('content-type')), /^text\/event-stream/);
  const reader = res.body!.getReader();
  const r = await sendMail(site, 'pascal@example.net', ['alice@example.org'], 'From: pascal@example.net\r\nTo: alice@example.org\r\nSubject: live\r\n\r\nhello\r\n');
  assert.match(String(r.final), /^250/);
  let text = '';
  const decoder = new TextDecoder();
  while (!/event: state\ndata: .*\n\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  ac.abort();
  const data = JSON.parse(/data: (.*)\n/.exec(text)![1]) as { '@type': string; changed: Record<string, Record<string, string>> };
  assert.equal(data['@type'], 'StateChange');
  assert.ok(data.changed[accountId].Email, text);
});

void test('Email/import over the account\'s quota: notCreated with overQuota (RFC 8620 §5.3), nothing stored', async () => {
  const set = await runCli(['user', 'quota', 'alice@example.org', '--storage', '1', '--config', site.configFile]);
  assert.equal(set.code, 0, set.stderr);
  try {
    const before = (await site.mailbox('alice@example.org')).length;
    const raw = 'From: carol@example.net\r\nTo: alice@example.org\r\nSubject: too much\r\n\r\nx\r\n';
    const up = (await (await fetch(`${base}/jmap/upload/${accountId}`, { method: 'POST', headers: { Authorization: alice, 'Content-Type': 'message/rfc822' }, body: raw })).json()) as { blobId: string };
    const imp = await api([['Email/import', { accountId, emails: { q: { blobId: up.blobId, mailboxIds: { [inboxId]: true } } } }, 'i']]);
    const notCreated = answer(imp.body, 'i').notCreated as Record<string, { type: string }>;
    assert.equal(notCreated.q.type, 'overQuota', JSON.stringify(notCreated));
    assert.equal((await site.mailbox('alice@example.org')).length, before);
  } finally {
    await runCli(['user', 'quota', 'alice@example.org', '--storage', 'default', '--config', site.configFile]);
  }
});
