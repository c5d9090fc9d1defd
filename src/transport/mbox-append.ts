/**
 * @module mbox-append
 * The one routine that appends a message's mbox bytes to a file under a dot lock, and the way
 * to run it as another user. The file transport calls appendMbox in its own process for the
 * operator's aliases; for a file named by an `:include:` file (issue 12 item 4) it must write
 * with the include file's owner's rights, never root's, so appendMboxAs runs the same routine
 * in a child process spawned with that uid and gid: the kernel then checks every permission
 * (directory search, ACLs, write access, the lock file's creation) as for that user, which no
 * check done as root could reproduce. The child is `node -e` with this routine's own source
 * (appendMbox and mboxChild are self-contained: they import what they use inside), so it
 * needs no file that the unprivileged user may be unable to read.
 * Protocol with the child: argv = [path, JSON options]; standard input carries frames (a
 * 4-octet big-endian length, then that many octets) ended by a zero-length frame, so input
 * that stops early (the parent aborted or died) is told from a complete message and the file
 * is truncated back; the child prints one JSON result line.
 * Standards: mbox (mboxrd) with a dot lock `path.lock` (O_CREAT|O_EXCL, as mutt, procmail and
 *   Postfix local(8) use); Postfix local(8) DELIVERY RIGHTS (file deliveries run with the
 *   rights of the include file's owner, default_privs for root).
 * Security: O_NOFOLLOW on the file and the lock, regular files only (or /dev/null), new files
 *   0600, a failed write truncated back; the child gets an empty environment and cwd "/".
 * Limitations: a stale lock is judged by age only; the child costs a Node start-up (~40 ms)
 *   per delivery, paid only by include-file file targets when correio runs as root.
 */
import { spawn } from 'node:child_process';
import type { RunAs } from '../core/index.js';

export interface MboxAppendOptions {
  /** mode for a new file */
  readonly mode: number;
  /** how long to wait for the lock */
  readonly lockTimeoutMs: number;
  /** a lock older than this was left by a crash */
  readonly staleLockMs: number;
  /** pause between lock attempts */
  readonly lockRetryMs: number;
}

/** delivered, or why not: permanent (5.x.x, "failed") or not (4.x.x, "delayed") */
export type MboxAppendResult = { ok: true } | { ok: false; permanent: boolean; status: string; why: string };

/**
 * Appends `data` (mbox bytes) to `path` under its dot lock; a failed write is truncated back.
 * Self-contained (see the module header): it must not use anything from this module's scope.
 */
export async function appendMbox(path: string, data: AsyncIterable<Uint8Array>, opts: MboxAppendOptions, aborted: () => boolean = () => false): Promise<MboxAppendResult> {
  const { constants } = await import('node:fs');
  const { open, stat, unlink } = await import('node:fs/promises');
  const { setTimeout: sleep } = await import('node:timers/promises');
  const fail = (permanent: boolean, status: string, why: string): MboxAppendResult => ({ ok: false, permanent, status, why });
  const codeOf = (err: unknown): string | undefined => (err as { code?: string } | undefined)?.code;

  const lock = `${path}.lock`;
  const deadline = Date.now() + opts.lockTimeoutMs;
  for (;;) {
    try {
      const h = await open(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      await h.writeFile(`${process.pid}\n`);
      await h.close();
      break;
    } catch (err) {
      const code = codeOf(err);
      const why = `cannot create lock file ${lock}: ${code ?? String(err)}`;
      // the lock can never be made there: a configuration fault
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOENT' || code === 'ENOTDIR') return fail(true, '5.3.0', why);
      if (code !== 'EEXIST') return fail(false, '4.2.0', why);
    }
    try {
      const st = await stat(lock);
      if (Date.now() - st.mtimeMs > opts.staleLockMs) {
        await unlink(lock).catch(() => undefined);
        continue;
      }
    } catch {
      continue; // the holder just released it
    }
    if (aborted()) return fail(false, '4.2.0', 'delivery aborted while waiting for the lock');
    if (Date.now() >= deadline) return fail(false, '4.2.0', `mailbox busy: lock ${lock} held`);
    await sleep(opts.lockRetryMs);
  }

  let fh: Awaited<ReturnType<typeof open>> | undefined;
  let start = 0;
  let wrote = false;
  try {
    try {
      fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, opts.mode);
    } catch (err) {
      const code = codeOf(err);
      if (code === 'ELOOP') return fail(true, '5.3.0', `${path} is a symbolic link: refused`);
      if (code === 'EACCES' || code === 'EISDIR' || code === 'ENOENT' || code === 'ENOTDIR') return fail(true, '5.3.0', `cannot open ${path}: ${code}`);
      return fail(false, '4.3.0', `cannot open ${path}: ${code ?? String(err)}`);
    }
    const st = await fh.stat();
    if (!st.isFile() && path !== '/dev/null') return fail(true, '5.3.0', `${path} is not a regular file`);
    start = st.size;
    wrote = true;
    for await (const chunk of data) {
      if (aborted()) throw new Error('delivery aborted');
      await fh.write(chunk);
    }
    await fh.sync();
    return { ok: true };
  } catch (err) {
    if (fh && wrote && path !== '/dev/null') await fh.truncate(start).catch(() => undefined);
    const code = codeOf(err);
    const full = code === 'ENOSPC' || code === 'EDQUOT';
    return fail(false, full ? '4.3.1' : '4.3.0', `write to ${path} failed: ${code ?? (err as Error).message}`);
  } finally {
    await fh?.close().catch(() => undefined);
    await unlink(lock).catch(() => undefined);
  }
}

