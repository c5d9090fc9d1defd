/**
 * The bench's submission and signing scenarios (bench/signing-scenario.ts) still run: a small
 * STARTTLS + AUTH load into a Maildir, without and with DKIM signing, for correio, and for
 * Postfix (OpenDKIM signing) where it and OpenDKIM are installed and the test runs as root. The
 * bench fails a signing run unless dkimpy verifies a delivered message's signature, so a
 * completed row is a verified one. Rates are printed, never asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { assertRows, runBench, smallLoad } from './helpers/bench-run.js';

void test('the signing scenarios: correio, and Postfix with OpenDKIM where installed, signatures checked by dkimpy', async (t) => {
  if (spawnSync('/usr/bin/python3', ['-c', 'import dkim']).status !== 0) return t.skip('python3-dkim is not installed (apt-get install python3-dkim)');
  const postfix = ['/usr/sbin/postfix', '/usr/sbin/opendkim'].every((f) => existsSync(f)) && process.getuid?.() === 0;
  // a short prefix: Postfix's queue sockets are under it, and a UNIX socket path has at most 107 octets
  const { code, out } = await runBench('cb-sign-', { ...smallLoad, BENCH_SCENARIOS: 'submission,signing', BENCH_PEER: postfix ? 'auto' : 'none' });
  assert.equal(code, 0, out);
  assertRows(out, [['submission', 'correio'], ['signing', 'correio'], ...(postfix ? [['submission', 'postfix'], ['signing', 'postfix']] : [])]);
  assert.match(out, /signing on ÷ off \(correio, submission load\): accept \d/);
  if (postfix) assert.match(out, /signing on, correio ÷ Postfix: accept \d/);
});
