/**
 * Issue 12 items 6 and 8 over real POP3 sockets: the shared authentication throttle (per
 * address across sessions, per account across addresses, attempts counted before the check),
 * the per-address connection cap, and TCP_NODELAY on every session.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { AuthThrottle } from '../../src/policy/auth-throttle.js';
import { Pop3Session } from '../../src/server/pop3/index.js';
import { MaildropLocks } from '../../src/server/pop3/maildrop-locks.js';
import { LineClient } from '../helpers/net.js';
import { authenticate, cmd, login, PASSWORD, startHarness, USER } from './pop3-harness.js';

void test('the Nth bad password from one address blocks that address in every session', async () => {
  const authThrottle = new AuthThrottle({ maxFailuresPerAddress: 4, maxFailuresPerAccount: 100 });
  const h = await startHarness({ authThrottle, maxAuthFailures: 3 });
  try {
    // two sessions, each under its own per-session limit of 3
    const a = await h.connect();
    assert.equal(await login(a, USER, 'guess1'), '-ERR [AUTH] authentication failed');
    assert.equal(await cmd(a, 'USER jacques@dc.uece.br'), '+OK send PASS');
    assert.equal(await cmd(a, 'PASS guess2'), '-ERR [AUTH] authentication failed');
    const b = await h.connect();
    assert.equal(await login(b, USER, 'guess3'), '-ERR [AUTH] authentication failed');
    assert.equal(await cmd(b, 'USER ninguem@dc.uece.br'), '+OK send PASS');
    // the 4th failure from this address: refused and closed
    assert.equal(await cmd(b, 'PASS guess4'), '-ERR [AUTH] too many authentication failures');
    assert.equal(await b.readLine(), undefined);
    // a new session from the same address is refused even with the right password
    const c = await h.connect();
    assert.equal(await login(c), '-ERR [AUTH] too many authentication failures');
    assert.equal(await c.readLine(), undefined);
    // AUTH PLAIN goes through the same throttle
    const d = await h.connect();
    await d.readLine();
    const plain = Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64');
    assert.equal(await cmd(d, `AUTH PLAIN ${plain}`), '-ERR [AUTH] too many authentication failures');
    // another address is not affected
    const e = await LineClient.connect(h.port, '127.0.0.1', '127.0.0.2');
    assert.match((await login(e)) ?? '', /^\+OK maildrop locked and ready/);
    e.close();
  } finally {
    await h.cleanup();
  }
});

void test('guessing one account from many addresses is refused per account', async () => {
  const authThrottle = new AuthThrottle({ maxFailuresPerAddress: 100, maxFailuresPerAccount: 3 });
  const h = await startHarness({ authThrottle });
  const clients: LineClient[] = [];
  try {
    for (const from of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
      const c = await LineClient.connect(h.port, '127.0.0.1', from);
      clients.push(c);
      assert.equal(await login(c, USER, `guess from ${from}`), '-ERR [AUTH] authentication failed');
    }
    // the domain's case does not make another account
    const c = await LineClient.connect(h.port, '127.0.0.1', '127.0.0.5');
    clients.push(c);
    assert.equal(await login(c, 'suzana@DC.UECE.BR', PASSWORD), '-ERR [SYS/TEMP] authentication temporarily refused, try again later');
    // the session goes on, and another account logs in from the same address
    assert.equal(await cmd(c, 'USER jacques@dc.uece.br'), '+OK send PASS');
    assert.match((await cmd(c, 'PASS outra senha')) ?? '', /^\+OK maildrop locked and ready/);
  } finally {
    for (const c of clients) c.close();
    await h.cleanup();
  }
});

void test('concurrent logins from one address: at most the limit are checked', async () => {
  let checked = 0;
  const slowAuthenticate = async (u: string, p: string): Promise<boolean> => {
    checked++;
    // keep every check in flight long enough for all connections to arrive
    await new Promise((r) => setTimeout(r, 300));
    return authenticate(u, p);
  };
  const authThrottle = new AuthThrottle({ maxFailuresPerAddress: 3, maxFailuresPerAccount: 1000 });
  const h = await startHarness({ authThrottle, authenticate: slowAuthenticate, maxConnectionsPerIp: 50 });
  try {
    const clients = await Promise.all(Array.from({ length: 20 }, () => h.connect()));
    const replies = await Promise.all(clients.map((c) => login(c, USER, 'wrong')));
    assert.ok(checked <= 3, `${checked} passwords checked, limit 3`);
    assert.equal(replies.filter((r) => r === '-ERR [AUTH] authentication failed').length + replies.filter((r) => r === '-ERR [AUTH] too many authentication failures').length, 20);
  } finally {
    await h.cleanup();
  }
});

void test('connections over maxConnectionsPerIp get -ERR [SYS/TEMP] and are closed', async () => {
  const h = await startHarness({ maxConnectionsPerIp: 2, maxConnections: 10 });
  const other: LineClient[] = [];
  try {
    const a = await h.connect();
    const b = await h.connect();
    assert.match((await a.readLine()) ?? '', /^\+OK/);
    assert.match((await b.readLine()) ?? '', /^\+OK/);
    const c = await h.connect();
    assert.equal(await c.readLine(), '-ERR [SYS/TEMP] too many connections, try again later');
    assert.equal(await c.readLine(), undefined);
    // another address still gets in
    const d = await LineClient.connect(h.port, '127.0.0.1', '127.0.0.2');
    other.push(d);
    assert.match((await d.readLine()) ?? '', /^\+OK/);
    // a slot freed by QUIT is free again
    assert.match((await cmd(a, 'QUIT')) ?? '', /^\+OK/);
    assert.equal(await a.readLine(), undefined);
    let greeting: string | undefined;
    for (let i = 0; i < 50; i++) {
      const e = await h.connect();
      greeting = await e.readLine();
      if (greeting?.startsWith('+OK')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(greeting ?? '', /^\+OK/);
  } finally {
    for (const c of other) c.close();
    await h.cleanup();
  }
});

void test('every POP3 session turns Nagle off (RETR/TOP answers are not held back)', async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect(port, '127.0.0.1');
  const sock = await accepted;
  let noDelay: boolean | undefined;
  const orig = sock.setNoDelay.bind(sock);
  sock.setNoDelay = (v?: boolean) => {
    noDelay = v ?? true;
    return orig(v);
  };
  const session = new Pop3Session(
    sock,
    {
      hostname: 'pop.test',
      mailboxes: undefined as never,
      authenticate,
      allowPlainWithoutTls: true,
      idleTimeoutMs: 5000,
      authFailureDelayMs: 0,
      maxAuthFailures: 3,
      authThrottle: new AuthThrottle(),
      locks: new MaildropLocks(),
    },
    false,
  );
  try {
    assert.equal(noDelay, true);
  } finally {
    session.destroy();
    client.destroy();
    await new Promise((r) => server.close(r));
  }
});

void test('a command line trickled one octet at a time ends at the autologout time (whole-line timer)', async () => {
  const h = await startHarness({ idleTimeoutMs: 400 });
  try {
    const c = await h.connect();
    assert.match((await c.readLine()) ?? '', /^\+OK/);
    // 80 octets at one per 50 ms would take 4 s; each octet used to restart the timer
    let sent = 0;
    for (const ch of `NOOP${'x'.repeat(76)}`) {
      if (c.closed) break;
      c.write(ch);
      sent++;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(sent < 80, 'cut off before the line was complete');
    // RFC 1939 §3: autologout closes without a response
    assert.equal(await c.readLine(), undefined);
  } finally {
    await h.cleanup();
  }
});
