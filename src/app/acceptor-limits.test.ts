import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/index.js';
import { acceptorShare, shareOf } from './acceptor-limits.js';

void test('each acceptor enforces its share of the client-counting limits, rounded up; 0 (off) stays off', () => {
  assert.equal(shareOf(50, 1), 50);
  assert.equal(shareOf(50, 3), 17);
  assert.equal(shareOf(1, 4), 1, 'never below one');
  assert.equal(shareOf(0, 4), 0);
  const c = parseConfig('[smtp]\nmax_connections = 500\nmax_connections_per_ip = 20\n[abuse]\nrate_connections = 60\nrate_messages = 0\n', { file: 'correio.toml' });
  assert.equal(acceptorShare(c, 1), c, 'one acceptor (processes = 2): the configured limits, exact');
  const s = acceptorShare(c, 3);
  assert.deepEqual([s.smtp.maxConnections, s.smtp.maxConnectionsPerIp, s.abuse.rateConnections, s.abuse.rateMessages], [167, 7, 20, 0]);
  assert.equal(s.smtp.maxMessageSize, c.smtp.maxMessageSize, 'nothing else changes');
});
