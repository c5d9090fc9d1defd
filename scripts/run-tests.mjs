#!/usr/bin/env node
// Runs every compiled test (dist/**/*.test.js) with node's test runner.
// Usage: node scripts/run-tests.mjs [substring-filter...]
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    // only tests whose source still exists: tsc leaves the output of a deleted test in dist/,
    // and a working copy would go on running it (t-40 after its removal)
    else if (name.endsWith('.test.js') && existsSync(join(root, relative(join(root, 'dist'), p).replace(/\.js$/, '.ts')))) files.push(relative(root, p));
  }
}
for (const top of ['dist/src', 'dist/test']) {
  try { walk(join(root, top)); } catch { /* absent */ }
}
const chosen = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (chosen.length === 0) {
  console.error('no test files found under dist/: run `npm run build` first');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...chosen], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, CORREIO_TEST: '1' },
});
process.exit(res.status ?? 1);
