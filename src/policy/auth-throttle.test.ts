/**
 * The shared authentication throttle: attempts counted before the check, per address and per
 * account, the window, IPv6 by /64; concurrent right logins wait for the attempts in flight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthThrottle, addressKey, type AuthAttempt } from './auth-throttle.js';

void test('attempts in flight count: the limit holds for concurrent attempts', () => {
  const t = new AuthThrottle({ maxFailuresPerAddress: 3, maxFailuresPerAccount: 100 });
  const held: AuthAttempt[] = [];
  for (let i = 0; i < 10; i++) {
    const r = t.reserve('192.0.2.1', `u${i}@x`);
    if (typeof r !== 'string') held.push(r);
  }
  assert.equal(held.length, 3, 'only the limit are let through while none has ended');
  assert.equal(t.addressBlocked('192.0.2.1'), false, 'attempts in flight are no failures: a new session is not turned away');
  // a success gives its place back; a failure keeps it
  held[0].release();
  const w = t.reserve('192.0.2.1', 'w@x');
  assert.notEqual(typeof w, 'string', 'the place given back is taken');
  (w as AuthAttempt).release();
  held[1].failed();
  assert.equal(held[2].failed(), false);
  const r = t.reserve('192.0.2.1', 'u@x');
  assert.notEqual(typeof r, 'string');
  assert.equal((r as AuthAttempt).failed(), true, 'the third failure blocks the address');
  assert.equal(t.reserve('192.0.2.1', 'v@x'), 'address');
  assert.notEqual(typeof t.reserve('192.0.2.2', 'v@x'), 'string', 'another address is not affected');
});

void test('per account: guesses from many addresses are stopped too', () => {
  const t = new AuthThrottle({ maxFailuresPerAddress: 5, maxFailuresPerAccount: 4 });
  for (let i = 0; i < 4; i++) {
    const r = t.reserve(`198.51.100.${i}`, 'suzana@dc.uece.br');
    assert.notEqual(typeof r, 'string');
    (r as AuthAttempt).failed();
  }
  assert.equal(t.reserve('198.51.100.99', 'SUZANA@dc.uece.br'), 'account');
  assert.notEqual(typeof t.reserve('198.51.100.99', 'jacques@dc.uece.br'), 'string');
});

void test('the window: counts start again after it, not while attempts are in flight', () => {
  let now = 1000;
  const t = new AuthThrottle({ maxFailuresPerAddress: 2, windowMs: 60_000, now: () => now });
  assert.equal(t.fail('192.0.2.1', 'a'), false);
  assert.equal(t.fail('192.0.2.1', 'b'), true);
  assert.equal(t.addressBlocked('192.0.2.1'), true);
  now += 60_001;
  assert.equal(t.addressBlocked('192.0.2.1'), false);
  assert.notEqual(typeof t.reserve('192.0.2.1', 'c'), 'string');
});

void test('IPv6 clients are counted per /64; mapped IPv4 as IPv4', () => {
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2::2'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0db8:0001:0002:ffff:0:0:3'), '2001:db8:1:2::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(addressKey('127.0.0.1'), '127.0.0.1');
  const t = new AuthThrottle({ maxFailuresPerAddress: 1 });
  t.fail('2001:db8:1:2::1', 'a');
  assert.equal(t.addressBlocked('2001:db8:1:2::99'), true);
  assert.equal(t.addressBlocked('2001:db8:1:3::1'), false);
});

void test('memory is bounded: the oldest entries go first', () => {
  const t = new AuthThrottle({ maxFailuresPerAddress: 1, maxEntries: 3 });
  for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) t.fail(ip, ip);
  assert.equal(t.addressBlocked('10.0.0.1'), false, 'dropped');
  assert.equal(t.addressBlocked('10.0.0.4'), true);
});

void test('check: counted before verify, released on success and on a failed check, kept on a wrong password', async () => {
  const t = new AuthThrottle({ maxFailuresPerAddress: 2, maxFailuresPerAccount: 100 });
  let inFlight = 0;
  const verdicts = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      t.check('192.0.2.9', `u${i}`, async () => {
        inFlight++;
        await new Promise((r) => setTimeout(r, 20));
        return false;
      }),
    ),
  );
  assert.equal(inFlight, 2, 'only the limit were verified');
  assert.deepEqual(
    verdicts.map((v) => v.kind),
    ['failed', 'failed', 'refused', 'refused', 'refused'],
  );
  assert.deepEqual(verdicts[1], { kind: 'failed', blocked: true });
  const u = new AuthThrottle({ maxFailuresPerAddress: 1 });
  assert.deepEqual(await u.check('192.0.2.1', 'a', async () => true), { kind: 'ok' });
  const err = new Error('directory down');
  assert.deepEqual(
    await u.check('192.0.2.1', 'a', async () => {
      throw err;
    }),
    { kind: 'error', error: err },
  );
  assert.equal(u.addressBlocked('192.0.2.1'), false, 'neither a success nor an error counts');
});

void test('failures shared between processes: onFailure tells each one counted here, recordFailure counts one from elsewhere', () => {
  const told: string[] = [];
  const here = new AuthThrottle({ maxFailuresPerAddress: 3, maxFailuresPerAccount: 100, onFailure: (a, u) => told.push(`${a} ${u}`) });
  const there = new AuthThrottle({ maxFailuresPerAddress: 3, maxFailuresPerAccount: 100, onFailure: () => assert.fail('a recorded failure is not told again') });
  for (const u of ['a', 'b']) {
    const r = here.reserve('2001:db8::1', u);
    assert.notEqual(typeof r, 'string');
    if (typeof r !== 'string') r.failed();
  }
  assert.deepEqual(told, ['2001:db8::1 a', '2001:db8::1 b']);
  for (const t of told) there.recordFailure(t.split(' ')[0], t.split(' ')[1]);
  assert.equal(there.addressBlocked('2001:db8::2'), false, 'two of three');
  there.recordFailure('2001:db8::3', 'c');
  assert.equal(there.addressBlocked('2001:db8::2'), true, 'the /64 is at its limit with the failures of the other process');
  // a released attempt (right password) is not a failure: nothing told
  const ok = here.reserve('192.0.2.7', 'd');
  if (typeof ok !== 'string') ok.release();
  assert.equal(told.length, 2);
});

void test('check: concurrent right logins from one address all succeed, at most the limit verified at a time (issue 15)', async () => {
  // a submission client with 20 sessions from 127.0.0.1 got "421 4.7.0 Too many authentication failures"
  const t = new AuthThrottle({ maxFailuresPerAddress: 5, maxFailuresPerAccount: 10 });
  let inFlight = 0;
  let most = 0;
  const verdicts = await Promise.all(
    Array.from({ length: 20 }, () =>
      t.check('127.0.0.1', 'benchmd@localhost', async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return true;
      }),
    ),
  );
  assert.deepEqual(new Set(verdicts.map((v) => v.kind)), new Set(['ok']));
  assert.equal(most, 5, 'the limit holds for attempts in flight');
  assert.equal(t.addressBlocked('127.0.0.1'), false);
  // wrong passwords among waiting ones: refused once the failures alone reach the limit
  const u = new AuthThrottle({ maxFailuresPerAddress: 2, maxFailuresPerAccount: 100 });
  const mixed = await Promise.all(
    [false, true, false, true, true].map((right) =>
      u.check('192.0.2.3', 'a', async () => {
        await new Promise((r) => setTimeout(r, 5));
        return right;
      }),
    ),
  );
  assert.deepEqual(
    mixed.map((v) => v.kind),
    ['failed', 'ok', 'failed', 'refused', 'refused'],
  );
  assert.equal(u.addressBlocked('192.0.2.3'), true);
});
