import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientCounts } from './client-counts.js';

void test('counts per address, and forgets an address whose connections all ended', () => {
  const c = new ClientCounts();
  assert.equal(c.add('192.0.2.1'), 1);
  assert.equal(c.add('192.0.2.1'), 2);
  assert.equal(c.add('2001:db8::1'), 1);
  c.remove('192.0.2.1');
  assert.equal(c.get('192.0.2.1'), 1);
  c.remove('192.0.2.1');
  c.remove('192.0.2.1'); // one too many never goes below zero
  assert.equal(c.get('192.0.2.1'), 0);
  assert.equal(c.add('192.0.2.1'), 1);
  assert.equal(c.get('2001:db8::1'), 1);
});
