#!/bin/bash
# Counts the file system calls (strace: fsync, rename, link, unlink, utimensat) of one Maildir
# MULTIAPPEND (MaildirFolders.appendMany) of N small flagged messages into a folder, and of one
# COPY of those N messages into another, in a built TREE (its dist/): counts, not times, so
# independent of the machine's load. Compare two trees (an older commit in a worktree of its own).
#
#   scripts/count-batch-syscalls.sh TREE [N]
set -euo pipefail
tree=$(cd "$1" && pwd)
n=${2:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/run.mjs" <<'JS'
import { join } from 'node:path';
const [tree, dir, n] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const { MaildirFolders, MaildirStore } = await import(join(tree, 'dist/src/mailbox/index.js'));
const folders = new MaildirFolders(new MaildirStore(dir, { hostname: 'mx' }));
const user = 'a@b.c';
for (const f of ['T', 'U']) {
  await folders.createFolder(user, f);
  await folders.sync(user, f);
}
const msgs = Array.from({ length: n }, (_, i) => ({ message: Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`), flags: 'S' }));
process.stderr.write('MARK-A\n');
await folders.appendMany(user, 'T', msgs);
process.stderr.write('MARK-B\n');
const keys = [...(await folders.sync(user, 'T')).list].map((m) => m.key);
process.stderr.write('MARK-C\n');
await folders.copy(user, 'T', keys, 'U');
process.stderr.write('MARK-D\n');
JS
mkdir "$work/mail"
strace -f -qq -e trace=fsync,fdatasync,rename,renameat,renameat2,link,linkat,unlink,unlinkat,utimensat,write -o "$work/trace" \
  node "$work/run.mjs" "$tree" "$work/mail" "$n" 2>/dev/null
awk -v n="$n" '/MARK-A/ { p = "MULTIAPPEND" } /MARK-B/ { p = "" } /MARK-C/ { p = "COPY" } /MARK-D/ { p = "" }
  p != "" && match($0, /(fsync|fdatasync|rename[a-z0-9]*|link[a-z]*|unlink[a-z]*|utimensat)\(/, m) { c[p " " m[1]]++ }
  END { for (k in c) printf "%s of %d messages: %d\n", k, n, c[k] }' "$work/trace" | sort
