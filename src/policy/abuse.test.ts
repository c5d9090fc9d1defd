/**
 * Units of the MX abuse checks: DNS list names (RFC 5782 §2.1, §2.4 examples), the sliding
 * rate counter with a test clock, and the greylisting triplet store (RFC 6647) on a real SQLite
 * file with a test clock: first attempt refused, early retry refused, retry after the delay
 * passes, known triplets pass, unused ones expire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dnsListName, DnsList } from './dns-lists.js';
import { RateCounter, userMessageRate } from './rate-limits.js';
import { GreylistStore, greylistNet } from './greylist.js';
import { addressKey } from './auth-throttle.js';

test('DNS list names: IPv4 octets and IPv6 nibbles reversed under the zone (RFC 5782 §2.1, §2.4)', () => {
  assert.equal(dnsListName('192.0.2.99', 'bl.example'), '99.2.0.192.bl.example');
  assert.equal(dnsListName('::ffff:192.0.2.99', 'bl.example'), '99.2.0.192.bl.example');
  assert.equal(
    dnsListName('2001:db8:1:2:3:4:567:89ab', 'ugly.example.com'),
    'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com',
  );
  assert.equal(dnsListName('2001:db8::1', 'z')?.split('.').length, 33);
  assert.equal(dnsListName('not an ip', 'z'), undefined);
  // auth-throttle's /64 key, on the shared IPv6 parser
  assert.equal(addressKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  assert.equal(addressKey('::ffff:10.1.2.3'), '10.1.2.3');
});

test('DnsList: 127/8 answers list, 127.0.0.1 and other answers or failures do not; answers are cached', async () => {
  const asked: string[] = [];
  const answers: Record<string, string[] | Error> = {
    '2.0.0.10.a.example': ['127.0.0.2'],
    '3.0.0.10.a.example': ['127.0.0.1'],
    '4.0.0.10.a.example': ['10.9.9.9'],
    '5.0.0.10.a.example': new Error('SERVFAIL'),
    '6.0.0.10.b.example': ['127.0.0.4'],
    '7.0.0.10.a.example': ['127.255.255.254'],
  };
  const lookup = (name: string): Promise<unknown> => {
    asked.push(name);
    const a = answers[name];
    return a instanceof Error ? Promise.reject(a) : a ? Promise.resolve(a) : Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' }));
  };
  const list = new DnsList(['a.example', 'b.example'], lookup);
  assert.equal(await list.listedBy('10.0.0.2'), 'a.example');
  assert.equal(await list.listedBy('10.0.0.3'), undefined);
  assert.equal(await list.listedBy('10.0.0.4'), undefined);
  assert.equal(await list.listedBy('10.0.0.5'), undefined);
  assert.equal(await list.listedBy('10.0.0.6'), 'b.example');
  assert.equal(await list.listedBy('10.0.0.7'), undefined, "a list operator's error code is no listing");
  const n = asked.length;
  assert.equal(await list.listedBy('10.0.0.2'), 'a.example');
  assert.equal(asked.length, n, 'cached');
});

test('RateCounter: more than max in the last minute is over; the window slides', () => {
  let now = 1_000_000;
  const c = new RateCounter(2, () => now);
  assert.equal(c.over('a'), false);
  now += 20_000;
  assert.equal(c.over('a'), false);
  assert.equal(c.over('a'), true);
  assert.equal(c.over('b'), false, 'per key');
  now += 40_000; // the first event is a minute old now
  assert.equal(c.over('a'), true, 'two in the window and this one');
  now += 30_000;
  assert.equal(c.over('a'), false);
});

test('greylisting store: refused, refused early, passed after the delay, remembered, expired', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-grey-'));
  let now = 5_000_000;
  const store = new GreylistStore(join(dir, 'g.sqlite'), () => now);
  const s = { delay: 300_000, lifetime: 86_400_000 * 35 };
  try {
    const net = greylistNet('192.0.2.77');
    assert.equal(net, '192.0.2.0/24');
    assert.equal(greylistNet('2001:db8:1:2::99'), '2001:db8:1:2::/64');
    assert.deepEqual(store.check(net, 'a@x', 'u@l', s), { pass: false, wait: 300_000 });
    now += 60_000;
    assert.deepEqual(store.check(net, 'a@x', 'u@l', s), { pass: false, wait: 240_000 });
    now += 240_000;
    assert.deepEqual(store.check(net, 'a@x', 'u@l', s), { pass: true });
    assert.deepEqual(store.check(net, 'b@x', 'u@l', s).pass, false, 'another sender');
    now += 86_400_000 * 30;
    assert.deepEqual(store.check(net, 'a@x', 'u@l', s), { pass: true }, 'remembered within its lifetime');
    now += 86_400_000 * 36;
    assert.equal(store.check(net, 'a@x', 'u@l', s).pass, false, 'forgotten after its lifetime');
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
  // the store survives a reopen (a restart)
  const dir2 = await mkdtemp(join(tmpdir(), 'correio-grey-'));
  try {
    const a = new GreylistStore(join(dir2, 'g.sqlite'), () => now);
    a.check('n', 's', 'r', s);
    a.close();
    now += 300_000;
    const b = new GreylistStore(join(dir2, 'g.sqlite'), () => now);
    assert.deepEqual(b.check('n', 's', 'r', s), { pass: true });
    b.close();
  } finally {
    await rm(dir2, { recursive: true, force: true });
  }
});

test('rate-messages-per-user: counts authenticated sessions by login name on any port; others pass', async () => {
  let now = 0;
  const check = userMessageRate(2, () => now);
  const facts = (authUser?: string, remoteAddress = '192.0.2.1'): Parameters<typeof check.check>[0] => ({
    session: { protocol: 'ESMTPA', mayRelay: authUser !== undefined, submission: true, remoteAddress, ...(authUser !== undefined ? { authUser } : {}) },
    sender: null,
    mail: {},
  });
  assert.equal(await check.check(facts('alice@example.org')), undefined);
  assert.equal(await check.check(facts('ALICE@example.org', '192.0.2.9')), undefined, 'same user from elsewhere counts too');
  const r = await check.check(facts('alice@example.org'));
  assert.equal(r?.code, 451);
  assert.equal(r?.status, '4.7.1');
  assert.match(r?.lines[0] ?? '', /Too many messages from your account/);
  assert.equal(await check.check(facts('bob@example.org')), undefined, 'per user');
  for (let i = 0; i < 5; i++) assert.equal(await check.check(facts(undefined)), undefined, 'no AUTH: not counted');
  now += 60_000;
  assert.equal(await check.check(facts('alice@example.org')), undefined, 'a minute later');
});
