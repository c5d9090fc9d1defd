/**
 * @module pipe-transport
 * Delivers a message to a command (alias target `|command args`): route "pipe", next hop = the
 * argv as a JSON array (what intake writes for a 'pipe' target), or {"command", "uid", "gid"}
 * for a command from an `:include:` file, which runs as that identity (issue 12 item 4). The message goes to the
 * command's standard input with LF line ends, after `Return-Path:` and `Delivered-To:` lines
 * (as Postfix's local(8) does). The exit status decides (sysexits.h):
 *   0 → delivered 2.0.0;  75 (EX_TEMPFAIL) → delayed 4.3.0;  any other → failed 5.3.0 with the
 *   first line of the command's standard error (else standard output) in the diagnostic;
 *   killed by a signal, timed out or aborted → delayed 4.3.0.
 * Standards: sendmail/Postfix aliases(5) `|command`; sysexits.h (EX_TEMPFAIL = 75);
 *   RFC 3463 (X.3.0 other mail system status).
 * Security: the command is run without a shell (argv as given: no globbing, no variables);
 *   with a minimal environment (PATH, HOME, SENDER, RECIPIENT, ORIGINAL_RECIPIENT); when the
 *   server runs as root, as the route's identity (a command from an include file: its owner)
 *   or the configured unprivileged uid/gid (default 65534, "nobody"), never as root (uid 0 in
 *   a route is replaced by the default); standard output and error are read but bounded; a time limit kills it.
 * Limitations: one run per message and route (all envelopes of that route share the result;
 *   RECIPIENT names the first); no per-user commands (no .forward).
 */
import { spawn } from 'node:child_process';
import { Transform, type TransformCallback, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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

export interface PipeTransportOptions {
  /** user id to run commands as when the server runs as root (default 65534) */
  readonly uid?: number;
  /** group id to run commands as when the server runs as root (default 65534) */
  readonly gid?: number;
  /** time limit per command in ms (default 120 s) */
  readonly timeoutMs?: number;
  /** extra environment variables */
  readonly env?: Readonly<Record<string, string>>;
  /** working directory (default "/") */
  readonly cwd?: string;
}

const EX_TEMPFAIL = 75;
const MAX_OUTPUT = 8192;

/** CRLF → LF, byte for byte (latin1 keeps every octet), a CR at a chunk's end held over. */
export class CrlfToLf extends Transform {
  private pendingCr = false;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let s = (this.pendingCr ? '\r' : '') + chunk.toString('latin1');
    this.pendingCr = s.endsWith('\r');
    if (this.pendingCr) s = s.slice(0, -1);
    cb(null, Buffer.from(s.replace(/\r\n/g, '\n'), 'latin1'));
  }
  override _flush(cb: TransformCallback): void {
    cb(null, this.pendingCr ? Buffer.from('\r', 'latin1') : undefined);
  }
}

function isArgv(v: unknown): v is string[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') && v[0] !== '';
}

/** A uid or gid a command may be given: a non-negative integer. */
function isId(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses a pipe next hop: a JSON array of strings (argv, not empty), or, for a command from an
 * include file, {"command": argv, "uid": n, "gid": n} (core targetRoute writes both).
 */
export function parsePipeRoute(hop: string): { command: string[]; runAs?: RunAs } | undefined {
  try {
    const v: unknown = JSON.parse(hop);
    if (isArgv(v)) return { command: v };
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (isArgv(o.command) && isId(o.uid) && isId(o.gid)) return { command: o.command, runAs: { uid: o.uid, gid: o.gid } };
    }
  } catch {
    /* not JSON */
  }
  return undefined;
}

function firstLine(b: Buffer): string {
  return b.toString('utf8').split(/\r?\n/).find((l) => l.trim() !== '')?.trim().slice(0, 300) ?? '';
}

/** The identity to spawn with when running as root: the route's, never uid 0, else the default. */
export function runAsUser(runAs: RunAs | undefined, fallback: RunAs): RunAs {
  return runAs !== undefined && runAs.uid !== 0 ? { uid: runAs.uid, gid: runAs.gid } : fallback;
}

