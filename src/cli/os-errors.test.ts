import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/index.js';
import { AcceptorStartError } from '../app/index.js';
import { MailError, replies } from '../core/index.js';
import { describeOsError } from './os-errors.js';

// conditions a test cannot cause with real processes without root's mounts (a full or
// read-only file system): the same describer is fed the errors node and SQLite raise
const config = parseConfig('data_dir = "/srv/correio"\n[smtp]\nlisten = ["127.0.0.1:25"]\nsubmission = ["[::1]:587"]\n', { file: 'correio.toml' });

function sysError(code: string, props: Record<string, unknown>): Error {
  return Object.assign(new Error(`${code}: something`), { code, ...props });
}

void test('a full file system under the data directory: 75 with the path and the fix', () => {
  const p = describeOsError(sysError('ENOSPC', { syscall: 'write', path: '/srv/correio/spool/tmp/x' }), config);
  assert.deepEqual(p, {
    message:
      'data_dir: no space left on the device of /srv/correio/spool/tmp/x (in the data directory /srv/correio): free some space there (or move data_dir to a larger file system) and try again',
    exitCode: 75,
  });
});

void test('a read-only file system: 78 and ReadWritePaths', () => {
  const p = describeOsError(sysError('EROFS', { syscall: 'mkdir', path: '/srv/correio' }), config);
  assert.equal(p?.exitCode, 78);
  assert.match(p?.message ?? '', /^data_dir: \/srv\/correio \(the data directory\) is on a read-only file system: .*ReadWritePaths=\)$/);
});

void test('a read-only database inside a directory failure: 77, not "directory unavailable"', () => {
  const sqlite = Object.assign(new Error('attempt to write a readonly database'), { code: 'SQLITE_READONLY' });
  const p = describeOsError(new MailError(replies.localError(), 'MAIL_ERR_DIRECTORY', { cause: sqlite }), config);
  assert.equal(p?.exitCode, 77);
  assert.match(p?.message ?? '', /^data_dir: the database \/srv\/correio\/directory\.sqlite is read-only for user \S+: /);
});

void test('a listen error names the key of the address that failed, IPv6 in brackets', () => {
  const p = describeOsError(sysError('EADDRINUSE', { syscall: 'listen', address: '::1', port: 587 }), config);
  assert.equal(p?.message, 'smtp.submission: [::1]:587 is already in use by another program: stop it (ss -ltnp shows which) or set smtp.submission to another port');
  assert.equal(p?.exitCode, 69);
});

void test('errors that are not OS conditions are left alone', () => {
  assert.equal(describeOsError(new Error('boom'), config), undefined);
  assert.equal(describeOsError(sysError('EEXIST', { syscall: 'open', path: '/x' }), config), undefined);
});

void test('a configured certificate that is missing or unreadable names its key', () => {
  const withTls = parseConfig('data_dir = "/srv/correio"\n[smtp]\ntls_cert = "/etc/correio/cert.pem"\ntls_key = "/etc/correio/key.pem"\n', { file: 'correio.toml' });
  assert.deepEqual(describeOsError(sysError('ENOENT', { syscall: 'open', path: '/etc/correio/cert.pem' }), withTls), {
    message: 'smtp.tls_cert: /etc/correio/cert.pem does not exist: correct the path, or remove smtp.tls_cert to use a generated certificate',
    exitCode: 78,
  });
  const denied = describeOsError(sysError('EACCES', { syscall: 'open', path: '/etc/correio/key.pem' }), withTls);
  assert.equal(denied?.exitCode, 77);
  assert.match(denied?.message ?? '', /^smtp\.tls_key: \/etc\/correio\/key\.pem is not readable by user \S+: /);
});

void test('an acceptor process that found its port taken at its listen: the line and status of a bind that failed', () => {
  const err = new AcceptorStartError('the SMTP acceptor process (pid 7) ended before it accepted a connection: listen EADDRINUSE: address already in use', {
    code: 'EADDRINUSE',
    syscall: 'listen',
    address: '127.0.0.1',
    port: 25,
  });
  assert.deepEqual(describeOsError(err, config), {
    message: 'smtp.listen: 127.0.0.1:25 is already in use by another program: stop it (ss -ltnp shows which) or set smtp.listen to another port',
    exitCode: 69,
  });
  // without an OS condition under it, it is its own line (70)
  assert.equal(describeOsError(new AcceptorStartError('made to fail'), config), undefined);
});
