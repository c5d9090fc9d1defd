/**
 * @module bench-fs
 * Where a bench run writes: the file system under its work directory, described in the run's
 * header, and, with BENCH_FS=ext4, a fresh ext4 with a journal made for the run on a loop device.
 * Why: on this project's machines the root file system is ext4 without a journal, and ext4
 * without a journal will not reuse an inode freed in the last 60 s (360 s while its inode table
 * block is dirty): every file created near files just removed pays a scan past them (up to
 * ~0.5-0.8 ms per create measured in /tmp after a 100,000-message run was removed: docs/
 * performance.md, "Session 14: Maildir delivery and ext4's recently deleted inodes"). A run
 * then measures which MTA's files land next to the last run's removals, not the MTA. A mail
 * server's spool is on a journaled file system, where that scan does not happen; a file system
 * made for the run holds nobody else's removals either.
 * BENCH_FS_SIZE (default 16G, sparse) sizes the image; it is made with one inode per 8 KiB (2
 * million: a 100,000-message IMAP run keeps ~250,000 files), its inode tables and journal
 * written by mkfs rather than by the kernel in the background after the mount.
 * Standards: none.
 * Security: root only (mount); the image (/var/tmp/correio-bench-fs-PID.img) is removed and the
 *   mount undone on every exit path the caller's cleanup takes (BENCH_KEEP=1 keeps both).
 * Limitations: Linux only (losetup through mount -o loop, mkfs.ext4 from e2fsprogs); a killed
 *   bench leaves its mount and image behind (`umount` and `rm` them by the path printed).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The file system that holds `dir`: type, device, and for ext4 whether it has a journal. */
export function describeFs(dir: string): string {
  let source = '?';
  let type = '?';
  try {
    [type, source] = execFileSync('findmnt', ['-n', '-o', 'FSTYPE,SOURCE', '-T', dir], { encoding: 'utf8' }).trim().split(/\s+/);
  } catch {
    return 'file system unknown (findmnt failed)';
  }
  if (type !== 'ext4') return `${type} on ${source}`;
  // jbd2 names each journal "<device>-<journal inode>" under /proc/fs/jbd2
  const dev = path.basename(source);
  let journaled: boolean;
  try {
    journaled = fs.readdirSync('/proc/fs/jbd2').some((j) => j.startsWith(`${dev}-`));
  } catch {
    journaled = false; // no jbd2 at all
  }
  return `ext4 on ${source}, ${journaled ? 'with a journal' : 'without a journal (inodes freed in the last 60 s are not reused, so file-heavy rows vary with earlier removals: BENCH_FS=ext4, as root, runs on a fresh journaled ext4; see bench/bench-fs.ts)'}`;
}

/** A file system made for one run: where to write, and how to take it away. */
export interface RunFs {
  readonly root: string;
  remove(): void;
}

/** BENCH_FS=ext4: a fresh journaled ext4 on a loop device, mounted under os.tmpdir(). */
export function makeRunFs(kind: string, size = process.env.BENCH_FS_SIZE ?? '16G'): RunFs {
  if (kind !== 'ext4') throw new Error(`BENCH_FS: "${kind}" is not a file system the bench makes (ext4, or unset for os.tmpdir())`);
  if (process.getuid?.() !== 0) throw new Error('BENCH_FS=ext4: mounting a loop device needs root; run the bench as root, or unset BENCH_FS');
  const image = path.join('/var/tmp', `correio-bench-fs-${process.pid}.img`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'correio-bench-fs-'));
  const run = (cmd: string, args: string[]): void => {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  let mounted = false;
  // at once, else (busy: a child still running) lazily, so the image can go
  const unmount = (): boolean =>
    [[root], ['-l', root]].some((args) => {
      try {
        run('umount', args);
        return true;
      } catch {
        return false;
      }
    });
  const remove = (): void => {
    // a mount that will not go is left for the operator: its path is in the header
    if (mounted && !unmount()) return;
    mounted = false;
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(image, { force: true });
  };
  try {
    run('truncate', ['-s', size, image]);
    // inode tables and journal written now: by default mkfs leaves them to the kernel's
    // ext4lazyinit thread, which zeroes them in the background for minutes after the mount,
    // writing beside whichever MTA runs first
    run('mkfs.ext4', ['-q', '-F', '-i', '8192', '-E', 'lazy_itable_init=0,lazy_journal_init=0', image]);
    run('mount', ['-o', 'loop', image, root]);
    mounted = true;
    fs.chmodSync(root, 0o755);
  } catch (e) {
    remove();
    const err = e as Error & { stderr?: Buffer };
    throw new Error(`BENCH_FS=ext4: could not make the run's file system (${image} on ${root}): ${err.stderr?.toString().trim() || err.message}`);
  }
  return { root, remove };
}
