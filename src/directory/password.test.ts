import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, parsePasswordHash, verifyPassword } from './password.js';

void test('hashPassword writes $scrypt$N=16384,r=8,p=1$salt$hash and verifies', async () => {
  const h = await hashPassword('correct horse battery staple');
  assert.match(h, /^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.equal(await verifyPassword('correct horse battery staple', h), true);
  assert.equal(await verifyPassword('correct horse battery stapler', h), false);
  assert.equal(await verifyPassword('', h), false);
});

void test('salts differ: the same password hashes differently each time', async () => {
  const [a, b] = await Promise.all([hashPassword('pw'), hashPassword('pw')]);
  assert.notEqual(a, b);
  assert.equal(await verifyPassword('pw', b), true);
});

void test('Unicode passwords are compared in NFC', async () => {
  const h = await hashPassword('s\u00e9nha', { N: 1024, r: 8, p: 1 });
  assert.equal(await verifyPassword('se\u0301nha', h), true);
});

void test('foreign, malformed and out-of-bounds hashes never verify', async () => {
  const good = await hashPassword('pw', { N: 1024, r: 8, p: 1 });
  const table = [
    '',
    'pw',
    '$1$abc$def',
    '$2b$10$abcdefghijklmnopqrstuv',
    good.replace('N=1024', 'N=1000'), // not a power of two
    good.replace('N=1024', 'N=16777216'), // too costly
    good.replace('r=8', 'r=0'),
    good.replace(/\$[^$]+$/, '$AAAA'), // key too short
    `${good}$extra`,
  ];
  for (const h of table) {
    assert.equal(parsePasswordHash(h) === undefined, true, h);
    assert.equal(await verifyPassword('pw', h), false, h);
  }
  assert.ok(parsePasswordHash(good));
});
