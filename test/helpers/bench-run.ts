/**
 * Runs `npm run bench` (dist/bench/run-bench.js) with a small load for the bench smoke tests
 * (bench-smoke.test.ts, bench-signing-smoke.test.ts), and checks its results table.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { projectRoot } from './paths.js';
import { withTempDir } from './temp-dir.js';

export const MESSAGES = 50;
// the bench starts correio from dist/ (bin/correio.js) whichever way this test runs: built first
const bench = join(projectRoot, 'dist', 'bench', 'run-bench.js');

/** Runs the bench with env in a temp dir of its own; resolves with its exit code and output. */
export async function runBench(prefix: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  assert.ok(existsSync(bench), `${bench} is missing: run \`npm run build\` first`);
  return withTempDir(prefix, async (dir) => {
    // Dovecot's mail user (nobody, when run by root) must reach the folder the bench makes here
    await chmod(dir, 0o755);
    const child = spawn(process.execPath, [bench], {
      cwd: projectRoot,
      env: { ...process.env, TMPDIR: dir, BENCH_PEER: 'none', BENCH_SETTLE_MS: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, out };
  });
}

export const smallLoad = {
  BENCH_MESSAGES: String(MESSAGES), BENCH_SESSIONS: '5', BENCH_RUNS: '1', BENCH_LOAD: 'ts', BENCH_TIMEOUT_S: '120',
};

/** Every listed row completed its one run, and nothing failed. */
export function assertRows(out: string, rows: string[][], extra = ''): void {
  assert.match(out, new RegExp(`Results: ${MESSAGES} messages of 5120 octets, 5 sessions, 1 runs`));
  for (const [scenario, mta] of rows) {
    const row = out.split('\n').find((l) => l.startsWith(`| ${scenario} | ${mta} |`));
    assert.ok(row, `no ${scenario} row for ${mta}:\n${out}`);
    assert.match(row, new RegExp(`${extra}\\| \\d+ % \\| 1/1 \\|$`), `the ${scenario} run did not complete:\n${out}`);
  }
  assert.doesNotMatch(out, /FAILED/);
}

