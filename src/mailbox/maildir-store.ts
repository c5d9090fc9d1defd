/**
 * @module maildir-store
 * Local mailboxes in Maildir format under `<data_dir>/mail`: the mailbox of "local@domain" is
 * `mail/<domain>/<local>/` with tmp/, new/ and cur/; other folders are Maildir++ `.Name/`.
 *
 * File names (maildir-name): `<key>.<host>,S=<stored size>,W=<CRLF size>` in new/, plus `:2,<flags>` once in
 * cur/. The name is deterministic (the delivery's uniqueKey and the content's sizes), which
 * makes redelivery idempotent in O(1): the file is linked from tmp/ into new/ with link(),
 * which never overwrites, so EEXIST means "already delivered"; cur/ is checked with a stat of
 * the same name with the info ":2," and ":2,S" (read, the usual state after POP3/IMAP). A key
 * that cannot have been delivered before (`freshKey`: a queued envelope's first try) names no
 * file anywhere, so its file is moved with one rename() instead of link() and unlink(), as
 * Dovecot moves its unique names (issue 19).
 * The arrival time is the file's mtime (its write time; set from an injected clock), as Dovecot
 * reads it; files named `<seconds>.…` (other delivery agents, older correio) keep the time
 * of their name. Files are stored with LF line ends (the Unix Maildir convention) and read
 * back with CRLF (maildir-line-ends); W= records the CRLF size so listing needs no reading.
 * A batch (MULTIAPPEND, COPY: maildir-folders) is written with stage() into tmp/ only and
 * renamed into cur/ with publish(), all together under the folder's lock; an IMAP APPEND is
 * staged unsynced and renamed with place() once its UID is logged and its file flushed
 * (maildir-staged-append).
 * Standards: the Maildir spec (cr.yp.to/proto/maildir.html: tmp → new by link, unique names,
 *   info ":2,FLAGS" with flags in ASCII order); Maildir++ folders and S=/W= (Courier, Dovecot);
 *   RFC 1939 §11 / RFC 3501 §2.3.4 (sizes counted with CRLF).
 * Security: a user address and a folder name are validated before they become paths: no "/",
 *   "\", NUL, control characters, "." or ".." components, no leading dot. Files are 0600.
 *   Symbolic links are never followed (issue 12 item 9): every directory from the store's root
 *   down to tmp/, new/ and cur/ is checked with lstat (maildir-safe-dir) on each delivery and
 *   each read, walked whole the first time and then by the device and inode of its last levels
 *   (a link or a non-directory there refuses the operation: MAIL_ERR_UNSAFE_MAILBOX, 451 4.3.0, so a
 *   delivery is deferred with the reason), message files are opened with O_NOFOLLOW, and list()
 *   (maildir-listing) shows only regular files, so a link in new/ or cur/ is neither listed
 *   nor served.
 * Limitations: redelivery of a key is not detected (stored twice) when the first copy has
 *   been moved to cur/ with flags other than none or "S", or was renamed new/ → cur/ by a
 *   reader in the instant between our stat of cur/ and our link() into new/, or when the
 *   content differs (other sizes); a removed message is stored again. The body is written to
 *   tmp/ before the duplicate check. The costs of list() are maildir-listing's (a stat per
 *   message the first time for its arrival time; a foreign file without W= read to size it).
 *   Usage for quotas is kept in Maildir++ `maildirsize` (maildir-size.ts). The lstat walk and the open are
 *   separate steps (Node has no openat): someone who can write inside a mailbox's directories
 *   could swap a directory for a link between the two; the directories are
 *   created 0700 for the server's user, which keeps others out of them.
 */
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { linkSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { lstat, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pid } from 'node:process';
import { Readable } from 'node:stream';
import type { MailboxMessage, MailboxStore, QuotaLimit, QuotaUsage } from '../core/index.js';
import { DirSyncer } from '../util/index.js';
import { CrlfToLfCounter, LfToCrlf, READ_NOFOLLOW } from './maildir-line-ends.js';
import { MaildirJournal, type JournalPlace } from './maildir-journal.js';
import { curName, encodeHost, encodeUniqueKey, errno, folderDir, mailboxParts, normFlags, parseName } from './maildir-name.js';
import { MaildirListing } from './maildir-listing.js';
import { SafeDirs } from './maildir-safe-dir.js';
import { MaildirSize, storedSizeOf } from './maildir-size.js';
import { readUpTo, SMALL_MESSAGE, writeSmall, writeStreamed, type Staged } from './maildir-write.js';

export { encodeUniqueKey, mailboxParts } from './maildir-name.js';

export interface MaildirStoreOptions {
  /** the host part of unique names (default: this machine's name) */
  hostname?: string;
  /** ms since epoch (tests) */
  now?: () => number;
}

/** A Maildir's own directories, checked with it before a delivery or a read. */
const maildirSubs: readonly string[] = ['tmp', 'new', 'cur'];

function notFound(key: string): Error {
  return Object.assign(new Error(`no such message: ${key}`), { code: 'ENOENT' });
}

export class MaildirStore implements MailboxStore {
  readonly root: string;
  readonly #host: string;
  readonly #now: (() => number) | undefined;
  readonly #syncer = new DirSyncer();
  readonly #size: MaildirSize;
  readonly #dirs: SafeDirs;
  /**
   * Temporary names: the process id, a tag random per store and a counter (Maildir spec: unique
   * among this host's writers; the tag keeps a file left in tmp/ by a crashed process of the
   * same pid from clashing), instead of random octets drawn for each delivery.
   */
  readonly #tmpTag = randomBytes(4).toString('hex');
  #tmpCount = 0;
  /** what new/ and cur/ hold, each folder's last listing remembered (maildir-listing) */
  readonly #listing: MaildirListing;
  /**
   * What this store did to folders' new/ and cur/ (maildir-journal): a folder's state takes it
   * in rather than listing the folder again. Each such change is one synchronous system call
   * (link, rename, unlink) between two stamps of the folder.
   */
  readonly journal = new MaildirJournal();

  /** `root` is `<data_dir>/mail`. */
  constructor(root: string, opts: MaildirStoreOptions = {}) {
    this.root = root;
    this.#dirs = new SafeDirs(root);
    this.#listing = new MaildirListing(this.#dirs);
    this.#host = encodeHost(opts.hostname ?? osHostname());
    this.#now = opts.now;
    this.#size = new MaildirSize(opts.now ? { now: opts.now } : {});
  }

  /** The user's usage, all folders together, from `maildirsize` (maildir-size.ts). */
  async usage(user: string, limit?: QuotaLimit): Promise<QuotaUsage> {
    const root = await this.checkedDir(user, '', true);
    return this.#size.usage(root!, limit);
  }

  /** Forgets the recorded usage (a whole folder was removed): counted again at the next look. */
  forgetUsage(user: string): Promise<void> {
    return this.#size.forget(this.mailboxPath(user, ''));
  }

  /** Forgets the directory checks of this turn (a folder was renamed or removed: maildir-safe-dir). */
  forgetDirChecks(): void {
    this.#dirs.forgetTurn();
  }

  /** The Maildir directory of a user's folder ("" = INBOX); throws 550 5.1.1 for a bad name. */
  mailboxPath(user: string, folder?: string): string {
    const { local, domain } = mailboxParts(user);
    return join(this.root, domain, local, folderDir(folder));
  }

  /** The lstat walk (maildir-safe-dir) from this store's root down to `dir`, shortened once walked. */
  #safeDir(dir: string, create: boolean, subs: readonly string[] = []): Promise<boolean> {
    return this.#dirs.check(dir, create, subs);
  }

  /**
   * The directory of a user's folder after the same lstat walk every operation makes (no link,
   * nothing but directories); tmp/, new/ and cur/ made when `create`. undefined when missing.
   */
  async checkedDir(user: string, folder: string | undefined, create: boolean): Promise<string | undefined> {
    // known (this turn, or its last levels unchanged): no walk, no await (SafeDirs.checked)
    const known = this.checkedDirNow(user, folder);
    if (known !== undefined) return known;
    const dir = this.mailboxPath(user, folder);
    if (create) await this.#ensure(dir);
    else if (!(await this.#safeDir(dir, false, maildirSubs))) return undefined;
    return dir;
  }

  /**
   * checkedDir's answer without a promise when the folder's directories are known (SafeDirs.checked:
   * found whole in this turn, or their last levels still the same); undefined when only
   * checkedDir's walk can tell (the folder may still exist).
   */
  checkedDirNow(user: string, folder: string | undefined): string | undefined {
    const dir = this.mailboxPath(user, folder);
    return this.#dirs.checked(dir, maildirSubs) ? dir : undefined;
  }

  /** Makes (or checks) a Maildir's tmp/, new/ and cur/ before a delivery. */
  async #ensure(dir: string): Promise<void> {
    await this.#safeDir(dir, true, maildirSubs);
  }

  /** Whether `key` was already moved to cur/ unflagged or flagged only "S" (seen). */
  #inCur(dir: string, key: string): boolean {
    // synchronous for the reason #safeDir gives: both names are usually absent (no exception made)
    for (const info of [':2,', ':2,S']) {
      if (statSync(join(dir, 'cur', key + info), { throwIfNoEntry: false }) !== undefined) return true;
    }
    return false;
  }

  /**
   * Writes a message (tmp/, fsync, link or rename, fsync of the directory): a small one (SMALL_MESSAGE)
   * read whole and written with synchronous calls but for the fsyncs, a larger one streamed;
   * link, rename and unlink are synchronous (metadata in the page cache); it goes into new/ (an
   * IMAP APPEND goes into cur/ by stage and place: maildir-staged-append). `freshKey`: `uniqueKey` was
   * just made (uniqueId), or is a queued envelope's first try (DeliveryRequest.neverTried), and
   * cannot have been delivered before: cur/ is not looked at, and rename() (no EEXIST) moves it.
   */
  async deliver(
    user: string,
    message: Readable | Buffer,
    opts: { uniqueKey: string; folder?: string; freshKey?: boolean },
  ): Promise<{ key: string }> {
    const dir = this.mailboxPath(user, opts.folder);
    const field = encodeUniqueKey(opts.uniqueKey);
    if (!this.#dirs.checked(dir, maildirSubs)) await this.#ensure(dir);
    const target = `${dir}/new`;
    let tmp: string | undefined;
    let busy = false;
    try {
      // a small write will link into `target` within one file fsync: the directory's fsync
      // asked for meanwhile waits for it (dir-syncer), one fsync of new/ for a burst
      const w = await this.#writeTmp(dir, message, field, {
        small: () => {
          this.#syncer.enter(target);
          busy = true;
        },
      });
      tmp = w.tmp;
      const key = w.key;
      let linked = false;
      const at: JournalPlace = { sub: 'new', name: key };
      const dest = `${target}/${at.name}`;
      if (opts.freshKey) {
        // a fresh key's name exists nowhere: rename() cannot overwrite, and is one call where
        // link() and unlink() are two (as Dovecot moves its unique names, maildir-save.c)
        this.#change(dir, key, at, () => renameSync(w.tmp, dest));
        linked = true;
      } else {
        if (!this.#inCur(dir, key)) {
          try {
            // Maildir spec: link() into new/ never overwrites; EEXIST = already delivered
            this.#change(dir, key, at, () => linkSync(w.tmp, dest));
            linked = true;
          } catch (err) {
            if (errno(err) !== 'EEXIST') throw err;
          }
        }
        unlinkSync(w.tmp);
      }
      tmp = undefined;
      if (busy) {
        busy = false;
        this.#syncer.leave(target);
      }
      if (linked) {
        await this.#syncer.sync(target);
        // INBOX's directory is the mailbox's root, where maildirsize is
        this.#size.add(opts.folder ? this.mailboxPath(user, '') : dir, w.stored, 1);
      }
      return { key };
    } catch (err) {
      if (busy) this.#syncer.leave(target);
      if (tmp !== undefined) await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The message written to `dir`'s tmp/ (fsynced; its mtime `receivedAt` or the clock's), named
   * after `field` (the unique key's), with the key it will have in new/ or cur/; the file is
   * removed when the write fails. `small`: called before a small message's write begins; `sync`
   * false: not fsynced (the caller flushes it: flushStaged).
   */
  async #writeTmp(dir: string, message: Readable | Buffer, field: string, opts: { receivedAt?: number; small?: () => void; sync?: boolean }): Promise<Staged> {
    const { receivedAt, small, sync = true } = opts;
    // `dir` is normalized (mailboxPath's join) and the names hold no "/": joined as strings
    const tmp = `${dir}/tmp/${field}.${pid}_${this.#tmpTag}${(this.#tmpCount++).toString(36)}.${this.#host}`;
    const conv = new CrlfToLfCounter();
    // the arrival time list() reports: the write time, or the injected clock's (tests)
    const when = receivedAt ?? this.#now?.();
    let created = false;
    try {
      // a small message given whole (IMAP APPEND) is written as it is, no stream made of it
      const head = Buffer.isBuffer(message) && message.length <= SMALL_MESSAGE ? { chunks: [message], rest: undefined } : await readUpTo(Buffer.isBuffer(message) ? Readable.from([message]) : message, SMALL_MESSAGE);
      created = true; // from here the temporary name may exist: removed on failure
      if (head.rest === undefined) {
        small?.();
        await writeSmall(tmp, head.chunks, conv, when, sync);
      } else await writeStreamed(tmp, head.chunks, head.rest, conv, when, sync);
      return { tmp, key: `${field}.${this.#host},S=${conv.stored},W=${conv.virtual}`, stored: conv.stored };
    } catch (err) {
      if (created) await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /**
   * A message written to the folder's tmp/ only, seen by no reader until publish() or place()
   * moves it into cur/ (MULTIAPPEND and COPY: a batch shown whole or not at all; APPEND: its
   * UID given first). Fsynced, unless `sync` is false (an APPEND flushes it once its UID log
   * record is written: maildir-write flushStaged). `receivedAt` (ms) is its mtime, the INTERNALDATE.
   */
  async stage(user: string, message: Readable | Buffer, opts: { uniqueKey: string; folder?: string; receivedAt?: number; sync?: boolean }): Promise<Staged> {
    const dir = this.mailboxPath(user, opts.folder);
    if (!this.#dirs.checked(dir, maildirSubs)) await this.#ensure(dir);
    return this.#writeTmp(dir, message, encodeUniqueKey(opts.uniqueKey), opts);
  }

  /**
   * Staged messages renamed from tmp/ into cur/ with their flags, then one fsync of cur/; their
   * keys are fresh (a batch's), so no name is overwritten.
   */
  async publish(user: string, folder: string, staged: readonly (Staged & { readonly flags: string })[]): Promise<void> {
    this.place(user, folder, staged);
    await this.#syncer.sync(`${this.mailboxPath(user, folder)}/cur`);
  }

  /**
   * publish() without the fsync of cur/: for a message whose file and UID are already durable
   * with it in tmp/, so that a rename lost to a power loss is made again from there
   * (maildir-staged-append rollForward). Synchronous: renames in the page cache.
   */
  place(user: string, folder: string, staged: readonly (Staged & { readonly flags: string })[]): void {
    const dir = this.mailboxPath(user, folder);
    let octets = 0;
    for (const s of staged) {
      const at = { sub: 'cur' as const, name: curName(s.key, s.flags) };
      this.#change(dir, s.key, at, () => renameSync(s.tmp, `${dir}/cur/${at.name}`));
      octets += s.stored;
    }
    this.#size.add(folder ? this.mailboxPath(user, '') : dir, octets, staged.length);
  }

  /**
   * The names in new/ and cur/ without making a message of each (maildir-listing names);
   * undefined when an entry is not a plain file.
   */
  async listNames(user: string, folder?: string): Promise<string[] | undefined> {
    return this.#listing.names(this.mailboxPath(user, folder));
  }

  /** The folder's messages by arrival time (maildir-listing list). */
  async list(user: string, folder?: string): Promise<MailboxMessage[]> {
    return this.#listing.list(this.mailboxPath(user, folder), folder ?? '');
  }

  async open(user: string, key: string, folder?: string, opts?: { readonly chunk?: number }): Promise<Readable> {
    const dir = this.mailboxPath(user, folder);
    let fh: FileHandle;
    let file: string;
    for (let attempt = 1; ; attempt++) {
      const found = await this.#listing.locate(dir, key);
      if (!found) throw notFound(key);
      file = join(dir, found.sub, found.name);
      try {
        fh = await open(file, READ_NOFOLLOW);
        break;
      } catch (err) {
        // renamed between finding and opening (a flag change, new/ → cur/): find it again
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 3) throw err;
      }
    }
    const src = fh.createReadStream({ autoClose: true, highWaterMark: opts?.chunk ?? 64 * 1024 });
    const conv = new LfToCrlf();
    // a read's error names the file, as an open's does (the IMAP server logs it: read-failure)
    src.on('error', (err: NodeJS.ErrnoException) => conv.destroy(Object.assign(err, { path: err.path ?? file })));
    conv.on('close', () => src.destroy());
    return src.pipe(conv);
  }

  /** `op` (a link, rename or unlink of `key`'s file in `dir`) under the journal; the listing told its place (`at`, undefined: gone). */
  #change(dir: string, key: string, at: JournalPlace | undefined, op: () => void): void {
    this.journal.change([dir], op, () => [{ dir, key, at }]);
    this.#listing.saw(dir, key, at);
  }

  async setFlags(user: string, key: string, flags: string, folder?: string): Promise<void> {
    const norm = normFlags(flags);
    const dir = this.mailboxPath(user, folder);
    const found = await this.#listing.locate(dir, key);
    if (!found) throw notFound(key);
    const target = curName(parseName(found.name).key, norm);
    if (found.sub === 'cur' && found.name === target) return;
    const at = { sub: 'cur' as const, name: target };
    this.#change(dir, key, at, () => renameSync(join(dir, found.sub, found.name), join(dir, 'cur', target)));
    await this.#syncer.sync(join(dir, 'cur'));
  }

  /**
   * Moves a message to another folder of the same user with one rename(2), its name (key,
   * flags) kept, so that at every instant it is in exactly one of the two; false when it is
   * not (or no longer) in `from`.
   */
  async moveTo(user: string, key: string, from: string, to: string): Promise<boolean> {
    const dir = this.mailboxPath(user, from);
    const target = this.mailboxPath(user, to);
    const found = await this.#listing.locate(dir, key);
    if (!found) return false;
    try {
      const at = { sub: 'cur' as const, name: found.name };
      this.journal.change([dir, target], () => renameSync(join(dir, found.sub, found.name), join(target, 'cur', found.name)), () => [
        { dir, key, at: undefined },
        { dir: target, key, at },
      ]);
      this.#listing.saw(dir, key, undefined);
      this.#listing.saw(target, key, at);
    } catch (err) {
      if (errno(err) === 'ENOENT') return false; // renamed (flags) or removed meanwhile
      throw err;
    }
    await this.#syncer.sync(join(target, 'cur'));
    await this.#syncer.sync(join(dir, found.sub));
    return true;
  }

  async remove(user: string, key: string, folder?: string): Promise<void> {
    const dir = this.mailboxPath(user, folder);
    const found = await this.#listing.locate(dir, key);
    if (!found) return;
    const path = join(dir, found.sub, found.name);
    const size = storedSizeOf(found.name) ?? (await lstat(path).then((st) => st.size, () => 0));
    try {
      this.#change(dir, key, undefined, () => unlinkSync(path));
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
      return; // removed by someone else, who counts it (or the next recalculation does)
    }
    this.#size.add(this.mailboxPath(user, ''), -size, -1);
  }
}