/**
 * The child's main: reads argv and the framed standard input, runs `append`, prints the result.
 * Self-contained, like appendMbox.
 */
export async function mboxChild(append: typeof appendMbox): Promise<void> {
  const [path, optsJson] = process.argv.slice(1);
  async function* frames(): AsyncGenerator<Uint8Array> {
    let buf: Buffer = Buffer.alloc(0);
    for await (const chunk of process.stdin) {
      buf = buf.length === 0 ? (chunk as Buffer) : Buffer.concat([buf, chunk as Buffer]);
      while (buf.length >= 4) {
        const n = buf.readUInt32BE(0);
        if (n === 0) return; // the end mark: the message is whole
        if (buf.length < 4 + n) break;
        yield buf.subarray(4, 4 + n);
        buf = buf.subarray(4 + n);
      }
    }
    throw new Error('input ended before the end mark (delivery aborted)');
  }
  const result = await append(path, frames(), JSON.parse(optsJson) as MboxAppendOptions);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** The child's program text: appendMbox and mboxChild as compiled, then the call. */
function childSource(): string {
  return `${appendMbox.toString()}\nawait (${mboxChild.toString()})(appendMbox);\n`;
}

function frame(chunk: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(chunk.length);
  return Buffer.concat([head, chunk]);
}

/**
 * Runs appendMbox in a child process with `runAs`'s uid and gid (the caller is root). The
 * result is the child's; a child that dies or prints no result gives a temporary failure.
 */
export async function appendMboxAs(runAs: RunAs, path: string, data: AsyncIterable<Uint8Array>, opts: MboxAppendOptions, signal: AbortSignal): Promise<MboxAppendResult> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', childSource(), path, JSON.stringify(opts)], {
    uid: runAs.uid,
    gid: runAs.gid,
    env: {},
    cwd: '/',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const errOut: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => {
    if (errOut.length < 16) errOut.push(d);
  });
  const closed = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  // an abort closes the input without the end mark: the child truncates and reports
  const onAbort = (): void => void child.stdin.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  child.stdin.on('error', () => undefined);
  const feed = (async (): Promise<void> => {
    try {
      for await (const chunk of data) {
        if (signal.aborted || child.stdin.destroyed) return;
        if (!child.stdin.write(frame(chunk))) await new Promise<void>((r) => child.stdin.once('drain', r).once('close', r));
      }
      child.stdin.end(frame(new Uint8Array(0)));
    } catch {
      child.stdin.destroy(); // the message could not be read: no end mark, the child truncates
    }
  })();
  const end = await closed;
  signal.removeEventListener('abort', onAbort);
  await feed;
  if (end.error) return { ok: false, permanent: false, status: '4.3.0', why: `cannot start the mbox writer as uid ${runAs.uid}: ${end.error.message}` };
  try {
    const r = JSON.parse(Buffer.concat(out).toString('utf8').trim()) as MboxAppendResult;
    if (typeof r.ok === 'boolean') return r;
  } catch {
    /* no result line */
  }
  const why = Buffer.concat(errOut).toString('utf8').split('\n').find((l) => l.trim() !== '')?.slice(0, 300) ?? `exit status ${end.code}`;
  return { ok: false, permanent: false, status: '4.3.0', why: `mbox writer as uid ${runAs.uid} failed: ${why}` };
}
