/**
 * Issue 16, the web's ground floor: `correio serve` serves HTTP and HTTPS on [http] listen /
 * listen_tls with the SMTP certificate; an account logs in with its password (Basic), a
 * script with a token made by `correio token create` (Bearer) and revoked by `token revoke`;
 * the admin scope follows [http] admins through a reload; failed logins count in the throttle
 * shared with IMAP; stop closes the listener.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFile, writeFile } from 'node:fs/promises';
import { runCli } from '../helpers/cli.js';
import { LineClient } from '../helpers/net.js';
import { startSite, type Site } from '../helpers/site.js';
import { tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';

let site: Site;
let ca: Buffer;
let plainPort: number;
let tlsPort: number;
let imapPort: number;

before(async () => {
  ca = await readFile(tlsCertFile);
  site = await startSite({
    domains: ['example.org'],
    users: ['alice@example.org', 'boss@example.org'],
    smtp: { tls_cert: tlsCertFile, tls_key: tlsKeyFile },
    tables: [
      '[http]',
      'listen = ["127.0.0.1:0"]',
      'listen_tls = ["127.0.0.1:0"]',
      'admins = ["boss@example.org"]',
      '[imap]',
      'listen = ["127.0.0.1:0"]',
      '[auth]',
      'max_failures_per_address = 2',
      'failure_delay = "1s"',
      '',
    ].join('\n'),
  });
  const web = site.app!.httpAddresses();
  plainPort = web.find((a) => !a.tls)!.port;
  tlsPort = web.find((a) => a.tls)!.port;
  imapPort = site.app!.imapAddresses()[0].port;
});
after(async () => {
  await site.destroy();
});

function get(path: string, opts: { auth?: string; tls?: boolean; from?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = opts.auth ? { Authorization: opts.auth } : {};
    const o = { host: '127.0.0.1', port: opts.tls ? tlsPort : plainPort, path, headers, localAddress: opts.from, ca, servername: 'localhost' };
    const req = (opts.tls ? https : http).get(o, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--config', site.configFile]);

void test('HTTP and HTTPS answer; the password of the account logs in over both', async () => {
  assert.equal((await get('/api/me')).status, 401);
  const plain = await get('/api/me', { auth: basic('alice@example.org', 'secret') });
  assert.equal(plain.status, 200);
  assert.deepEqual(JSON.parse(plain.body), { address: 'alice@example.org', scopes: ['jmap', 'submit'], via: 'password' });
  const secure = await get('/api/me', { auth: basic('boss@example.org', 'secret'), tls: true });
  assert.equal(secure.status, 200);
  assert.deepEqual((JSON.parse(secure.body) as { scopes: string[] }).scopes, ['admin', 'jmap', 'submit']);
});

void test('correio token create / list / revoke, used as Bearer', async () => {
  const made = await cli('token', 'create', 'alice@example.org', '--scope', 'jmap,submit', '--label', 'mutt');
  assert.equal(made.code, 0, made.stderr);
  const secret = made.stdout.trim();
  assert.match(secret, /^correio_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  assert.match(made.stderr, /not shown again/);
  const me = await get('/api/me', { auth: `Bearer ${secret}` });
  assert.equal(me.status, 200);
  const { tokenId } = JSON.parse(me.body) as { tokenId: string };

  const list = await cli('token', 'list', '--json');
  assert.equal(list.code, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as { id: string; owner: string; scopes: string[]; label: string; lastUsedAt: string | null }[];
  const row = rows.find((r) => r.id === tokenId);
  assert.ok(row, list.stdout);
  assert.deepEqual([row.owner, row.scopes, row.label], ['alice@example.org', ['jmap', 'submit'], 'mutt']);
  assert.ok(row.lastUsedAt !== null, 'its use is recorded');
  assert.doesNotMatch(list.stdout, new RegExp(secret), 'the secret is never shown again');

  const revoked = await cli('token', 'revoke', tokenId);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal((await get('/api/me', { auth: `Bearer ${secret}` })).status, 401);
  const again = await cli('token', 'revoke', tokenId);
  assert.equal(again.code, 67);
  assert.match(again.stderr, /no such token/);
});

void test('token create refuses what it cannot give: unknown user (67), admin scope for a non-admin (77), bad scope (64)', async () => {
  const nobody = await cli('token', 'create', 'nobody@example.org', '--scope', 'jmap');
  assert.equal(nobody.code, 67);
  assert.match(nobody.stderr, /no such user/);
  const notAdmin = await cli('token', 'create', 'alice@example.org', '--scope', 'admin');
  assert.equal(notAdmin.code, 77);
  assert.match(notAdmin.stderr, /\[http\] admins/);
  const bad = await cli('token', 'create', 'alice@example.org', '--scope', 'root');
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /unknown scope; use jmap, submit, admin/);
});

void test('[http] admins applies at a reload: an admin token loses its admin scope when its owner leaves the list', async () => {
  const made = await cli('token', 'create', 'boss@example.org', '--scope', 'admin', '--scope', 'jmap');
  assert.equal(made.code, 0, made.stderr);
  const auth = `Bearer ${made.stdout.trim()}`;
  assert.deepEqual((JSON.parse((await get('/api/me', { auth })).body) as { scopes: string[] }).scopes, ['admin', 'jmap']);
  const original = await readFile(site.configFile, 'utf8');
  await writeFile(site.configFile, original.replace('admins = ["boss@example.org"]', 'admins = []'));
  try {
    assert.equal((await site.app!.reload()).ok, true);
    assert.deepEqual((JSON.parse((await get('/api/me', { auth })).body) as { scopes: string[] }).scopes, ['jmap']);
  } finally {
    await writeFile(site.configFile, original);
    assert.equal((await site.app!.reload()).ok, true);
  }
});

void test('failed IMAP logins count for the web too: one throttle for every protocol', async () => {
  const from = '127.0.0.23';
  for (let i = 0; i < 2; i++) {
    const c = await LineClient.connect(imapPort, '127.0.0.1', from);
    try {
      await c.readReply();
      c.write(`a LOGIN alice@example.org wrong${i}\r\n`);
      let line: string | undefined;
      do line = await c.readLine();
      while (line !== undefined && !/^(a |\* BYE)/.test(line));
      // the failure that reaches the limit is answered with BYE (RFC 9051 §7.1.5)
      assert.match(String(line), /^(a NO|\* BYE)/);
    } finally {
      c.close();
    }
  }
  const r = await get('/api/me', { auth: basic('alice@example.org', 'secret'), from });
  assert.equal(r.status, 429);
  assert.ok(Number(r.headers['retry-after']) > 0);
  assert.equal((await get('/api/me', { auth: basic('alice@example.org', 'secret') })).status, 200, 'other addresses still log in');
});
