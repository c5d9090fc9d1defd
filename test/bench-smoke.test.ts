/**
 * `npm run bench` still runs: a tiny load (50 messages) through every scenario, correio only,
 * with the TypeScript load generator and sink, so neither Postfix nor its tools are needed.
 * It asserts only that each run completed and that the bench's own counts checked out (the
 * bench fails a run when the spool, the sink or the Maildir does not hold N messages); rates
 * are printed, never asserted. The same on the PostgreSQL backend (1 and 2 nodes) when a
 * server answers: there the bench counts queue_messages and mail_messages instead. The checks
 * scenario (SPF, DKIM, DMARC) runs for correio, and for Postfix with policyd-spf, OpenDKIM and
 * OpenDMARC where they and Postfix are installed and the test runs as root (the signing
 * scenarios: bench-signing-smoke.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { assertRows, runBench, smallLoad } from './helpers/bench-run.js';
import { adminUrl, pgUnavailable } from './helpers/pg.js';

void test('npm run bench completes every scenario with a small load and counts every message', async () => {
  const { code, out } = await runBench('correio-bench-smoke-', { ...smallLoad, BENCH_SCENARIOS: 'raw,accept,relay,maildir' });
  assert.equal(code, 0, out);
  assertRows(out, [['raw', 'sink'], ['accept', 'correio'], ['relay', 'correio'], ['maildir', 'correio']]);
});

void test('the checks scenario: correio, and Postfix with its check daemons where installed, each against its maildir run', async (t) => {
  const daemons = ['/usr/sbin/postfix', '/usr/sbin/opendkim', '/usr/sbin/opendmarc', '/usr/bin/policyd-spf'].every((f) => existsSync(f));
  const postfix = daemons && process.getuid?.() === 0;
  const { code, out } = await runBench('correio-bench-checks-', { ...smallLoad, BENCH_SCENARIOS: 'maildir,checks', BENCH_PEER: postfix ? 'auto' : 'none' });
  // The peer's own transient answer: Postfix with OpenDKIM and OpenDMARC answered 451 4.7.1 to
  // 1–29 messages in about one run of four here (session 19). It is OpenDKIM's tempfail when its
  // per-message VBR resolver setup fails (docs/performance.md, Method, "Getting the peers").
  // That run is reported FAILED with the reason, and only that one is let pass here.
  const peerTempfail = /^run 1\/1 checks postfix: FAILED: \d+ of \d+ messages failed: (end of data: expected 250, got "451 4\.7\.1 [^"]*"( \/ )?)+$/m;
  const failed = out.split('\n').filter((l) => l.includes('FAILED'));
  const peerOnly = postfix && code !== 0 && failed.length === 1 && peerTempfail.test(out);
  if (peerOnly) t.diagnostic(`Postfix's checks row failed with its milters' tempfail, reported by the bench: ${failed[0]}`);
  else assert.equal(code, 0, out);
  const rows = [['maildir', 'correio'], ['checks', 'correio'], ...(postfix ? [['maildir', 'postfix'], ...(peerOnly ? [] : [['checks', 'postfix']])] : [])];
  assertRows(peerOnly ? out.replace(peerTempfail, '') : out, rows);
  assert.match(out, /checks on ÷ off \(correio, maildir load\): accept \d/);
  if (postfix && !peerOnly) assert.match(out, /checks on, correio ÷ Postfix: accept \d/);
});

void test('BENCH_STORAGE=postgres,postgres2 runs accept, relay and maildir on PostgreSQL with 1 and 2 nodes and counts its CPU', async (t) => {
  const why = await pgUnavailable();
  if (why) return t.skip(why);
  const { code, out } = await runBench('correio-bench-pg-', {
    ...smallLoad, BENCH_SCENARIOS: 'accept,relay,maildir', BENCH_STORAGE: 'postgres,postgres2', BENCH_PG_URL: adminUrl,
  });
  assert.equal(code, 0, out);
  const rows = ['accept', 'relay', 'maildir'].flatMap((s) => [[s, 'correio-pg'], [s, 'correio-pg2']]);
  // the PostgreSQL CPU column holds a figure, not "–"
  assertRows(out, rows, '\\| [\\d.]+ \\| [\\d.]+ ');
  assert.doesNotMatch(out, /\| correio \|/, 'files backend rows were run although BENCH_STORAGE did not ask for them');
});

void test('BENCH_STORAGE with an unknown backend is refused, naming it and the choices', async () => {
  const { code, out } = await runBench('correio-bench-bad-', { ...smallLoad, BENCH_SCENARIOS: 'accept', BENCH_STORAGE: 'mysql' });
  assert.equal(code, 1, out);
  assert.match(out, /BENCH_STORAGE: unknown backend "mysql" \(use files, postgres, postgres2/);
});

void test('the jmap scenario completes on a small folder: JMAP page and search, and Dovecot when installed', async () => {
  const { code, out } = await runBench('correio-bench-jmap-', { BENCH_SCENARIOS: 'jmap', BENCH_JMAP_MESSAGES: '1000', BENCH_JMAP_ITER: '2' });
  // the bench itself fails a round whose answer lacks the expected emails (50 on the page, 1 found)
  assert.equal(code, 0, out);
  const rows = [['page', 'correio JMAP'], ['search', 'correio JMAP'], ...(existsSync('/usr/lib/dovecot/imap') ? [['page', 'Dovecot IMAP'], ['search', 'Dovecot IMAP']] : [])];
  for (const [what, who] of rows) assert.match(out, new RegExp(`\\| ${what} \\| ${who} \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\|`), out);
});

void test('the imap scenario completes on a small folder: SELECT, FETCH, SEARCH, APPEND into a new folder and into the big INBOX (taken out again), FETCH after a restart, the mixed load and memory per session on correio and Dovecot when installed, and IDLE sessions see a delivery', async () => {
  const { code, out } = await runBench('correio-bench-imap-', {
    BENCH_SCENARIOS: 'imap', BENCH_IMAP_MESSAGES: '1000', BENCH_IMAP_ITER: '1', BENCH_IMAP_APPENDS: '20',
    BENCH_IMAP_CLIENTS: '3', BENCH_IMAP_MIXED_S: '2', BENCH_IMAP_RSS_CONNS: '5', BENCH_IMAP_IDLE: '20', BENCH_IMAP_IDLE_USERS: '4',
  });
  // the bench itself fails a round whose answer is short (EXISTS, FETCH count, SEARCH hits)
  assert.equal(code, 0, out);
  const who = ['correio', ...(existsSync('/usr/lib/dovecot/imap') ? ['Dovecot'] : [])];
  for (const what of ['select', 'fetch', 'search', 'append', 'append to the big INBOX', 'fetch after restart']) for (const w of who) assert.match(out, new RegExp(`\\| ${what} \\| ${w} \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\|`), out);
  for (const w of who) {
    assert.match(out, new RegExp(`\\| mixed \\(3 clients, \\d+ s\\) \\| ${w} \\| [1-9]\\d* \\| [\\d.]+ \\| [\\d.]+ \\|`), out);
    assert.match(out, new RegExp(`  ${w}: -?\\d+ KB RSS`), out);
  }
  // the cost of a create in each server's APPEND folder is shown before its APPENDs (bench-fs.ts)
  for (const w of who) assert.match(out, new RegExp(`creating a file in ${w}'s Bench/tmp/ before its APPENDs: \\d+ µs`), out);
  // every IDLE session saw the delivery to its user
  assert.match(out, /IMAP IDLE: 20 of 20 sessions in IDLE on 4 users' INBOXes; .*: 20 of 20 sessions saw its EXISTS/, out);
});

void test('BENCH_FS=ext4 runs on a fresh journaled ext4 made for the run, and takes it away after; an unknown BENCH_FS is refused', async (t) => {
  const bad = await runBench('correio-bench-fs-bad-', { ...smallLoad, BENCH_SCENARIOS: 'raw', BENCH_FS: 'zfs' });
  assert.equal(bad.code, 1, bad.out);
  assert.match(bad.out, /BENCH_FS: "zfs" is not a file system the bench makes \(ext4, or unset/);
  const tools = ['/usr/sbin/mkfs.ext4', '/dev/loop-control'].every((f) => existsSync(f));
  if (process.getuid?.() !== 0 || !tools) return t.skip('needs root, mkfs.ext4 and loop devices');
  const { code, out } = await runBench('correio-bench-fs-', { ...smallLoad, BENCH_SCENARIOS: 'raw', BENCH_FS: 'ext4' });
  assert.equal(code, 0, out);
  const m = /work directory: (\S+)\/correio-bench\/run-\w+, ext4 on \/dev\/loop\d+, with a journal \(made for this run: BENCH_FS\)/.exec(out);
  assert.ok(m, out);
  assertRows(out, [['raw', 'sink']]);
  assert.equal(existsSync(m[1]), false, `the run's mount point ${m[1]} is gone`);
  const mounts = readFileSync('/proc/mounts', 'utf8');
  assert.doesNotMatch(mounts, new RegExp(m[1].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'nothing is left mounted there');
});
