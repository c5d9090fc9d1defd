import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MaildropLocks } from './maildrop-locks.js';
import { normalizeUser, uidForKey } from './pop3-session.js';

void test('uidForKey keeps valid keys and hashes others into 1-70 chars of 0x21-0x7E (RFC 1939 §7)', () => {
  assert.equal(uidForKey('1700000000.M1P2.host,S=10,W=12'), '1700000000.M1P2.host,S=10,W=12');
  for (const key of ['a b', 'x'.repeat(71), 'ç', '']) {
    const uid = uidForKey(key);
    assert.match(uid, /^[\x21-\x7e]{1,70}$/);
    assert.equal(uid, uidForKey(key), 'deterministic');
  }
  assert.notEqual(uidForKey('x'.repeat(71)), uidForKey('x'.repeat(72)));
});

void test('normalizeUser lower-cases the domain only', () => {
  assert.equal(normalizeUser('Suzana@DC.UECE.BR'), 'Suzana@dc.uece.br');
  assert.equal(normalizeUser('a"@"b@X.org'), 'a"@"b@x.org');
  assert.equal(normalizeUser('nodomain'), 'nodomain');
});

void test('MaildropLocks: one holder per user, no waiting', () => {
  const l = new MaildropLocks();
  assert.equal(l.tryAcquire('a@x'), true);
  assert.equal(l.tryAcquire('a@x'), false);
  assert.equal(l.tryAcquire('b@x'), true);
  l.release('a@x');
  assert.equal(l.isLocked('a@x'), false);
  assert.equal(l.tryAcquire('a@x'), true);
});
