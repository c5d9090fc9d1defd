/**
 * `npm run bench` still runs: a tiny load (50 messages) through every scenario, correio only,
 * with the TypeScript load generator and sink, so neither Postfix nor its tools are needed.
 * It asserts only that each run completed and that the bench's own counts checked out (the
 * bench fails a run when the spool, the sink or the Maildir does not hold N messages); rates
 * are printed, never asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from './helpers/paths.js';
import { withTempDir } from './helpers/temp-dir.js';

const MESSAGES = 50;

void test('npm run bench completes every scenario with a small load and counts every message', async () => {
  // the bench starts correio from dist/ (bin/correio.js) whichever way this test runs: built first
  const bench = join(projectRoot, 'dist', 'bench', 'run-bench.js');
  assert.ok(existsSync(bench), `${bench} is missing: run \`npm run build\` first`);
  await withTempDir('correio-bench-smoke-', async (dir) => {
    const child = spawn(process.execPath, [bench], {
      cwd: projectRoot,
      env: {
        ...process.env,
        TMPDIR: dir,
        BENCH_MESSAGES: String(MESSAGES),
        BENCH_SESSIONS: '5',
        BENCH_RUNS: '1',
        BENCH_PEER: 'none',
        BENCH_LOAD: 'ts',
        BENCH_SETTLE_MS: '0',
        BENCH_TIMEOUT_S: '120',
        BENCH_SCENARIOS: 'raw,accept,relay,maildir',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`Results: ${MESSAGES} messages of 5120 octets, 5 sessions, 1 runs`));
    for (const [scenario, mta] of [['raw', 'sink'], ['accept', 'correio'], ['relay', 'correio'], ['maildir', 'correio']]) {
      const row = out.split('\n').find((l) => l.startsWith(`| ${scenario} | ${mta} |`));
      assert.ok(row, `no ${scenario} row for ${mta}:\n${out}`);
      assert.match(row, /\| 1\/1 \|$/, `the ${scenario} run did not complete:\n${out}`);
    }
    assert.doesNotMatch(out, /FAILED/);
  });
});

void test('the jmap scenario completes on a small folder: JMAP page and search, and Dovecot when installed', async () => {
  const bench = join(projectRoot, 'dist', 'bench', 'run-bench.js');
  await withTempDir('correio-bench-jmap-', async (dir) => {
    // Dovecot's mail user (nobody, when run by root) must reach the folder the bench makes here
    await chmod(dir, 0o755);
    const child = spawn(process.execPath, [bench], {
      cwd: projectRoot,
      env: { ...process.env, TMPDIR: dir, BENCH_PEER: 'none', BENCH_SETTLE_MS: '0', BENCH_SCENARIOS: 'jmap', BENCH_JMAP_MESSAGES: '1000', BENCH_JMAP_ITER: '2' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    // the bench itself fails a round whose answer lacks the expected emails (50 on the page, 1 found)
    assert.equal(code, 0, out);
    const rows = [['page', 'correio JMAP'], ['search', 'correio JMAP'], ...(existsSync('/usr/lib/dovecot/imap') ? [['page', 'Dovecot IMAP'], ['search', 'Dovecot IMAP']] : [])];
    for (const [what, who] of rows) assert.match(out, new RegExp(`\\| ${what} \\| ${who} \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\|`), out);
  });
});
