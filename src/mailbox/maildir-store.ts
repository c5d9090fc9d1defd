/**
 * @module maildir-store
 * Local mailboxes in Maildir format under `<data_dir>/mail`: the mailbox of "local@domain" is
 * `mail/<domain>/<local>/` with tmp/, new/ and cur/; other folders are Maildir++ `.Name/`.
 *
 * File names: `<key>.<host>,S=<stored size>,W=<CRLF size>` in new/, plus `:2,<flags>` once in
 * cur/. The name is deterministic (the delivery's uniqueKey and the content's sizes), which
 * makes redelivery idempotent in O(1): the file is linked from tmp/ into new/ with link(),
 * which never overwrites, so EEXIST means "already delivered"; cur/ is checked with a stat of
 * the same name with the info ":2," and ":2,S" (read, the usual state after POP3/IMAP).
 * The arrival time is the file's mtime (its write time; set from an injected clock), as Dovecot
 * reads it; files named `<seconds>.…` (other delivery agents, older correio) keep the time
 * of their name. Files are stored with LF line ends (the Unix Maildir convention) and read
 * back with CRLF; W= records the CRLF size so listing needs no reading.
 * Standards: the Maildir spec (cr.yp.to/proto/maildir.html: tmp → new by link, unique names,
 *   info ":2,FLAGS" with flags in ASCII order); Maildir++ folders and S=/W= (Courier, Dovecot);
 *   RFC 1939 §11 / RFC 3501 §2.3.4 (sizes counted with CRLF).
 * Security: a user address and a folder name are validated before they become paths: no "/",
 *   "\", NUL, control characters, "." or ".." components, no leading dot. Files are 0600.
 *   Symbolic links are never followed (issue 12 item 9): every directory from the store's root
 *   down to tmp/, new/ and cur/ is checked with lstat on each delivery and each read (a link or
 *   a non-directory there refuses the operation: MAIL_ERR_UNSAFE_MAILBOX, 451 4.3.0, so a
 *   delivery is deferred with the reason), message files are opened with O_NOFOLLOW, and list()
 *   shows only regular files, so a link in new/ or cur/ is neither listed nor served.
 * Limitations: redelivery of a key is not detected (stored twice) when the first copy has
 *   been moved to cur/ with flags other than none or "S", or was renamed new/ → cur/ by a
 *   reader in the instant between our stat of cur/ and our link() into new/, or when the
 *   content differs (other sizes); a removed message is stored again. The body is written to
 *   tmp/ before the duplicate check. list() costs a stat per message for the arrival time.
 *   Usage for quotas is kept in Maildir++ `maildirsize` (maildir-size.ts); a foreign file without W= is read once to size it on every list(). The lstat
 *   walk and the open are separate steps (Node has no openat): someone who can write inside a
 *   mailbox's directories could swap a directory for a link between the two; the directories are
 *   created 0700 for the server's user, which keeps others out of them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { constants, lstatSync, statSync, type Dirent } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MailError, replies, type MailboxMessage, type MailboxStore, type QuotaLimit, type QuotaUsage } from '../core/index.js';
import { DirSyncer, fileSink } from '../util/index.js';
import { MaildirSize, storedSizeOf } from './maildir-size.js';

export interface MaildirStoreOptions {
  /** the host part of unique names (default: this machine's name) */
  hostname?: string;
  /** ms since epoch (tests) */
  now?: () => number;
}

const LF = 0x0a;
const CR = 0x0d;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function badMailbox(why: string): MailError {
  const e = new MailError(replies.noSuchUser(), 'MAIL_ERR_BAD_MAILBOX');
  e.message = `${e.message} (${why})`;
  return e;
}

/** A mailbox path that holds a symbolic link or a non-directory: refused, never followed. */
function unsafeMailbox(path: string, why: string): MailError {
  const e = new MailError(replies.localError(), 'MAIL_ERR_UNSAFE_MAILBOX');
  e.message = `mailbox path ${path} ${why}: refused`;
  return e;
}

/** open(2) flags for reading a message file: a symbolic link fails with ELOOP. */
const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

