/**
 * Issue 12 item 4 at the transports: the identity a pipe or file target of an include file
 * carries in its route (core targetRoute writes it, the transports read it back), and the rule
 * that nothing runs as root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { targetRoute } from '../core/index.js';
import { parseFileRoute } from './file-transport.js';
import { parsePipeRoute, runAsUser } from './pipe-transport.js';

void test('pipe and file routes: plain (aliases) and with an identity (include files) round-trip', () => {
  const plainPipe = targetRoute({ kind: 'pipe', command: ['/usr/bin/robot', '-v'] });
  assert.deepEqual(parsePipeRoute(plainPipe.nextHop), { command: ['/usr/bin/robot', '-v'] });
  const asUser = targetRoute({ kind: 'pipe', command: ['/usr/bin/robot'], runAs: { uid: 1000, gid: 1001 } });
  assert.deepEqual(parsePipeRoute(asUser.nextHop), { command: ['/usr/bin/robot'], runAs: { uid: 1000, gid: 1001 } });
  assert.deepEqual(parsePipeRoute(asUser.nextHop)?.command, ['/usr/bin/robot']);

  assert.deepEqual(parseFileRoute(targetRoute({ kind: 'file', path: '/var/mail/archive' }).nextHop), { path: '/var/mail/archive' });
  const file = targetRoute({ kind: 'file', path: '/var/mail/archive', runAs: { uid: 65534, gid: 65534 } });
  assert.deepEqual(parseFileRoute(file.nextHop), { path: '/var/mail/archive', runAs: { uid: 65534, gid: 65534 } });
});

void test('bad routes are refused: relative paths, missing or negative ids, empty commands', () => {
  for (const hop of ['relative/path', '{"path":"x","uid":1,"gid":1}', '{"path":"/x","uid":-1,"gid":1}', '{"path":"/x"}', '{not json']) {
    assert.equal(parseFileRoute(hop), undefined, hop);
  }
  for (const hop of ['[]', '[""]', '{"command":["/bin/x"],"uid":1}', '{"command":[],"uid":1,"gid":1}', '"x"']) {
    assert.equal(parsePipeRoute(hop), undefined, hop);
  }
});

void test('runAsUser: the route\'s identity, never uid 0 (the unprivileged default instead)', () => {
  const fallback = { uid: 65534, gid: 65534 };
  assert.deepEqual(runAsUser({ uid: 1000, gid: 1001 }, fallback), { uid: 1000, gid: 1001 });
  assert.deepEqual(runAsUser({ uid: 0, gid: 0 }, fallback), fallback);
  assert.deepEqual(runAsUser(undefined, fallback), fallback);
});
