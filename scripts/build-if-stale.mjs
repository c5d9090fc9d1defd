#!/usr/bin/env node
// `npm start`'s build step: runs `tsc` only when a source file (src/, test/, bench/), tsconfig.json
// or package-lock.json is newer than the last build (dist/.tsbuildinfo), and the webmail's Vite
// build only when a file of src/web/webmail-ui, vite.config.mjs or vite.shared.mjs is newer than
// dist/webmail/index.html (the admin console's likewise, src/web/ui, vite.admin.config.mjs and
// vite.shared.mjs against dist/ui/admin/console.js), so a start with nothing changed does not spend seconds building.
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const mtime = (p) => {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return undefined;
  }
};

function newestUnder(dir, pattern = /\.ts$/) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestUnder(p, pattern));
    else if (pattern.test(e.name)) newest = Math.max(newest, mtime(p) ?? 0);
  }
  return newest;
}

const run = (args) => spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });

// the webmail (src/web/webmail-ui: Preact, bundled by Vite into dist/webmail)
const webmailBuilt = mtime(join(root, 'dist', 'webmail', 'index.html'));
const webmailNewest = Math.max(newestUnder(join(root, 'src', 'web', 'webmail-ui'), /\.(tsx?|css|html|json)$/), mtime(join(root, 'vite.config.mjs')) ?? 0, mtime(join(root, 'vite.shared.mjs')) ?? 0);
if (webmailBuilt === undefined || webmailBuilt < webmailNewest) {
  process.stderr.write('correio: building the webmail (first start, or its sources changed)…\n');
  const vite = run([join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build']);
  if (vite.status !== 0) process.exit(vite.status ?? 1);
}

// the admin console (src/web/ui, bundled by Vite into dist/ui/admin/console.js)
const consoleBuilt = mtime(join(root, 'dist', 'ui', 'admin', 'console.js'));
const consoleNewest = Math.max(newestUnder(join(root, 'src', 'web', 'ui')), mtime(join(root, 'vite.admin.config.mjs')) ?? 0, mtime(join(root, 'vite.shared.mjs')) ?? 0);
if (consoleBuilt === undefined || consoleBuilt < consoleNewest) {
  process.stderr.write('correio: building the admin console (first start, or its sources changed)…\n');
  const vite = run([join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '-c', join(root, 'vite.admin.config.mjs')]);
  if (vite.status !== 0) process.exit(vite.status ?? 1);
}

const built = mtime(join(root, 'dist', '.tsbuildinfo'));
const newest = Math.max(
  ...['src', 'test', 'bench'].map((d) => newestUnder(join(root, d))),
  mtime(join(root, 'tsconfig.json')) ?? 0,
  mtime(join(root, 'package-lock.json')) ?? 0,
);
if (built !== undefined && built >= newest) process.exit(0);
process.stderr.write('correio: compiling the server (first start, or a source changed): this takes a minute…\n');
// the server, then a type check of the console's browser code (its own tsconfig with the DOM library)
const tscOf = (project, ...more) => spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, project), ...more], { stdio: 'inherit' });
let tsc = tscOf('tsconfig.json');
if (tsc.status === 0) tsc = tscOf('src/web/ui/tsconfig.json', '--noEmit');
// tsc leaves its build info untouched when nothing it emits changed: mark the check as done
if (tsc.status === 0) utimesSync(join(root, 'dist', '.tsbuildinfo'), new Date(), new Date());
process.exit(tsc.status ?? 1);