export class PipeTransport implements Transport {
  readonly name = 'pipe';
  constructor(private readonly opts: PipeTransportOptions = {}) {}

  async deliver(req: DeliveryRequest, signal: AbortSignal): Promise<DeliveryStatus[]> {
    const all = (action: DeliveryAction, status: EnhancedStatus, error?: string): DeliveryStatus[] =>
      statusForAll(req, action, status, error ? { error } : {});
    const hop = parsePipeRoute(req.route.nextHop);
    if (!hop) return all('failed', '5.3.5', `bad pipe route: ${req.route.nextHop}`);
    const argv = hop.command;
    if (signal.aborted) return all('delayed', '4.3.0', 'delivery aborted');

    const first = req.envelopes[0];
    const sender = reversePathToString(req.sender);
    const recipient = first ? addressToString(first.recipient) : '';
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: this.opts.cwd ?? '/',
      SENDER: sender,
      RECIPIENT: recipient,
      ...(first?.originalRecipient ? { ORIGINAL_RECIPIENT: addressToString(first.originalRecipient) } : {}),
      ...this.opts.env,
    };
    // Never run a command as root: a command from an include file runs as the identity the
    // resolver gave (the file's owner, or unprivileged for a root-owned file), an alias's as the
    // configured user; when the server is not root, as the server's own user.
    const ids = process.getuid?.() === 0 ? runAsUser(hop.runAs, { uid: this.opts.uid ?? 65534, gid: this.opts.gid ?? 65534 }) : {};

    let message: Readable;
    try {
      message = await req.openMessage();
    } catch (err) {
      return all('delayed', '4.3.0', `cannot open message: ${(err as Error).message}`);
    }

    return new Promise<DeliveryStatus[]>((resolve) => {
      let settled = false;
      const finish = (r: DeliveryStatus[]): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        message.destroy();
        resolve(r);
      };
      const child = spawn(argv[0], argv.slice(1), {
        shell: false,
        stdio: ['pipe', 'pipe', 'pipe'],
        env,
        cwd: this.opts.cwd ?? '/',
        ...ids,
      });
      let why: string | undefined;
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      child.stdout.on('data', (d: Buffer) => {
        if (outLen < MAX_OUTPUT) out.push(d);
        outLen += d.length;
      });
      child.stderr.on('data', (d: Buffer) => {
        if (errLen < MAX_OUTPUT) errOut.push(d);
        errLen += d.length;
      });
      const timeoutMs = this.opts.timeoutMs ?? 120_000;
      const timer = setTimeout(() => {
        why = `command time limit of ${timeoutMs} ms exceeded`;
        child.kill('SIGKILL');
      }, timeoutMs);
      const onAbort = (): void => {
        why = 'delivery aborted';
        child.kill('SIGKILL');
      };
      signal.addEventListener('abort', onAbort, { once: true });

      child.on('error', (err: NodeJS.ErrnoException) => {
        // spawn failed: ENOENT, EACCES ... a configuration fault, not something time will fix.
        finish(all('failed', '5.3.0', `cannot execute ${argv[0]}: ${err.code ?? err.message}`));
      });
      child.on('close', (code, sig) => {
        if (why !== undefined) return finish(all('delayed', '4.3.0', why));
        if (sig !== null) return finish(all('delayed', '4.3.0', `command ${argv[0]} killed by signal ${sig}`));
        if (code === 0) return finish(all('delivered', '2.0.0'));
        const line = firstLine(Buffer.concat(errOut)) || firstLine(Buffer.concat(out));
        const text = `command ${argv[0]} exited with status ${code}${line ? `: ${line}` : ''}`;
        if (code === EX_TEMPFAIL) return finish(all('delayed', '4.3.0', text));
        return finish(all('failed', '5.3.0', text));
      });

      // The command may exit without reading all of its input (EPIPE): its exit status decides.
      child.stdin.on('error', () => undefined);
      const prologue = Buffer.from(`Return-Path: <${sender}>\nDelivered-To: ${recipient}\n`, 'utf8');
      child.stdin.write(prologue);
      pipeline(message, new CrlfToLf(), child.stdin).catch(() => undefined);
    });
  }
}