function notFound(key: string): Error {
  return Object.assign(new Error(`no such message: ${key}`), { code: 'ENOENT' });
}

/** One path component from untrusted text: refuses separators, NUL, control characters and dot tricks. */
function safeComponent(s: string, what: string): string {
  if (s.length === 0 || s.length > 255) throw badMailbox(`${what} is empty or too long`);
  if (/[/\\\x00-\x1f\x7f]/.test(s)) throw badMailbox(`${what} contains a forbidden character`);
  if (s.startsWith('.')) throw badMailbox(`${what} starts with a dot`);
  return s;
}

/** Splits and checks "local@domain"; the domain is lower-cased. */
export function mailboxParts(user: string): { local: string; domain: string } {
  const at = user.lastIndexOf('@');
  if (at <= 0 || at === user.length - 1) throw badMailbox('not local@domain');
  return { local: safeComponent(user.slice(0, at), 'local part'), domain: safeComponent(user.slice(at + 1).toLowerCase(), 'domain') };
}

function folderDir(folder: string | undefined): string {
  if (folder === undefined || folder === '' || folder.toUpperCase() === 'INBOX') return '';
  safeComponent(folder, 'folder');
  if (folder.endsWith('.') || folder.includes('..')) throw badMailbox('folder has an empty level');
  return `.${folder}`;
}

