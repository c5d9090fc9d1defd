/**
 * @module maildir-append-batch
 * All or none for a batch of messages appended to one Maildir folder (IMAP MULTIAPPEND, COPY),
 * also when the process dies half-way: a journal file names the batch before its first message
 * is written (into tmp/: maildir-folders #batch) and is removed once the last is in cur/ (the
 * commit); a journal left behind by a process that is gone means the batch never finished, and
 * its files are removed from tmp/, new/ and cur/.
 * Standards: RFC 3502 §6.3.11 (MULTIAPPEND: "all or none"); RFC 9051 §6.4.7 (COPY: the target
 *   as it was when COPY fails); the Maildir file conventions (files in tmp/, new/ and cur/ named
 *   after their unique key, which carries the batch id).
 * Security: the journal holds the owner's pid and host name; only a batch whose owner is a
 *   dead process of this machine is rolled back (a live one is still writing); file names
 *   come from the journal's batch id, checked to be [a-z0-9] only, and are matched as a
 *   prefix inside tmp/, new/ and cur/ of the same folder.
 * Limitations: the UIDs follow the arrival order the store sees (when the folder is listed, a
 *   message given an earlier INTERNALDATE gets a lower UID); the messages are renamed into cur/ one by one
 *   under the folder's lock, so correio's sessions see the batch whole, but another Maildir
 *   program listing cur/ during those renames (microseconds per message) may see part of it;
 *   the journals are looked for when a process makes the folder's lock file, not at each step
 *   of its lease (folder-lock), so a batch whose process dies while another holds the lease is
 *   rolled back at that holder's next lock file, within a second; a batch of a process on another
 *   machine sharing the Maildir is rolled back by that machine only.
 */
import { randomBytes } from 'node:crypto';
import { constants, readdirSync } from 'node:fs';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fsyncDir, pidAlive } from '../util/index.js';

const host = hostname();
const journalPrefix = 'correio-append-';

/**
 * The unique key of message `i` of a batch: its files' names start with it (it needs no
 * encoding); zero-padded, so that messages arriving in the same instant sort in batch order.
 */
export function batchKey(id: string, i: number): string {
  return `mappend-${id}-${String(i).padStart(6, '0')}`;
}

/**
 * Starts a batch in folder `dir`: its journal is on disk before anything else (the file synced,
 * then its name: `dir` synced after the rename, or a power loss could keep the batch's messages
 * and lose the journal that says they are not committed). `syncDir` is util's fsyncDir but in tests.
 */
export async function beginBatch(dir: string, syncDir: (dir: string) => Promise<void> = fsyncDir): Promise<string> {
  const id = randomBytes(8).toString('hex');
  // written under another name and renamed: a journal is never seen without its owner
  const tmp = join(dir, `${journalPrefix}${id}.new`);
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await fh.writeFile(`${process.pid} ${host}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, `${journalPrefix}${id}`));
  await syncDir(dir);
  return id;
}

/**
 * The commit: the batch's messages stay. The journal's removal is made durable (`dir` synced)
 * before the command is answered: a journal back after a power loss would roll back messages
 * already acknowledged.
 */
export async function commitBatch(dir: string, id: string, syncDir: (dir: string) => Promise<void> = fsyncDir): Promise<void> {
  await unlink(join(dir, `${journalPrefix}${id}`));
  await syncDir(dir);
}

/** Removes a batch's messages (from tmp/, where they are written, and new/ and cur/) and then its journal. */
export async function rollBackBatch(dir: string, id: string): Promise<void> {
  const prefix = `mappend-${id}-`;
  for (const sub of ['tmp', 'new', 'cur']) {
    for (const name of await readdir(join(dir, sub)).catch(() => [] as string[])) {
      if (name.startsWith(prefix)) await unlink(join(dir, sub, name)).catch(() => undefined);
    }
  }
  await unlink(join(dir, `${journalPrefix}${id}`)).catch(() => undefined);
}

/**
 * Rolls back the batches of `dir` whose owner died (kill -9 during a MULTIAPPEND); run under
 * the folder's lock, when its lock file was made, before its state is read.
 */
export async function recoverBatches(dir: string): Promise<void> {
  let names: string[];
  try {
    // synchronous: run when a lock file is made, on a directory of a few entries in the cache
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const id = name.startsWith(journalPrefix) ? name.slice(journalPrefix.length) : undefined;
    if (!id || !/^[a-z0-9]+$/.test(id)) continue;
    const owner = /^(\d+) (\S+)\n?$/.exec(await readFile(join(dir, name), 'utf8').catch(() => ''));
    const dead = owner !== null && owner[2] === host && Number(owner[1]) !== process.pid && !pidAlive(Number(owner[1]));
    if (dead) await rollBackBatch(dir, id);
  }
}
