/**
 * A login held by the auth throttle, over real HTTP: while a password check from an address
 * is in flight and fills its limit, the next login from there waits behind it for the
 * throttle's wait (maxWaitMs) and is then answered 503 with Retry-After — by the web console's
 * login (POST /api/session) and by HTTP Basic alike — and is not counted as a failure: once
 * the check in flight ends, the same login is let in. The directory is real SQLite, its
 * password check held at a gate the test opens.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { SqliteDirectory, SqliteSessionStore, hashPassword } from '../directory/index.js';
import { AuthThrottle } from '../policy/auth-throttle.js';
import { HttpAuth } from './http-auth.js';
import { HttpServer, createWebApp } from './http-server.js';
import { sessionApp } from './session-app.js';
import { whoamiApp } from './whoami.js';

let directory: SqliteDirectory;
let sessions: SqliteSessionStore;
let server: HttpServer;
let port: number;
/** while set, password checks wait for it; `entered` is told of each check that waits */
let gate: Promise<void> | undefined;
let entered: (() => void) | undefined;

before(async () => {
  directory = await SqliteDirectory.open(':memory:', { localDomains: ['example.org'] });
  await directory.addUser('alice@example.org', await hashPassword('secret'));
  sessions = SqliteSessionStore.open(':memory:');
  const gated = {
    findUser: (a: string) => directory.findUser(a),
    verifyPassword: async (a: string, p: string) => {
      if (gate) {
        entered?.();
        await gate;
      }
      return directory.verifyPassword(a, p);
    },
  };
  const auth = new HttpAuth({
    directory: gated,
    tokens: { verify: () => Promise.resolve(undefined) },
    // one attempt in flight fills an address's limit; a login behind it waits 300 ms, then is busy
    throttle: new AuthThrottle({ maxFailuresPerAddress: 1, maxFailuresPerAccount: 100, maxWaitMs: 300 }),
    failureDelayMs: 1,
    retryAfterSeconds: 900,
    settings: () => ({ plaintextAuth: 'loopback', admins: [] }),
  });
  const app = createWebApp({
    mounts: [
      { path: '/api/session', access: 'public', app: sessionApp({ auth, sessions, lifetime: () => 3_600_000 }) },
      { path: '/api/me', access: 'account', app: whoamiApp() },
    ],
    auth,
    maxBodySize: 10_000,
  });
  server = new HttpServer(app);
  [{ port }] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
});

after(async () => {
  await server.close();
  await sessions.close();
  await directory.close();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string; from: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.from }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const login = (from: string): Promise<Answer> =>
  request('/api/session', {
    method: 'POST',
    from,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ address: 'alice@example.org', password: 'secret' }),
  });

const basic = `Basic ${Buffer.from('alice@example.org:secret').toString('base64')}`;

void test('a login held behind one in flight gets 503 with Retry-After, uncounted; it passes once that one ends', async () => {
  const from = '127.0.0.21';
  let open = (): void => undefined;
  gate = new Promise((r) => (open = r));
  const inCheck = new Promise<void>((r) => (entered = r));
  const first = login(from);
  try {
    await inCheck;
    // the console's login and HTTP Basic, both held by the check in flight
    for (const held of [await login(from), await request('/api/me', { from, headers: { Authorization: basic } })]) {
      assert.equal(held.status, 503, held.body);
      assert.equal(held.headers['retry-after'], '30');
      assert.equal(held.headers['content-type'], 'application/problem+json');
      assert.match((JSON.parse(held.body) as { detail: string }).detail, /too many logins in progress from this address or for this account; try again later/);
      assert.equal(held.headers['set-cookie'], undefined, 'no session for a held login');
    }
    // another address is not held
    gate = undefined;
    assert.equal((await login('127.0.0.22')).status, 200);
  } finally {
    gate = undefined;
    open();
  }
  const done = await first;
  assert.equal(done.status, 200, done.body);
  assert.match(String(done.headers['set-cookie']), /HttpOnly/);
  // the held logins were not failures: the address is not blocked
  const again = await login(from);
  assert.equal(again.status, 200, again.body);
  assert.equal((await request('/api/me', { from, headers: { Authorization: basic } })).status, 200);
});
