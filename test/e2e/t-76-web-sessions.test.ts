/**
 * Issue 16, browser sessions and web security over a real `correio` (in process), real HTTP
 * and HTTPS: `POST /api/session` logs in (JSON or a form) and sets an HttpOnly, SameSite=Strict
 * cookie (Secure over TLS); state changes with the cookie need the session's X-CSRF-Token and
 * a same-origin request; logins count in the [auth] throttle shared with IMAP (429); logout
 * ends the session on the server; pages carry a strict CSP whose reports are collected; and
 * one user never reaches another's mail through JMAP ids, blob ids or account ids.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { runCli } from '../helpers/cli.js';
import { sendMail, startSite, type Site } from '../helpers/site.js';
import { tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';

let site: Site;
let base: string;
let tlsPort: number;
let ca: Buffer;
const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'];
const basic = (user: string): string => `Basic ${Buffer.from(`${user}:secret`).toString('base64')}`;

before(async () => {
  site = await startSite({
    domains: ['example.org'],
    users: ['alice@example.org', 'bob@example.org', 'carol@example.org', 'dave@example.org', 'boss@example.org'],
    smtp: { tls_cert: tlsCertFile, tls_key: tlsKeyFile },
    tables: [
      '[http]',
      'listen = ["127.0.0.1:0"]',
      'listen_tls = ["127.0.0.1:0"]',
      'admins = ["boss@example.org"]',
      '[imap]',
      'listen = ["127.0.0.1:0"]',
      '[auth]',
      'max_failures_per_address = 3',
      'failure_delay = "1s"',
      '',
    ].join('\n'),
  });
  const web = site.app!.httpAddresses();
  base = `http://127.0.0.1:${web.find((a) => !a.tls)!.port}`;
  tlsPort = web.find((a) => a.tls)!.port;
  ca = await readFile(tlsCertFile);
  for (const who of ['alice', 'bob']) {
    const r = await sendMail(site, 'pascal@example.net', [`${who}@example.org`], `From: pascal@example.net\r\nTo: ${who}@example.org\r\nSubject: for ${who} only\r\nMessage-ID: <${who}-1@example.net>\r\n\r\nsecret of ${who}\r\n`);
    assert.match(String(r.final), /^250/);
    await site.waitForMessages(`${who}@example.org`, 1);
  }
});
after(async () => {
  await site.destroy();
});

interface Login {
  cookie: string;
  setCookie: string;
  csrf: string;
  body: Record<string, unknown>;
}

async function login(user: string): Promise<Login> {
  const res = await fetch(`${base}/api/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ address: user, password: 'secret' }),
  });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 200, JSON.stringify(body));
  const setCookie = res.headers.getSetCookie()[0];
  return { cookie: setCookie.split(';')[0], setCookie, csrf: String(body.csrfToken), body };
}

async function jmap(who: Login, calls: unknown[], headers: Record<string, string> = {}): Promise<{ status: number; body: { methodResponses: [string, Record<string, unknown>, string][] } & Record<string, unknown> }> {
  const res = await fetch(`${base}/jmap/api`, {
    method: 'POST',
    headers: { Cookie: who.cookie, 'Content-Type': 'application/json', 'X-CSRF-Token': who.csrf, ...headers },
    body: JSON.stringify({ using, methodCalls: calls }),
  });
  return { status: res.status, body: (await res.json()) as never };
}

void test('login over HTTP: the cookie is HttpOnly, SameSite=Strict, Path=/, not Secure; the answer has a CSRF token, never the secret', async () => {
  const a = await login('Alice@Example.org');
  assert.match(a.setCookie, /^correio_session=[A-Za-z0-9_-]{43}; /);
  assert.match(a.setCookie, /; HttpOnly/);
  assert.match(a.setCookie, /; SameSite=Strict/);
  assert.match(a.setCookie, /; Path=\//);
  assert.match(a.setCookie, /; Max-Age=604800/, 'the default [http] session_lifetime, 7 days');
  assert.doesNotMatch(a.setCookie, /Secure/);
  assert.equal(a.body.address, 'alice@example.org');
  assert.deepEqual(a.body.scopes, ['jmap', 'submit']);
  assert.match(a.csrf, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(!JSON.stringify(a.body).includes(a.cookie.split('=')[1]), 'the secret is only in the cookie');
  const me = await fetch(`${base}/api/me`, { headers: { Cookie: a.cookie } });
  assert.deepEqual(await me.json(), { address: 'alice@example.org', scopes: ['jmap', 'submit'], via: 'session' });
  const again = (await (await fetch(`${base}/api/session`, { headers: { Cookie: a.cookie } })).json()) as Record<string, unknown>;
  assert.equal(again.csrfToken, a.csrf, 'a reloaded page gets its CSRF token back');
});

void test('login over HTTPS: the cookie is Secure', async () => {
  const setCookie = await new Promise<string>((resolve, reject) => {
    const body = JSON.stringify({ address: 'alice@example.org', password: 'secret' });
    const req = https.request({ host: '127.0.0.1', port: tlsPort, path: '/api/session', method: 'POST', ca, servername: 'localhost', headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.resume().on('end', () => (res.statusCode === 200 ? resolve(String(res.headers['set-cookie']?.[0])) : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
  assert.match(setCookie, /^correio_session=.*; HttpOnly; SameSite=Strict; Secure$/);
});

void test('a form login answers 303 to / with the cookie; a login from another origin is refused', async () => {
  const form = await fetch(`${base}/api/session`, { method: 'POST', body: new URLSearchParams({ address: 'alice@example.org', password: 'secret' }), redirect: 'manual' });
  assert.equal(form.status, 303);
  assert.equal(form.headers.get('location'), '/');
  assert.match(form.headers.getSetCookie()[0], /^correio_session=.*HttpOnly/);
  const evil = await fetch(`${base}/api/session`, { method: 'POST', headers: { Origin: 'http://evil.example', 'Content-Type': 'application/json' }, body: JSON.stringify({ address: 'alice@example.org', password: 'secret' }) });
  assert.equal(evil.status, 403);
  assert.match(((await evil.json()) as { detail: string }).detail, /another origin \(http:\/\/evil\.example\)/);
  const bad = await fetch(`${base}/api/session`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"address": "alice@example.org"}' });
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { detail: string }).detail, /needs "address".*"password"/);
});

void test('CSRF: a state change with the cookie needs X-CSRF-Token (403 without, 403 wrong) and a same-origin request; reads do not', async () => {
  const a = await login('alice@example.org');
  const accountId = String(((await (await fetch(`${base}/jmap/session`, { headers: { Cookie: a.cookie } })).json()) as { primaryAccounts: Record<string, string> }).primaryAccounts['urn:ietf:params:jmap:mail']);
  const call = [['Mailbox/get', { accountId, ids: null, properties: ['name'] }, 'm']];
  const none = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Cookie: a.cookie, 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: call }) });
  assert.equal(none.status, 403);
  assert.match(((await none.json()) as { detail: string }).detail, /missing X-CSRF-Token/);
  assert.equal((await jmap(a, call, { 'X-CSRF-Token': 'x'.repeat(43) })).status, 403);
  const bob = await login('bob@example.org');
  assert.equal((await jmap(a, call, { 'X-CSRF-Token': bob.csrf })).status, 403, "another session's token is wrong");
  const ok = await jmap(a, call);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.methodResponses[0][0], 'Mailbox/get');
  assert.equal((await jmap(a, call, { Origin: 'http://evil.example' })).status, 403, 'a right token from another origin');
  assert.equal((await jmap(a, call, { 'Sec-Fetch-Site': 'cross-site' })).status, 403);
  assert.equal((await jmap(a, call, { Origin: base, 'Sec-Fetch-Site': 'same-origin' })).status, 200);
  // scripts with Basic need no token, but not from another site's page either
  const script = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Authorization: basic('alice@example.org'), 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: call }) });
  assert.equal(script.status, 200);
  const remembered = await fetch(`${base}/jmap/api`, { method: 'POST', headers: { Authorization: basic('alice@example.org'), 'Sec-Fetch-Site': 'cross-site', 'Content-Type': 'application/json' }, body: JSON.stringify({ using, methodCalls: call }) });
  assert.equal(remembered.status, 403);
});

function challengeOf(headers: Record<string, string>): Promise<{ status: number; challenge: string }> {
  // node:http, since fetch sets Sec-Fetch-Mode itself
  return new Promise((resolve, reject) => {
    http.get(`${base}/jmap/session`, { headers }, (res) => {
      res.resume().on('end', () => resolve({ status: res.statusCode ?? 0, challenge: String(res.headers['www-authenticate']) }));
    }).on('error', reject);
  });
}

void test("a page's script gets 401 without a Basic challenge (no browser password dialog); a navigation gets one", async () => {
  const script = await challengeOf({ 'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'cors' });
  assert.equal(script.status, 401);
  assert.doesNotMatch(script.challenge, /Basic/);
  assert.match(script.challenge, /Bearer realm="correio"/);
  const nav = await challengeOf({ 'Sec-Fetch-Site': 'none', 'Sec-Fetch-Mode': 'navigate' });
  assert.equal(nav.status, 401);
  assert.match(nav.challenge, /Basic realm="correio"/);
});

void test('logout: DELETE /api/session needs the token, ends the session on the server and clears the cookie', async () => {
  const a = await login('alice@example.org');
  assert.equal((await fetch(`${base}/api/session`, { method: 'DELETE', headers: { Cookie: a.cookie } })).status, 403);
  const out = await fetch(`${base}/api/session`, { method: 'DELETE', headers: { Cookie: a.cookie, 'X-CSRF-Token': a.csrf } });
  assert.equal(out.status, 204);
  assert.match(out.headers.getSetCookie()[0], /^correio_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict/);
  const after = await fetch(`${base}/jmap/session`, { headers: { Cookie: a.cookie } });
  assert.equal(after.status, 401, 'the old cookie no longer works');
  assert.match(((await after.json()) as { detail: string }).detail, /session has ended/);
  assert.equal((await fetch(`${base}/api/session`, { headers: { Cookie: a.cookie } })).status, 401);
});

void test("a deleted account's session stops working", async () => {
  const d = await login('dave@example.org');
  assert.equal((await fetch(`${base}/api/me`, { headers: { Cookie: d.cookie } })).status, 200);
  const del = await runCli(['user', 'delete', 'dave@example.org', '--config', site.configFile]);
  assert.equal(del.code, 0, del.stderr);
  assert.equal((await fetch(`${base}/api/me`, { headers: { Cookie: d.cookie } })).status, 401);
});

function loginFrom(from: string, user: string, password: string): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ address: user, password });
    const req = http.request(`${base}/api/session`, { method: 'POST', localAddress: from, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume().on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

void test('login throttling is the [auth] throttle: 401 for wrong passwords, then 429 even for the right one, from that address only', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await loginFrom('127.0.0.9', 'carol@example.org', 'wrong')).status, 401);
  const blocked = await loginFrom('127.0.0.9', 'carol@example.org', 'secret');
  assert.equal(blocked.status, 429);
  assert.equal(blocked.retryAfter, '900');
  assert.equal((await loginFrom('127.0.0.10', 'carol@example.org', 'secret')).status, 200, 'another address is not blocked');
});

void test('pages carry a strict CSP; violation reports are collected and shown to admins only', async () => {
  for (const path of ['/admin', '/api/session']) {
    const csp = String((await fetch(`${base}${path}`)).headers.get('content-security-policy'));
    for (const d of ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", 'report-uri /api/csp-report']) assert.ok(csp.includes(d), `${path}: ${d} in ${csp}`);
    assert.match(csp, /default-src '(self|none)'/);
  }
  const report = { 'csp-report': { 'document-uri': `${base}/`, 'violated-directive': 'script-src', 'blocked-uri': 'inline' } };
  const sent = await fetch(`${base}/api/csp-report`, { method: 'POST', headers: { 'Content-Type': 'application/csp-report' }, body: JSON.stringify(report) });
  assert.equal(sent.status, 204);
  assert.equal((await fetch(`${base}/api/csp-report`, { headers: { Authorization: basic('alice@example.org') } })).status, 403);
  const boss = await login('boss@example.org');
  const seen = (await (await fetch(`${base}/api/csp-report`, { headers: { Cookie: boss.cookie } })).json()) as unknown[];
  assert.deepEqual(seen.at(-1), report);
});

void test("user A never reaches user B's mail: B's Email ids, blob ids and account id answer notFound/404 to A", async () => {
  const b = await login('bob@example.org');
  const a = await login('alice@example.org');
  const session = async (who: Login): Promise<string> =>
    ((await (await fetch(`${base}/jmap/session`, { headers: { Cookie: who.cookie } })).json()) as { primaryAccounts: Record<string, string> }).primaryAccounts['urn:ietf:params:jmap:mail'];
  const bobAccount = await session(b);
  const aliceAccount = await session(a);
  assert.notEqual(bobAccount, aliceAccount);
  const q = await jmap(b, [['Email/query', { accountId: bobAccount }, 'q'], ['Email/get', { accountId: bobAccount, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject', 'blobId', 'threadId'] }, 'g']]);
  const mail = (q.body.methodResponses[1][1].list as { id: string; subject: string; blobId: string; threadId: string }[])[0];
  assert.equal(mail.subject, 'for bob only');

  const asAlice = await jmap(a, [
    ['Email/get', { accountId: aliceAccount, ids: [mail.id], properties: ['subject'] }, 'g'],
    ['Thread/get', { accountId: aliceAccount, ids: [mail.threadId] }, 't'],
    ['SearchSnippet/get', { accountId: aliceAccount, emailIds: [mail.id], filter: { text: 'secret' } }, 's'],
    ['Email/set', { accountId: aliceAccount, update: { [mail.id]: { 'keywords/$flagged': true } }, destroy: [mail.id] }, 'u'],
    ['Email/get', { accountId: bobAccount, ids: [mail.id] }, 'other'],
    ['Email/query', { accountId: aliceAccount, filter: { text: 'bob' } }, 'search'],
  ]);
  const r = Object.fromEntries(asAlice.body.methodResponses.map(([name, args, id]) => [id, { name, args }]));
  assert.deepEqual(r.g.args.list, []);
  assert.deepEqual(r.g.args.notFound, [mail.id]);
  assert.deepEqual(r.t.args.notFound, [mail.threadId]);
  assert.deepEqual(r.s.args.notFound, [mail.id]);
  assert.equal((r.u.args.notUpdated as Record<string, { type: string }>)[mail.id].type, 'notFound');
  assert.equal((r.u.args.notDestroyed as Record<string, { type: string }>)[mail.id].type, 'notFound');
  assert.deepEqual([r.other.name, r.other.args.type], ['error', 'accountNotFound']);
  assert.deepEqual(r.search.args.ids, [], "alice's search finds nothing of bob's");

  assert.equal((await fetch(`${base}/jmap/download/${aliceAccount}/${mail.blobId}/m.eml`, { headers: { Cookie: a.cookie } })).status, 404);
  assert.equal((await fetch(`${base}/jmap/download/${bobAccount}/${mail.blobId}/m.eml`, { headers: { Cookie: a.cookie } })).status, 404);
  const own = await fetch(`${base}/jmap/download/${bobAccount}/${mail.blobId}/m.eml`, { headers: { Cookie: b.cookie } });
  assert.equal(own.status, 200);
  assert.match(await own.text(), /secret of bob/);
  const upload = await fetch(`${base}/jmap/upload/${bobAccount}`, { method: 'POST', headers: { Cookie: a.cookie, 'X-CSRF-Token': a.csrf, 'Content-Type': 'text/plain' }, body: 'x' });
  assert.equal(upload.status, 404);
  // bob's message is still there, unflagged
  const still = await jmap(b, [['Email/get', { accountId: bobAccount, ids: [mail.id], properties: ['keywords'] }, 'g']]);
  assert.deepEqual((still.body.methodResponses[0][1].list as { keywords: unknown }[])[0].keywords, {});
});
