/**
 * POP3 session rules over real sockets: UPDATE only at QUIT, the maildrop lock, the login
 * snapshot, UIDL stability across a restart, pipelining, login limits, connection limits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineClient } from '../helpers/net.js';
import { cmd, login, startHarness, USER, PASSWORD } from './pop3-harness.js';

const m = (n: number): string => `Subject: ${n}\r\n\r\nbody ${n}\r\n`;

void test('DELE without QUIT removes nothing when the connection drops (RFC 1939 §6)', async () => {
  const h = await startHarness();
  try {
    await h.store.put(USER, m(1));
    await h.store.put(USER, m(2));
    const c = await h.connect();
    assert.match((await login(c)) ?? '', /^\+OK/);
    assert.equal(await cmd(c, 'DELE 1'), '+OK message 1 deleted');
    assert.equal(await cmd(c, 'DELE 2'), '+OK message 2 deleted');
    c.close();
    // The lock is released once the server sees the drop; then a new session sees both.
    let c2: LineClient;
    let reply: string | undefined;
    for (let i = 0; ; i++) {
      c2 = await h.connect();
      reply = await login(c2);
      if (!reply?.includes('[IN-USE]') || i > 100) break;
      c2.close();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(reply, `+OK maildrop locked and ready, 2 messages (${m(1).length + m(2).length} octets)`);
    assert.equal((await h.store.list(USER)).length, 2);
    // And with QUIT, the deletion happens.
    assert.equal(await cmd(c2, 'DELE 1'), '+OK message 1 deleted');
    assert.equal(await cmd(c2, 'QUIT'), '+OK pop.dc.uece.br POP3 server signing off (1 message left)');
    const left = await h.store.list(USER);
    assert.equal(left.length, 1);
  } finally {
    await h.cleanup();
  }
});

void test('a second concurrent session is refused with -ERR [IN-USE] (RFC 2449 §8.1.2)', async () => {
  const h = await startHarness();
  try {
    await h.store.put(USER, m(1));
    const a = await h.connect();
    assert.match((await login(a)) ?? '', /^\+OK maildrop locked/);
    const b = await h.connect();
    assert.equal(await login(b), '-ERR [IN-USE] maildrop already locked by another session');
    // still in AUTHORIZATION: commands of TRANSACTION are refused
    assert.equal(await cmd(b, 'STAT'), '-ERR command not valid in this state');
    // another user is not affected
    const other = await h.connect();
    assert.match((await login(other, 'jacques@dc.uece.br', 'outra senha')) ?? '', /^\+OK maildrop locked and ready, 0 messages/);
    // the domain is case-insensitive: same maildrop, same lock
    const c = await h.connect();
    assert.equal(await login(c, 'suzana@DC.UECE.BR', PASSWORD), '-ERR [IN-USE] maildrop already locked by another session');
    assert.match((await cmd(a, 'QUIT')) ?? '', /^\+OK/);
    assert.equal(await a.readLine(), undefined);
    // after QUIT the lock is free again
    assert.match((await cmd(b, `USER ${USER}`)) ?? '', /^\+OK/);
    assert.match((await cmd(b, `PASS ${PASSWORD}`)) ?? '', /^\+OK maildrop locked and ready, 1 message /);
  } finally {
    await h.cleanup();
  }
});

void test('messages arriving during a session are not shown in it', async () => {
  const h = await startHarness();
  try {
    await h.store.put(USER, m(1));
    const c = await h.connect();
    await login(c);
    await h.store.put(USER, m(2));
    assert.equal(await cmd(c, 'STAT'), `+OK 1 ${m(1).length}`);
    assert.equal(await cmd(c, 'RETR 2'), '-ERR no such message');
    assert.equal(await cmd(c, 'QUIT'), '+OK pop.dc.uece.br POP3 server signing off (1 message left)');
    const c2 = await h.connect();
    await login(c2);
    assert.equal(await cmd(c2, 'STAT'), `+OK 2 ${m(1).length + m(2).length}`);
  } finally {
    await h.cleanup();
  }
});

async function uidl(c: LineClient): Promise<string[]> {
  assert.equal(await cmd(c, 'UIDL'), '+OK unique-id listing follows');
  return (await c.readMultiline()).split('\r\n').filter((l) => l !== '');
}

void test('UIDL is stable across sessions and a restarted server, and follows deletions', async () => {
  const h = await startHarness();
  try {
    for (let i = 1; i <= 3; i++) await h.store.put(USER, m(i));
    const keys = (await h.store.list(USER)).map((x) => x.key);
    const c = await h.connect();
    await login(c);
    const first = await uidl(c);
    assert.deepEqual(first, keys.map((k, i) => `${i + 1} ${k}`));
    assert.equal(await cmd(c, 'UIDL 2'), `+OK 2 ${keys[1]}`);
    assert.equal(await cmd(c, 'DELE 1'), '+OK message 1 deleted');
    assert.deepEqual(await uidl(c), first.slice(1));
    assert.equal(await cmd(c, 'UIDL 1'), '-ERR message 1 already deleted');
    assert.match((await cmd(c, 'QUIT')) ?? '', /^\+OK/);

    await h.restart();
    const c2 = await h.connect();
    await login(c2);
    // numbers are renumbered after the deletion, the unique ids stay
    assert.deepEqual(await uidl(c2), [`1 ${keys[1]}`, `2 ${keys[2]}`]);
  } finally {
    await h.cleanup();
  }
});

void test('pipelined commands are answered in order (RFC 2449 §6.6)', async () => {
  const h = await startHarness();
  try {
    await h.store.put(USER, m(1));
    const c = await h.connect();
    await c.readLine();
    c.write(`USER ${USER}\r\nPASS ${PASSWORD}\r\nSTAT\r\nRETR 1\r\nLIST 1\r\nNOOP\r\nQUIT\r\n`);
    assert.equal(await c.readLine(), '+OK send PASS');
    assert.match((await c.readLine()) ?? '', /^\+OK maildrop locked/);
    assert.equal(await c.readLine(), `+OK 1 ${m(1).length}`);
    assert.equal(await c.readLine(), `+OK ${m(1).length} octets`);
    assert.equal(await c.readMultiline(), m(1));
    assert.equal(await c.readLine(), `+OK 1 ${m(1).length}`);
    assert.equal(await c.readLine(), '+OK');
    assert.match((await c.readLine()) ?? '', /signing off/);
    assert.equal(await c.readLine(), undefined);
  } finally {
    await h.cleanup();
  }
});

void test('a client that pipelines RETRs without reading gets every message intact (backpressure)', async () => {
  const h = await startHarness();
  try {
    const line = `${'x'.repeat(76)}\r\n.${'y'.repeat(75)}\r\n`;
    const big = `Subject: big\r\n\r\n${line.repeat(8000)}`; // about 1.2 MB
    await h.store.put(USER, big);
    const c = await h.connect();
    await login(c);
    c.socket.pause();
    c.write('RETR 1\r\n'.repeat(8) + 'STAT\r\n');
    await new Promise((r) => setTimeout(r, 100));
    c.socket.resume();
    for (let i = 0; i < 8; i++) {
      assert.equal(await c.readLine(), `+OK ${big.length} octets`);
      assert.ok((await c.readMultiline()) === big, `copy ${i + 1} intact`);
    }
    assert.equal(await c.readLine(), `+OK 1 ${big.length}`);
  } finally {
    await h.cleanup();
  }
});

void test('failed logins: [AUTH] after a delay, then the session is closed', async () => {
  const h = await startHarness({ maxAuthFailures: 3 });
  try {
    const c = await h.connect();
    await c.readLine();
    for (let i = 0; i < 2; i++) {
      assert.equal(await cmd(c, `USER ${USER}`), '+OK send PASS');
      assert.equal(await cmd(c, 'PASS nope'), '-ERR [AUTH] authentication failed');
    }
    // unknown user: the same answers, so existence is not revealed
    assert.equal(await cmd(c, 'USER ninguem@dc.uece.br'), '+OK send PASS');
    assert.equal(await cmd(c, 'PASS nope'), '-ERR [AUTH] too many authentication failures');
    assert.equal(await c.readLine(), undefined);
  } finally {
    await h.cleanup();
  }
});

void test('AUTH PLAIN: with an empty challenge, an authzid for another user is refused', async () => {
  const h = await startHarness();
  try {
    const c = await h.connect();
    await c.readLine();
    assert.equal(await cmd(c, 'AUTH PLAIN'), '+ ');
    const other = Buffer.from(`jacques@dc.uece.br\0${USER}\0${PASSWORD}`).toString('base64');
    assert.equal(await cmd(c, other), '-ERR [AUTH] authentication failed');
    assert.equal(await cmd(c, 'AUTH PLAIN'), '+ ');
    const same = Buffer.from(`${USER}\0${USER}\0${PASSWORD}`).toString('base64');
    assert.match((await cmd(c, same)) ?? '', /^\+OK maildrop locked/);
  } finally {
    await h.cleanup();
  }
});

void test('an over-long command line is refused and the session goes on', async () => {
  const h = await startHarness();
  try {
    const c = await h.connect();
    await c.readLine();
    c.write('X'.repeat(100_000));
    c.write('\r\nCAPA\r\n');
    assert.equal(await c.readLine(), '-ERR command line too long');
    assert.equal(await c.readLine(), '+OK Capability list follows');
  } finally {
    await h.cleanup();
  }
});

void test('the idle timer closes the connection without a response and without UPDATE', async () => {
  const h = await startHarness({ idleTimeoutMs: 200 });
  try {
    await h.store.put(USER, m(1));
    const c = await h.connect();
    await login(c);
    assert.equal(await cmd(c, 'DELE 1'), '+OK message 1 deleted');
    assert.equal(await c.readLine(5000), undefined);
    assert.equal((await h.store.list(USER)).length, 1);
  } finally {
    await h.cleanup();
  }
});

void test('connections over maxConnections get -ERR [SYS/TEMP]', async () => {
  const h = await startHarness({ maxConnections: 1 });
  try {
    const a = await h.connect();
    assert.match((await a.readLine()) ?? '', /^\+OK/);
    const b = await h.connect();
    assert.equal(await b.readLine(), '-ERR [SYS/TEMP] too many connections, try again later');
    assert.equal(await b.readLine(), undefined);
  } finally {
    await h.cleanup();
  }
});

void test('a failing mailbox store gives -ERR [SYS/TEMP] and frees the lock', async () => {
  let fail = true;
  const h = await startHarness({}, (dir) => {
    void dir;
    return {
      deliver: () => Promise.reject(new Error('no')),
      list: () => (fail ? Promise.reject(new Error('disk on fire')) : Promise.resolve([])),
      open: () => Promise.reject(new Error('no')),
      setFlags: () => Promise.reject(new Error('no')),
      remove: () => Promise.reject(new Error('no')),
    };
  });
  try {
    const c = await h.connect();
    assert.equal(await login(c), '-ERR [SYS/TEMP] unable to open maildrop, try again later');
    fail = false;
    assert.match((await cmd(c, `USER ${USER}`)) ?? '', /^\+OK/);
    assert.equal(await cmd(c, `PASS ${PASSWORD}`), '+OK maildrop locked and ready, 0 messages (0 octets)');
  } finally {
    await h.cleanup();
  }
});

void test('a message that vanished from the store gives -ERR, and a failed removal [SYS/TEMP] at QUIT', async () => {
  const h = await startHarness();
  try {
    await h.store.put(USER, m(1));
    await h.store.put(USER, m(2));
    const c = await h.connect();
    await login(c);
    const [first] = await h.store.list(USER);
    await h.store.remove(USER, first.key); // e.g. expunged over IMAP
    assert.equal(await cmd(c, 'RETR 1'), '-ERR [SYS/TEMP] local error in processing, try again later');
    assert.equal(await cmd(c, 'RETR 2'), `+OK ${m(2).length} octets`);
    assert.equal(await c.readMultiline(), m(2));
    assert.equal(await cmd(c, 'DELE 1'), '+OK message 1 deleted');
    assert.equal(await cmd(c, 'QUIT'), '-ERR [SYS/TEMP] some deleted messages not removed');
    assert.equal(await c.readLine(), undefined);
  } finally {
    await h.cleanup();
  }
});

void test('close() drops open sessions without UPDATE', async () => {
  const h = await startHarness();
  try {
    await h.store.put(USER, m(1));
    const c = await h.connect();
    await login(c);
    assert.equal(await cmd(c, 'DELE 1'), '+OK message 1 deleted');
    await h.server.close();
    assert.equal(await c.readLine(), undefined);
    assert.equal(h.server.connectionCount, 0);
    assert.equal((await h.store.list(USER)).length, 1);
  } finally {
    await h.cleanup();
  }
});
