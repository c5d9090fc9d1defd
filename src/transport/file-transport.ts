/**
 * @module file-transport
 * Appends a message to a file in mbox format (alias target `/path/file`): route "file", next
 * hop = the absolute path. Each message starts with a `From sender date` line, gets
 * `Return-Path:` and `Delivered-To:` lines, has LF line ends, lines matching /^>*From / get one
 * more ">" (mboxrd quoting, reversible), and ends with an empty line.
 * Locking: a dot lock `path.lock` created with O_CREAT|O_EXCL (safe on every file system),
 * retried until a time limit; a lock older than `staleLockMs` is taken as left by a crash and
 * removed. A failed write is truncated back so the file is never left with half a message.
 * Standards: the mbox format (mboxrd variant, as in qmail's mbox(5)); Postfix local(8)
 *   conventions (Return-Path, Delivered-To, truncate on error); RFC 4155 (application/mbox).
 * Security: symbolic links are refused (O_NOFOLLOW), only regular files (or /dev/null) are
 *   written, files are created mode 0600; paths come only from the operator's aliases.
 * Limitations: writes with the server's own privileges (no per-file user switch); no fcntl or
 *   flock lock (Node has none), only the dot lock, which mutt, procmail and Postfix honour.
 */
import { constants } from 'node:fs';
import { open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  addressToString,
  reversePathToString,
  statusForAll,
  type DeliveryAction,
  type DeliveryRequest,
  type DeliveryStatus,
  type EnhancedStatus,
  type Transport,
} from '../core/index.js';

export interface FileTransportOptions {
  /** how long to wait for the lock (default 30 s) */
  readonly lockTimeoutMs?: number;
  /** a lock older than this is stale (default 5 min) */
  readonly staleLockMs?: number;
  /** pause between lock attempts (default 100 ms) */
  readonly lockRetryMs?: number;
  /** mode for new files (default 0o600) */
  readonly mode?: number;
  /** the time written on From_ lines (default now) */
  readonly now?: () => Date;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** asctime(3) form in UTC: "Thu Jan  1 00:00:00 1970". */
export function asctime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/**
 * Turns a CRLF message into mboxrd lines: LF ends, ">" added before /^>*From /, a final LF
 * guaranteed. Works on latin1 strings so every octet passes unchanged.
 */
export class MboxQuoter {
  private carry = '';
  /** feeds a chunk; returns the complete lines ready to write */
  push(chunk: Buffer): Buffer {
    const s = this.carry + chunk.toString('latin1');
    const cut = s.lastIndexOf('\n');
    if (cut < 0) {
      this.carry = s;
      return Buffer.alloc(0);
    }
    this.carry = s.slice(cut + 1);
    return Buffer.from(quoteLines(s.slice(0, cut + 1)), 'latin1');
  }
  /** the rest, ending with LF */
  end(): Buffer {
    const rest = this.carry;
    this.carry = '';
    if (rest === '') return Buffer.alloc(0);
    return Buffer.from(quoteLines(rest.endsWith('\r') ? rest.slice(0, -1) + '\n' : rest + '\n'), 'latin1');
  }
}

function quoteLines(s: string): string {
  return s.replace(/\r\n/g, '\n').replace(/^(>*From )/gm, '>$1');
}

export class FileTransport implements Transport {
  readonly name = 'file';
  constructor(private readonly opts: FileTransportOptions = {}) {}

  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]> {
    const all = (action: DeliveryAction, status: EnhancedStatus, error?: string): DeliveryStatus[] =>
      statusForAll(req, action, status, error ? { error } : {});
    const path = req.route.nextHop;
    if (!isAbsolute(path) || path.includes('\0')) return all('failed', '5.3.5', `bad file route: ${path}`);

    const lock = `${path}.lock`;
    const got = await this.lock(lock, signal);
    if (got !== true) return got.permanent ? all('failed', '5.3.0', got.why) : all('delayed', '4.2.0', got.why);
    let fh: FileHandle | undefined;
    let start = 0;
    let wrote = false;
    try {
      try {
        fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, this.opts.mode ?? 0o600);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ELOOP') return all('failed', '5.3.0', `${path} is a symbolic link: refused`);
        if (code === 'EACCES' || code === 'EISDIR' || code === 'ENOENT' || code === 'ENOTDIR') return all('failed', '5.3.0', `cannot open ${path}: ${code}`);
        return all('delayed', '4.3.0', `cannot open ${path}: ${code ?? String(err)}`);
      }
      const st = await fh.stat();
      if (!st.isFile() && path !== '/dev/null') return all('failed', '5.3.0', `${path} is not a regular file`);
      start = st.size;

      const first = req.envelopes[0];
      const sender = reversePathToString(req.sender);
      const fromLine = `From ${sender === '' ? 'MAILER-DAEMON' : sender.replace(/\s/g, '_')} ${asctime(this.opts.now?.() ?? new Date())}\n`;
      const prologue = `Return-Path: <${sender}>\n${first ? `Delivered-To: ${addressToString(first.recipient)}\n` : ''}`;
      wrote = true;
      await fh.write(Buffer.from(fromLine + prologue, 'utf8'));
      const quoter = new MboxQuoter();
      const message = await req.openMessage();
      try {
        for await (const chunk of message) {
          if (signal.aborted) throw new Error('delivery aborted');
          const b = quoter.push(chunk as Buffer);
          if (b.length > 0) await fh.write(b);
        }
      } finally {
        message.destroy();
      }
      // mbox: a message ends with an empty line before the next From_ line.
      await fh.write(Buffer.concat([quoter.end(), Buffer.from('\n')]));
      await fh.sync();
      return all('delivered', '2.0.0');
    } catch (err) {
      if (fh && wrote && path !== '/dev/null') await fh.truncate(start).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      const full = code === 'ENOSPC' || code === 'EDQUOT';
      return all('delayed', full ? '4.3.1' : '4.3.0', `write to ${path} failed: ${code ?? (err as Error).message}`);
    } finally {
      await fh?.close().catch(() => undefined);
      await unlink(lock).catch(() => undefined);
    }
  }

  /** Takes the dot lock: true, or why not (permanent: the lock can never be made there). */
  private async lock(lock: string, signal: AbortSignal): Promise<true | { permanent: boolean; why: string }> {
    const deadline = Date.now() + (this.opts.lockTimeoutMs ?? 30_000);
    const stale = this.opts.staleLockMs ?? 5 * 60_000;
    for (;;) {
      try {
        const h = await open(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        await h.writeFile(`${process.pid}\n`);
        await h.close();
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = `cannot create lock file ${lock}: ${code ?? String(err)}`;
        if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOENT' || code === 'ENOTDIR') return { permanent: true, why };
        if (code !== 'EEXIST') return { permanent: false, why };
      }
      try {
        const st = await stat(lock);
        if (Date.now() - st.mtimeMs > stale) {
          await unlink(lock).catch(() => undefined);
          continue;
        }
      } catch {
        continue; // the holder just released it
      }
      if (signal.aborted) return { permanent: false, why: 'delivery aborted while waiting for the lock' };
      if (Date.now() >= deadline) return { permanent: false, why: `mailbox busy: lock ${lock} held` };
      await sleep(this.opts.lockRetryMs ?? 100);
    }
  }
}
