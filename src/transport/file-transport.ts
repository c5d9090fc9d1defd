/**
 * @module file-transport
 * Appends a message to a file in mbox format (alias target `/path/file`): route "file", next
 * hop = the absolute path, or {"path", "uid", "gid"} for a file named by an `:include:` file,
 * which is written with that identity's rights (issue 12 item 4; see mbox-append). Each message starts with a `From sender date` line, gets
 * `Return-Path:` and `Delivered-To:` lines, has LF line ends, lines matching /^>*From / get one
 * more ">" (mboxrd quoting, reversible), and ends with an empty line.
 * Locking: a dot lock `path.lock` created with O_CREAT|O_EXCL (safe on every file system),
 * retried until a time limit; a lock older than `staleLockMs` is taken as left by a crash and
 * removed. A failed write is truncated back so the file is never left with half a message.
 * Standards: the mbox format (mboxrd variant, as in qmail's mbox(5)); Postfix local(8)
 *   conventions (Return-Path, Delivered-To, truncate on error); RFC 4155 (application/mbox).
 * Security: symbolic links are refused (O_NOFOLLOW), only regular files (or /dev/null) are
 *   written, files are created mode 0600; paths come from the operator's aliases (written with
 *   the server's privileges) or from safe include files (written by a child process running as
 *   the include file's owner, or 65534 for a root-owned one: never as root).
 * Limitations: no fcntl or flock lock (Node has none), only the dot lock, which mutt, procmail
 *   and Postfix honour.
 */
import { isAbsolute } from 'node:path';
import {
  addressToString,
  reversePathToString,
  statusForAll,
  type DeliveryAction,
  type DeliveryRequest,
  type DeliveryStatus,
  type EnhancedStatus,
  type RunAs,
  type Transport,
} from '../core/index.js';
import { appendMbox, appendMboxAs } from './mbox-append.js';
import { runAsUser } from './pipe-transport.js';

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
  /** who writes a file named by a root-owned include file when correio runs as root (default 65534:65534) */
  readonly unprivileged?: RunAs;
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

/**
 * Parses a file next hop: an absolute path, or, for a file named by an include file,
 * {"path", "uid", "gid"} (core targetRoute writes both).
 */
export function parseFileRoute(hop: string): { path: string; runAs?: RunAs } | undefined {
  let path = hop;
  let runAs: RunAs | undefined;
  if (hop.startsWith('{')) {
    try {
      const o = JSON.parse(hop) as Record<string, unknown>;
      const id = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
      if (typeof o.path !== 'string' || !id(o.uid) || !id(o.gid)) return undefined;
      path = o.path;
      runAs = { uid: o.uid, gid: o.gid };
    } catch {
      return undefined;
    }
  }
  if (!isAbsolute(path) || path.includes('\0')) return undefined;
  return runAs ? { path, runAs } : { path };
}

export class FileTransport implements Transport {
  readonly name = 'file';
  constructor(private readonly opts: FileTransportOptions = {}) {}

  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]> {
    const all = (action: DeliveryAction, status: EnhancedStatus, error?: string): DeliveryStatus[] =>
      statusForAll(req, action, status, error ? { error } : {});
    const hop = parseFileRoute(req.route.nextHop);
    if (!hop) return all('failed', '5.3.5', `bad file route: ${req.route.nextHop}`);
    const { path } = hop;

    const first = req.envelopes[0];
    const sender = reversePathToString(req.sender);
    const fromLine = `From ${sender === '' ? 'MAILER-DAEMON' : sender.replace(/\s/g, '_')} ${asctime(this.opts.now?.() ?? new Date())}\n`;
    const prologue = `Return-Path: <${sender}>\n${first ? `Delivered-To: ${addressToString(first.recipient)}\n` : ''}`;
    // the mbox bytes, read only once the file is locked and open
    const data = (async function* (): AsyncGenerator<Buffer> {
      yield Buffer.from(fromLine + prologue, 'utf8');
      const quoter = new MboxQuoter();
      const message = await req.openMessage();
      try {
        for await (const chunk of message) {
          const b = quoter.push(chunk as Buffer);
          if (b.length > 0) yield b;
        }
      } finally {
        message.destroy();
      }
      // mbox: a message ends with an empty line before the next From_ line.
      yield Buffer.concat([quoter.end(), Buffer.from('\n')]);
    })();
    const opts = {
      mode: this.opts.mode ?? 0o600,
      lockTimeoutMs: this.opts.lockTimeoutMs ?? 30_000,
      staleLockMs: this.opts.staleLockMs ?? 5 * 60_000,
      lockRetryMs: this.opts.lockRetryMs ?? 100,
    };
    // A file named by an include file is written with its owner's rights (never root's): by a
    // child process with that identity. The operator's aliases write with the server's own.
    const r =
      hop.runAs !== undefined && process.getuid?.() === 0
        ? await appendMboxAs(runAsUser(hop.runAs, this.opts.unprivileged ?? { uid: 65534, gid: 65534 }), path, data, opts, signal)
        : await appendMbox(path, data, opts, () => signal.aborted);
    if (r.ok) return all('delivered', '2.0.0');
    return all(r.permanent ? 'failed' : 'delayed', r.status as EnhancedStatus, r.why);
  }
}
