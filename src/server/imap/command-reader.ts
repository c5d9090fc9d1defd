/**
 * @module command-reader
 * The IMAP framing over a LineConnection: one command with its literals, each line ending in
 * "{n}" or "{n+}" followed by n octets (after our "+" continuation for a synchronizing
 * literal), then the command goes on.
 * Standards: RFC 9051 §2.2.2 and §7.5 (command continuation "+" before a synchronizing
 *   literal), §4.3 (literals); RFC 7888 (LITERAL+: a non-synchronizing literal that is too
 *   large is read, thrown away and refused).
 * Security: everything the client sends is hostile. Command lines are limited to 64 KB and a
 *   literal to 64 KB (APPEND: the APPENDLIMIT, and all literals of one command to the
 *   APPENDLIMIT plus 64 KB), refused before it is read when synchronizing.
 * Limitations: the command is held in memory (bounded as above), but for an APPEND literal
 *   from `appendStreamFrom` octets on, which is left unread for append-stream.
 */
import { literalAtEnd } from '../../protocol/imap/index.js';
import { CLOSED, INTERRUPTED, LONG, TIMEOUT, type LineConnection } from '../connection/index.js';
import { bad, no, type TaggedResult } from './session-types.js';

export const maxLine = 64 * 1024;
export const maxLiteral = 64 * 1024;

/** A literal announced at the end of a line. */
export interface Literal {
  readonly size: number;
  readonly sync: boolean;
}

/** An APPEND up to its big literal's announcement (the lines and literals before it): append-stream reads on. */
export interface StreamedAppendStart {
  readonly tag: string;
  readonly head: Buffer;
  readonly lit: Literal;
}

/**
 * A whole command, an APPEND whose big literal is to be streamed, a refusal of one (with its
 * tag when it was read), or the end of input.
 */
export type CommandInput = { buf: Buffer } | { append: StreamedAppendStart } | { bad: TaggedResult; tag?: string } | 'closed' | 'timeout';

export interface CommandLimits {
  /** the timeout of the session's state (before login, or after) */
  readonly timeoutMs: number;
  /** the APPENDLIMIT (RFC 7889) */
  readonly appendLimit: number;
  /** an APPEND literal from this size on is not read here when `streamable` takes its command so far */
  readonly appendStreamFrom?: number;
  readonly streamable?: (head: Buffer) => boolean;
}

/** Reads one command with its literals; "timeout" when the client stayed silent too long. */
export async function readCommand(conn: LineConnection, limits: CommandLimits): Promise<CommandInput> {
  const parts: Buffer[] = [];
  let tag: string | undefined;
  let total = 0;
  const refused = (r: TaggedResult): CommandInput => ({ bad: r, ...(tag !== undefined && { tag }) });
  for (;;) {
    const line = await conn.readLine(maxLine, limits.timeoutMs);
    if (line === INTERRUPTED) continue;
    if (line === CLOSED) return 'closed';
    if (line === TIMEOUT) return 'timeout';
    if (line === LONG) return refused(bad('Command line too long', 'TOOBIG'));
    if (parts.length === 0) {
      if (line.length === 0) continue; // an empty line is no command
      tag = /^[^\s(){%*"\\]+/.exec(line.toString('latin1'))?.[0];
    }
    parts.push(line);
    const lit = literalAtEnd(line);
    if (!lit) return { buf: parts.length === 1 ? parts[0] : Buffer.concat(parts) };
    const isAppend = /^\S+ APPEND /i.test(parts[0].toString('latin1', 0, 64));
    const limit = isAppend ? limits.appendLimit : maxLiteral;
    total += lit.size;
    if (lit.size > limit || total > limit + maxLiteral) {
      const r = isAppend ? no('Message too large', 'TOOBIG') : bad('Literal too large', 'TOOBIG');
      if (lit.sync) return refused(r);
      // RFC 7888 §4: a non-synchronizing literal is on its way: read and discard it, and the rest of the command
      const skipped = await conn.readBytes(lit.size, limits.timeoutMs, () => undefined);
      if (typeof skipped === 'symbol') return 'closed';
      await discardRest(conn, limits.timeoutMs);
      return refused(r);
    }
    if (isAppend && tag !== undefined && limits.streamable && lit.size >= (limits.appendStreamFrom ?? Infinity)) {
      const head = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      if (limits.streamable(head)) return { append: { tag, head, lit } };
    }
    if (lit.sync) {
      conn.queue('+ Ready for literal data\r\n');
      conn.flush();
    }
    const data = await conn.readBytes(lit.size, limits.timeoutMs);
    if (typeof data === 'symbol') return 'closed';
    parts.push(Buffer.from('\r\n'), data);
  }
}

/** Reads and drops the rest of a refused command (its further non-synchronizing literals). */
export async function discardRest(conn: LineConnection, timeoutMs: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const line = await conn.readLine(maxLine, timeoutMs);
    if (typeof line === 'symbol' && line !== LONG) return;
    if (line === LONG) continue;
    const lit = literalAtEnd(line);
    if (!lit || lit.sync) return;
    const r = await conn.readBytes(lit.size, timeoutMs, () => undefined);
    if (typeof r === 'symbol') return;
  }
}
