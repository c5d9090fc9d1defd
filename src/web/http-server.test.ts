/**
 * The web server and its authentication over real sockets (node:http, node:https clients):
 * 401 challenges, Basic and Bearer, scopes per mount, the plaintext rule, the shared throttle,
 * body limits, error answers and security headers. Directory and tokens are real SQLite.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import { MailError, replies } from '../core/index.js';
import { SqliteDirectory, SqliteTokenStore, hashPassword } from '../directory/index.js';
import { AuthThrottle } from '../policy/auth-throttle.js';
import { projectRoot } from '../../test/helpers/paths.js';
import { HttpAuth, type HttpAuthSettings, type WebEnv } from './http-auth.js';
import { HttpServer, createWebApp } from './http-server.js';
import { whoamiApp } from './whoami.js';

const key = readFileSync(join(projectRoot, 'test', 'fixtures', 'tls', 'localhost.key'));
const cert = readFileSync(join(projectRoot, 'test', 'fixtures', 'tls', 'localhost.crt'));

let directory: SqliteDirectory;
let tokens: SqliteTokenStore;
let server: HttpServer;
let plainPort: number;
let tlsPort: number;
const settings: { current: HttpAuthSettings } = { current: { plaintextAuth: 'loopback', admins: ['boss@example.org'] } };
const errors: unknown[] = [];

before(async () => {
  directory = await SqliteDirectory.open(':memory:', { localDomains: ['example.org'] });
  const hash = await hashPassword('secret');
  for (const u of ['alice@example.org', 'boss@example.org', 'carol@example.org', 'dave@example.org', 'erin@example.org']) await directory.addUser(u, hash);
  tokens = SqliteTokenStore.open(':memory:');
  const auth = new HttpAuth({
    directory,
    tokens,
    throttle: new AuthThrottle({ maxFailuresPerAddress: 5, maxFailuresPerAccount: 100 }),
    failureDelayMs: 1,
    retryAfterSeconds: 900,
    settings: () => settings.current,
  });
  const admin = new Hono<WebEnv>().get('/ping', (c) => c.json({ ok: true, by: c.get('principal').address }));
  const mail = new Hono<WebEnv>()
    .post('/echo', async (c) => c.text(String((await c.req.arrayBuffer()).byteLength)))
    .get('/down', () => {
      throw new MailError(replies.localError(), 'MAIL_ERR_TEST');
    })
    .get('/bug', () => {
      throw new Error('a bug');
    });
  const files = new Hono<WebEnv>().get('/', (c) => c.html('<p>webmail</p>')).get('/strict', (c) => {
    c.header('Content-Security-Policy', "default-src 'none'");
    return c.text('strict');
  });
  const app = createWebApp({
    mounts: [
      { path: '/', access: 'public', app: files },
      { path: '/api/me', access: 'account', app: whoamiApp() },
      { path: '/api/admin/v1', access: 'admin', app: admin },
      { path: '/jmap', access: 'jmap', app: mail },
    ],
    auth,
    maxBodySize: 1000,
    onError: (err) => errors.push(err),
  });
  server = new HttpServer(app, { key, cert });
  [{ port: plainPort }] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
  [{ port: tlsPort }] = await server.listen([{ host: '127.0.0.1', port: 0, tls: true }]);
});

after(async () => {
  await server.close();
  await tokens.close();
  await directory.close();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(path: string, opts: { method?: string; auth?: string; body?: Buffer | string; tls?: boolean; from?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.auth !== undefined) headers.Authorization = opts.auth;
    const options = { host: '127.0.0.1', port: opts.tls ? tlsPort : plainPort, path, method: opts.method ?? 'GET', headers, localAddress: opts.from, ca: cert, servername: 'localhost' };
    const req = (opts.tls ? https : http).request(options, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

void test('no credentials: 401 with both challenges, as problem details', async () => {
  const r = await request('/api/me');
  assert.equal(r.status, 401);
  const challenges = String(r.headers['www-authenticate']);
  assert.match(challenges, /Basic realm="correio", charset="UTF-8"/);
  assert.match(challenges, /Bearer realm="correio"/);
  assert.equal(r.headers['content-type'], 'application/problem+json');
  assert.equal((JSON.parse(r.body) as { status: number }).status, 401);
});

void test('Basic with the account password from loopback: the principal, jmap and submit scopes, no-store', async () => {
  const r = await request('/api/me', { auth: basic('Alice@EXAMPLE.org', 'secret') });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(JSON.parse(r.body), { address: 'alice@example.org', scopes: ['jmap', 'submit'], via: 'password' });
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  assert.equal(r.headers['x-frame-options'], 'DENY');
  assert.match(String(r.headers['content-security-policy']), /frame-ancestors 'none'.*report-uri \/api\/csp-report/);
  assert.equal(r.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
});

void test('a wrong password is 401; malformed credentials and unknown schemes too', async () => {
  assert.equal((await request('/api/me', { auth: basic('alice@example.org', 'wrong') })).status, 401);
  assert.equal((await request('/api/me', { auth: 'Basic !!!' })).status, 401);
  const r = await request('/api/me', { auth: 'Digest x' });
  assert.equal(r.status, 401);
  assert.match(r.body, /unknown authentication scheme/);
});

void test('scopes per mount: the admin API refuses a user (403 insufficient_scope) and takes an admin', async () => {
  const user = await request('/api/admin/v1/ping', { auth: basic('alice@example.org', 'secret') });
  assert.equal(user.status, 403);
  assert.match(String(user.headers['www-authenticate']), /insufficient_scope/);
  const boss = await request('/api/admin/v1/ping', { auth: basic('boss@example.org', 'secret') });
  assert.equal(boss.status, 200);
  assert.deepEqual(JSON.parse(boss.body), { ok: true, by: 'boss@example.org' });
  assert.equal((await request('/api/admin/v1/ping')).status, 401, 'no credentials, no admin API');
  assert.equal((await request('/api/admin/v1')).status, 401, 'the prefix itself is protected too');
});

void test('Bearer tokens: scopes as made, admin only while the owner is an admin, revoked at once', async () => {
  const { secret: jmapOnly, token } = await tokens.create('carol@example.org', ['jmap']);
  const me = await request('/api/me', { auth: `Bearer ${jmapOnly}` });
  assert.equal(me.status, 200);
  assert.deepEqual(JSON.parse(me.body), { address: 'carol@example.org', scopes: ['jmap'], via: 'token', tokenId: token.id });
  assert.equal((await request('/api/admin/v1/ping', { auth: `Bearer ${jmapOnly}` })).status, 403);

  const { secret: adminToken } = await tokens.create('boss@example.org', ['admin']);
  assert.equal((await request('/api/admin/v1/ping', { auth: `Bearer ${adminToken}` })).status, 200);
  settings.current = { ...settings.current, admins: [] };
  try {
    assert.equal((await request('/api/admin/v1/ping', { auth: `Bearer ${adminToken}` })).status, 403, 'no longer an admin');
  } finally {
    settings.current = { ...settings.current, admins: ['boss@example.org'] };
  }

  assert.equal(await tokens.revoke(token.id), true);
  const revoked = await request('/api/me', { auth: `Bearer ${jmapOnly}` });
  assert.equal(revoked.status, 401);
  assert.match(String(revoked.headers['www-authenticate']), /error="invalid_token"/);
  assert.ok((await tokens.list('boss@example.org'))[0].lastUsedAt !== undefined, 'use is recorded');
});

void test('a token whose owner left the directory is refused', async () => {
  const { secret } = await tokens.create('dave@example.org', ['jmap']);
  assert.equal((await request('/api/me', { auth: `Bearer ${secret}` })).status, 200);
  await directory.deleteUser('dave@example.org');
  assert.equal((await request('/api/me', { auth: `Bearer ${secret}` })).status, 401);
});

void test('a disabled account: its tokens are refused (401); enabled again, they work', async () => {
  // from an address of its own, so its refusal counts in no other test's throttle
  const { secret } = await tokens.create('erin@example.org', ['jmap']);
  assert.equal((await request('/api/me', { auth: `Bearer ${secret}`, from: '127.0.0.7' })).status, 200);
  await directory.setUserDisabled('erin@example.org', true);
  try {
    // (the password is the directory's check: sqlite-directory's contract tests refuse it)
    assert.equal((await request('/api/me', { auth: `Bearer ${secret}`, from: '127.0.0.7' })).status, 401);
  } finally {
    await directory.setUserDisabled('erin@example.org', false);
  }
  assert.equal((await request('/api/me', { auth: `Bearer ${secret}`, from: '127.0.0.7' })).status, 200);
});

void test('over HTTPS: credentials work, HSTS is sent; with plaintext_auth "never" plain HTTP is refused (403)', async () => {
  settings.current = { ...settings.current, plaintextAuth: 'never' };
  try {
    const plain = await request('/api/me', { auth: basic('alice@example.org', 'secret') });
    assert.equal(plain.status, 403);
    assert.match(plain.body, /only over HTTPS/);
    const secure = await request('/api/me', { auth: basic('alice@example.org', 'secret'), tls: true });
    assert.equal(secure.status, 200);
    assert.equal(secure.headers['strict-transport-security'], 'max-age=31536000');
  } finally {
    settings.current = { ...settings.current, plaintextAuth: 'loopback' };
  }
});

void test('the throttle: after 5 failures from an address it answers 429, even to the right password', async () => {
  const from = '127.0.0.9';
  for (let i = 0; i < 5; i++) assert.equal((await request('/api/me', { auth: basic('alice@example.org', `guess${i}`), from })).status, 401);
  const r = await request('/api/me', { auth: basic('alice@example.org', 'secret2'), from });
  assert.equal(r.status, 429);
  assert.equal(r.headers['retry-after'], '900');
  // tokens guessed from there are refused too
  assert.equal((await request('/api/me', { auth: 'Bearer correio_000000000000_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', from })).status, 429);
  // other addresses are not affected
  assert.equal((await request('/api/me', { auth: basic('alice@example.org', 'secret'), from: '127.0.0.10' })).status, 200);
});

void test('public mounts need no credentials; a module may set a stricter CSP', async () => {
  const page = await request('/');
  assert.equal(page.status, 200);
  assert.equal(page.body, '<p>webmail</p>');
  assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
  const strict = await request('/strict');
  assert.equal(strict.headers['content-security-policy'], "default-src 'none'");
});

void test('bodies over max_body_size get 413; unknown paths 404; temporary failures 503; bugs 500 without details', async () => {
  const auth = basic('alice@example.org', 'secret');
  const small = await request('/jmap/echo', { method: 'POST', auth, body: Buffer.alloc(1000) });
  assert.equal(small.status, 200);
  assert.equal(small.body, '1000');
  const big = await request('/jmap/echo', { method: 'POST', auth, body: Buffer.alloc(1001) });
  assert.equal(big.status, 413);
  assert.match(big.body, /max_body_size/);
  const chunked = await new Promise<number>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: plainPort, path: '/jmap/echo', method: 'POST', headers: { Authorization: auth } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write(Buffer.alloc(800));
    req.end(Buffer.alloc(800));
  });
  assert.equal(chunked, 413, 'a chunked body without Content-Length is counted as it streams');
  const missing = await request('/nothing/here');
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['content-type'], 'application/problem+json');
  const down = await request('/jmap/down', { auth });
  assert.equal(down.status, 503);
  assert.match(down.body, /temporarily unavailable/);
  const bug = await request('/jmap/bug', { auth });
  assert.equal(bug.status, 500);
  assert.doesNotMatch(bug.body, /a bug/);
  assert.equal((errors.at(-1) as Error).message, 'a bug', 'the error is reported to the log');
});