/** uniqueKey → a name field: [A-Za-z0-9_-] kept, anything else as =XX; long keys hashed. */
export function encodeUniqueKey(key: string): string {
  if (key.length === 0) throw new RangeError('uniqueKey must not be empty');
  let out = '';
  for (const b of Buffer.from(key, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `=${b.toString(16).padStart(2, '0')}`;
  }
  // an all-digit field would read as a name's leading "<seconds>": its first digit as =3X
  if (/^\d+$/.test(out)) out = `=${out.charCodeAt(0).toString(16)}${out.slice(1)}`;
  return out.length <= 100 ? out : `h${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}

/** The Maildir spec's host part: "/" → \057, ":" → \072 (and "," → \054, used by S=/W=). */
function encodeHost(h: string): string {
  return (h || 'localhost').replace(/\//g, '\\057').replace(/:/g, '\\072').replace(/,/g, '\\054');
}

interface Parsed {
  key: string;
  flags: string;
  size?: number;
  seconds?: number;
}

function parseName(name: string): Parsed {
  const colon = name.indexOf(':');
  const key = colon < 0 ? name : name.slice(0, colon);
  const info = colon < 0 ? '' : name.slice(colon + 1);
  const flags = info.startsWith('2,') ? info.slice(2) : '';
  const w = /,W=(\d+)/.exec(key);
  const fields = key.split(',')[0].split('.');
  // "<seconds>.<unique>.<host>" (the Maildir spec's form), or ours: "<key>.<host>", no time
  // (encodeUniqueKey never gives an all-digit key)
  const seconds = /^\d+$/.test(fields[0]) ? Number(fields[0]) : undefined;
  return { key, flags, size: w ? Number(w[1]) : undefined, seconds };
}

/** CRLF → LF while streaming, counting what is written and what reading back with CRLF gives. */
class CrlfToLf extends Transform {
  stored = 0;
  virtual = 0;
  #pendingCr = false;
  #last = -1;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let buf = this.#pendingCr ? Buffer.concat([Buffer.of(CR), chunk]) : chunk;
    this.#pendingCr = false;
    if (buf.length > 0 && buf[buf.length - 1] === CR) {
      this.#pendingCr = true;
      buf = buf.subarray(0, buf.length - 1);
    }
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = buf.indexOf(CR); i >= 0 && i < buf.length - 1; i = buf.indexOf(CR, i + 1)) {
      if (buf[i + 1] === LF) {
        parts.push(buf.subarray(from, i));
        from = i + 1;
      }
    }
    parts.push(buf.subarray(from));
    const out = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    this.#count(out);
    if (out.length > 0) this.push(out);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.#pendingCr) {
      const out = Buffer.of(CR);
      this.#count(out);
      this.push(out);
    }
    cb();
  }

  #count(out: Buffer): void {
    this.stored += out.length;
    this.virtual += out.length;
    for (let i = out.indexOf(LF); i >= 0; i = out.indexOf(LF, i + 1)) {
      const prev = i > 0 ? out[i - 1] : this.#last;
      if (prev !== CR) this.virtual++;
    }
    if (out.length > 0) this.#last = out[out.length - 1];
  }
}

/** LF → CRLF while reading (an LF already preceded by CR is left alone). */
class LfToCrlf extends Transform {
  #last = -1;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
      const prev = i > 0 ? chunk[i - 1] : this.#last;
      if (prev !== CR) {
        parts.push(chunk.subarray(from, i), Buffer.of(CR));
        from = i;
      }
    }
    parts.push(chunk.subarray(from));
    if (chunk.length > 0) this.#last = chunk[chunk.length - 1];
    this.push(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    cb();
  }
}

export class MaildirStore implements MailboxStore {
  readonly root: string;
  readonly #host: string;
  readonly #now: (() => number) | undefined;
  readonly #syncer = new DirSyncer();
  readonly #size: MaildirSize;
  /**
   * Per mailbox directory, what its last listing found: each key's file (so opening a message
   * needs no directory read) and each file's arrival time once read from its mtime (a name is
   * never reused for another file, and a rename to change flags keeps the mtime). A folder of
   * 100,000 messages is listed without 100,000 lstat calls each time (bench: jmap).
   */
  readonly #seen = new Map<string, { files: Map<string, { sub: 'new' | 'cur'; name: string }>; times: Map<string, number> }>();

  /** `root` is `<data_dir>/mail`. */
  constructor(root: string, opts: MaildirStoreOptions = {}) {
    this.root = root;
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

  /** The Maildir directory of a user's folder ("" = INBOX); throws 550 5.1.1 for a bad name. */
  mailboxPath(user: string, folder?: string): string {
    const { local, domain } = mailboxParts(user);
    return join(this.root, domain, local, folderDir(folder));
  }

  /**
   * Checks each level from the root down to `dir` with lstat: a symbolic link or anything but a
   * directory is refused (unsafeMailbox); `subs` (tmp, new, cur) below `dir` too. A missing level
   * is made (mode 0700) when `create` is set; otherwise the answer is false when `dir` or a level
   * above it is missing (nothing there yet). Run on every operation, never
   * cached: a directory can be replaced by a link at any time.
   *
   * The lstat calls are synchronous: seven lstat(2) of cached directory entries take a few
   * microseconds on the calling thread, while seven thread-pool requests cost a wake-up and a
   * promise each, which made Maildir delivery ~8 % slower than the cached check before issue 12
   * (docs/performance.md, session 6). Only a missing level (the first delivery) waits for mkdir.
   */
  async #safeDir(dir: string, create: boolean, subs: readonly string[] = []): Promise<boolean> {
    const rel = relative(this.root, dir);
    const levels = [this.root];
    if (rel !== '') for (const part of rel.split(sep)) levels.push(join(levels[levels.length - 1], part));
    const path = levels.length;
    for (const sub of subs) levels.push(join(dir, sub));
    for (const [i, level] of levels.entries()) {
      let st = lstatSync(level, { throwIfNoEntry: false });
      if (st === undefined) {
        if (!create) {
          if (i < path) return false;
          continue; // a missing tmp/, new/ or cur/ holds nothing to follow
        }
        // the root's own parents (data_dir) may be missing too: made as before, recursively
        await mkdir(level, { mode: 0o700, recursive: i === 0 }).catch((e: unknown) => {
          if (errno(e) !== 'EEXIST') throw e;
        });
        st = lstatSync(level);
      }
      if (st.isSymbolicLink()) throw unsafeMailbox(level, 'is a symbolic link');
      if (!st.isDirectory()) throw unsafeMailbox(level, 'is not a directory');
    }
    return true;
  }

  /**
   * The directory of a user's folder after the same lstat walk every operation makes (no link,
   * nothing but directories); tmp/, new/ and cur/ made when `create`. undefined when missing.
   */
  async checkedDir(user: string, folder: string | undefined, create: boolean): Promise<string | undefined> {
    const dir = this.mailboxPath(user, folder);
    if (create) await this.#ensure(dir);
    else if (!(await this.#safeDir(dir, false, ['tmp', 'new', 'cur']))) return undefined;
    return dir;
  }

  /** Makes (or checks) a Maildir's tmp/, new/ and cur/ before a delivery. */
  async #ensure(dir: string): Promise<void> {
    await this.#safeDir(dir, true, ['tmp', 'new', 'cur']);
  }

  async #names(dir: string, sub: 'new' | 'cur'): Promise<string[]> {
    if (!(await this.#safeDir(join(dir, sub), false))) return [];
    try {
      return (await readdir(join(dir, sub))).filter((n) => !n.startsWith('.'));
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw err;
    }
  }

  /** The entries of new/ or cur/ with their types (d_type: no lstat for each). */
  async #entries(dir: string, sub: 'new' | 'cur'): Promise<Dirent[]> {
    if (!(await this.#safeDir(join(dir, sub), false))) return [];
    try {
      return (await readdir(join(dir, sub), { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
    } catch (err) {
      if (errno(err) === 'ENOENT') return [];
      throw err;
    }
  }

  /** new/ then cur/ (a message only moves new → cur, so this order never misses one). */
  async #locate(dir: string, key: string): Promise<{ sub: 'new' | 'cur'; name: string } | undefined> {
    if (key.length === 0 || key.includes('/') || key.includes('\0') || key.startsWith('.')) return undefined;
    // the whole path, new/ and cur/ included, before any name in them is trusted
    if (!(await this.#safeDir(dir, false, ['new', 'cur']))) return undefined;
    const hit = this.#seen.get(dir)?.files.get(key);
    if (hit && lstatSync(join(dir, hit.sub, hit.name), { throwIfNoEntry: false })?.isFile()) return hit;
    try {
      await lstat(join(dir, 'new', key));
      return { sub: 'new', name: key };
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
    for (const sub of ['new', 'cur'] as const) {
      const name = (await this.#names(dir, sub)).find((n) => n === key || n.startsWith(`${key}:`));
      if (name) return { sub, name };
    }
    return undefined;
  }

  /** Whether `key` was already moved to cur/ unflagged or flagged only "S" (seen). */
  #inCur(dir: string, key: string): boolean {
    // synchronous for the reason #safeDir gives: both names are usually absent (no exception made)
    for (const info of [':2,', ':2,S']) {
      if (statSync(join(dir, 'cur', key + info), { throwIfNoEntry: false }) !== undefined) return true;
    }
    return false;
  }

  async deliver(user: string, message: Readable, opts: { uniqueKey: string; folder?: string }): Promise<{ key: string }> {
    const dir = this.mailboxPath(user, opts.folder);
    const field = encodeUniqueKey(opts.uniqueKey);
    await this.#ensure(dir);
    const tmp = join(dir, 'tmp', `${field}.${process.pid}_${randomBytes(6).toString('hex')}.${this.#host}`);
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    const conv = new CrlfToLf();
    try {
      try {
        await pipeline(message, conv, fileSink(fh));
        // the arrival time list() reports: the write time, or the injected clock's (tests)
        if (this.#now) {
          const t = this.#now() / 1000;
          await fh.utimes(t, t);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const key = `${field}.${this.#host},S=${conv.stored},W=${conv.virtual}`;
      let linked = false;
      if (!this.#inCur(dir, key)) {
        try {
          // Maildir spec: link() into new/ never overwrites; EEXIST = already delivered
          await link(tmp, join(dir, 'new', key));
          linked = true;
        } catch (err) {
          if (errno(err) !== 'EEXIST') throw err;
        }
      }
      await unlink(tmp);
      if (linked) {
        await this.#syncer.sync(join(dir, 'new'));
        await this.#size.add(this.mailboxPath(user, ''), conv.stored, 1);
      }
      return { key };
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  async list(user: string, folder?: string): Promise<MailboxMessage[]> {
    const dir = this.mailboxPath(user, folder);
    const out: MailboxMessage[] = [];
    const known = this.#seen.get(dir)?.times;
    const seen = { files: new Map<string, { sub: 'new' | 'cur'; name: string }>(), times: new Map<string, number>() };
    for (const sub of ['new', 'cur'] as const) {
      for (const entry of await this.#entries(dir, sub)) {
        const name = entry.name;
        // a symbolic link (or anything but a file) is no message, never listed or served
        if (!entry.isFile() && (entry.isSymbolicLink() || entry.isDirectory() || entry.isFIFO() || entry.isSocket() || entry.isBlockDevice() || entry.isCharacterDevice())) continue;
        const p = parseName(name);
        let size = p.size;
        // our names carry no time: the file's mtime is the arrival time
        let receivedAt = p.seconds !== undefined ? p.seconds * 1000 : known?.get(name);
        const path = join(dir, sub, name);
        if (!entry.isFile() || size === undefined || receivedAt === undefined) {
          try {
            const st = await lstat(path);
            if (!st.isFile()) continue;
            if (size === undefined) size = await virtualSize(path);
            receivedAt ??= st.mtimeMs;
          } catch (err) {
            if (errno(err) === 'ENOENT') continue; // removed meanwhile
            throw err;
          }
        }
        if (p.seconds === undefined) seen.times.set(name, receivedAt);
        seen.files.set(p.key, { sub, name });
        out.push({ key: p.key, size, flags: p.flags, receivedAt, folder: folder ?? '' });
      }
    }
    this.#seen.delete(dir);
    this.#seen.set(dir, seen);
    if (this.#seen.size > 1000) this.#seen.delete(this.#seen.keys().next().value as string);
    return out.sort((a, b) => a.receivedAt - b.receivedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async open(user: string, key: string, folder?: string): Promise<Readable> {
    const dir = this.mailboxPath(user, folder);
    let fh: FileHandle;
    for (let attempt = 1; ; attempt++) {
      const found = await this.#locate(dir, key);
      if (!found) throw notFound(key);
      try {
        fh = await open(join(dir, found.sub, found.name), READ_NOFOLLOW);
        break;
      } catch (err) {
        // renamed between finding and opening (a flag change, new/ → cur/): find it again
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 3) throw err;
      }
    }
    const src = fh.createReadStream({ autoClose: true, highWaterMark: 64 * 1024 });
    const conv = new LfToCrlf();
    src.on('error', (err) => conv.destroy(err));
    conv.on('close', () => src.destroy());
    return src.pipe(conv);
  }

  async setFlags(user: string, key: string, flags: string, folder?: string): Promise<void> {
    if (!/^[A-Za-z]*$/.test(flags)) throw new RangeError(`bad Maildir flags "${flags}"`);
    // Maildir spec: flags in ASCII order, each once
    const norm = [...new Set(flags)].sort().join('');
    const dir = this.mailboxPath(user, folder);
    const found = await this.#locate(dir, key);
    if (!found) throw notFound(key);
    const target = `${parseName(found.name).key}:2,${norm}`;
    if (found.sub === 'cur' && found.name === target) return;
    await rename(join(dir, found.sub, found.name), join(dir, 'cur', target));
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
    const found = await this.#locate(dir, key);
    if (!found) return false;
    try {
      await rename(join(dir, found.sub, found.name), join(target, 'cur', found.name));
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
    const found = await this.#locate(dir, key);
    if (!found) return;
    const path = join(dir, found.sub, found.name);
    const size = storedSizeOf(found.name) ?? (await lstat(path).then((st) => st.size, () => 0));
    try {
      await unlink(path);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
      return; // removed by someone else, who counts it (or the next recalculation does)
    }
    await this.#size.add(this.mailboxPath(user, ''), -size, -1);
  }
}

/** CRLF size of a file stored with LF line ends (for foreign files without W=). */
async function virtualSize(path: string): Promise<number> {
  const fh = await open(path, READ_NOFOLLOW);
  try {
    let size = 0;
    let last = -1;
    for await (const chunk of fh.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
        if ((i > 0 ? chunk[i - 1] : last) !== CR) size++;
      }
      if (chunk.length > 0) last = chunk[chunk.length - 1];
    }
    return size;
  } finally {
    await fh.close();
  }
}
