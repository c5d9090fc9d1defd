/**
 * @module append-stream
 * APPEND and MULTIAPPEND whose literal is big (from `appendStreamFrom` octets): the literal is
 * not read into memory by the framing (command-reader) but handed to the store as a stream
 * while it arrives, so the store writes it to its file as it comes (Maildir: the folder's tmp/
 * file) and commits it as any other APPEND (the store's appendMany: all or none). The
 * command's later messages (MULTIAPPEND) are read the same way, one literal at a time, and
 * CATENATE messages before or after them (RFC 4469) are made whole and stored in their place.
 * Standards: RFC 9051 §6.3.12 (APPEND: TRYCREATE), §7.5 (the "+" continuation is sent only once
 *   the message is known to be acceptable: a refusal comes instead of it), RFC 7888 (LITERAL+:
 *   a refused non-synchronizing literal is read and thrown away), RFC 3502 (MULTIAPPEND: all or
 *   none), RFC 7889 (APPENDLIMIT), RFC 9208 §5.3 (OVERQUOTA before the octets are taken), RFC
 *   3516 §4.4 (literal8: binary content the store would alter is refused with UNKNOWN-CTE, found
 *   as it streams), RFC 6855 §4 (UTF8 data).
 * Security: the checks of an in-memory APPEND (mailbox, flags, size, quota) are made before
 *   each literal is accepted; a client that goes away or sends a bad command after its literal
 *   leaves no message and no file (the store removes what it wrote); the command text beside
 *   the literals is bounded (maxLine per line, 64 KB in all). What a literal holds is bounded
 *   whatever its size: it is read only as fast as the store writes it (the connection pauses
 *   the socket past its maxBuffered), in the socket's chunks as they came, and the dead ones are
 *   collected every 2 MB (reclaim-memory) rather than when V8's heuristics get to them.
 * Limitations: a CATENATE message's parts are held in memory (its TEXT literals, within the
 *   APPENDLIMIT, and the octets of its URLs but those of a message from the threshold on, read
 *   from its file as the store writes: catenate), before or after a streamed literal.
 */
import { Readable } from 'node:stream';
import type { AppendItem } from '../../core/index.js';
import { formatSequenceSet, literalAtEnd, parseImapCommand, type AppendMessage } from '../../protocol/imap/index.js';
import { CLOSED, INTERRUPTED, LONG, TIMEOUT, type LineConnection } from '../connection/index.js';
import { binaryRefusal, undo, unknownCte } from './append-command.js';
import { catenate, CatenatedStream } from './catenate.js';
import { discardRest, maxLine, type CommandLimits, type Literal, type StreamedAppendStart } from './command-reader.js';
import { folderError, folderName } from './mailbox-names.js';
import { overQuota } from './quota-commands.js';
import { splitFlags } from './message-flags.js';
import { bad, no, ok, type SessionIo, type TaggedResult } from './session-types.js';
import { MemoryReclaimer } from '../../util/index.js';

export { appendStreamFromDefault } from './session-types.js';

/**
 * Why the messages given to the store stopped: the client went away (or stayed silent too long),
 * or the command was refused half-way (the rest of it read). Kept aside, as a store may wrap
 * the error the messages threw in its own (PostgreSQL's transaction does).
 */
type Stop = { cut: true } | { refused: TaggedResult };

class Stopped extends Error {
  constructor(readonly why: Stop) {
    super('cut' in why ? 'client gone' : why.refused.text);
  }
}

/**
 * The messages of `head` with the literal at its end taken as empty: the APPEND's messages so
 * far (CATENATE ones whole, their TEXT literals read), the last one's flags and date known, its
 * octets to come; undefined when the literal at the end is no message's (a CATENATE TEXT part,
 * a syntax error: read whole and answered as usual).
 */
export function appendSoFar(head: Buffer): { mailbox: Buffer; messages: readonly AppendMessage[] } | undefined {
  const open = head.lastIndexOf(0x7b);
  const skeleton = Buffer.concat([head.subarray(0, open), Buffer.from('{0}\r\n')]);
  // RFC 6855 §4: a UTF8 message's literal is in parentheses, closed after its octets
  for (const tail of ['', ')']) {
    const p = parseImapCommand(Buffer.concat([skeleton, Buffer.from(tail)]));
    if (p.ok && p.command.name === 'APPEND' && !p.command.messages[p.command.messages.length - 1].catenate) return p.command;
  }
  return undefined;
}

/** What comes after a literal: messages read whole (CATENATE), then maybe one whose literal is to be streamed. */
interface Next {
  readonly whole: readonly AppendMessage[];
  readonly streamed?: { m: AppendMessage; lit: Literal };
}

interface Session extends SessionIo {
  readonly conn: LineConnection;
}

/** Whether a message may be stored: its refusal otherwise (the checks of append-command). */
function refusal(io: Session, m: AppendMessage, size: number): TaggedResult | undefined {
  if (size > io.ctx.appendLimit) return no('Message too large', 'TOOBIG');
  if (size === 0) return no('Empty message', 'CANNOT');
  if (!splitFlags(m.flags)) return bad('Invalid system flag');
  return undefined;
}

function item(m: AppendMessage, message: Buffer | Readable): AppendItem {
  const flags = splitFlags(m.flags)!;
  return { message, flags: flags.letters, keywords: flags.keywords, ...(m.date !== undefined && { receivedAt: m.date }) };
}

/**
 * Runs an APPEND whose literal at the end of `start.head` is big: its tagged result, or
 * 'closed' when the client went away.
 */
export async function streamedAppend(io: Session, start: StreamedAppendStart, limits: CommandLimits): Promise<TaggedResult | 'closed'> {
  const conn = io.conn;
  const timeout = limits.timeoutMs;
  const first = appendSoFar(start.head)!;
  /** octets of the current literal not read yet, and whether the command's last line was read */
  let left = 0;
  let ended = false;
  let textSize = start.head.length;
  let stop: Stop | undefined;
  const stopped = (why: Stop): Stopped => {
    stop = why;
    return new Stopped(why);
  };
  const refuse = async (r: TaggedResult, lit: Literal | undefined): Promise<never> => {
    // RFC 7888 §4: a non-synchronizing literal is on its way: read it and the rest, then refuse
    if (lit && !lit.sync) {
      if (typeof (await conn.readBytes(lit.size, timeout, () => undefined)) === 'symbol') throw stopped({ cut: true });
      await discardRest(conn, timeout);
    }
    ended = true;
    throw stopped({ refused: r });
  };
  const name = folderName(io, first.mailbox);
  const reclaimer = new MemoryReclaimer();
  let total = 0;
  /** octets of CATENATE TEXT literals read into memory after the first literal (bounded as the command reader bounds them) */
  let heldSize = 0;
  /** checks a message before its literal is taken, and accepts the literal ("+" when synchronizing) */
  const accept = async (m: AppendMessage, lit: Literal, count: number): Promise<void> => {
    const r = refusal(io, m, lit.size) ?? (await overQuota(io, total + lit.size, count));
    if (r) await refuse(r, lit);
    total += lit.size;
    left = lit.size;
    if (lit.sync) {
      conn.queue('+ Ready for literal data\r\n');
      conn.flush();
    }
  };
  /**
   * the literal's octets as they arrive, read only as fast as the store takes them; binary
   * content (RFC 3516 §4.4) checked as it comes against the store's exactOctets: the first piece
   * it would alter refuses the command (the store removes what it wrote, the rest is read)
   */
  const literal = (binary: boolean): Readable => {
    const rule = binary ? io.ctx.folders.exactOctets : undefined;
    const kept = rule?.check();
    return Readable.from(
      (async function* () {
        while (left > 0) {
          // the socket's chunks as they came (views), not joined into new buffers
          const b = await conn.readSome(Math.min(left, 64 * 1024), timeout);
          if (typeof b === 'symbol') throw stopped({ cut: true });
          left -= b.length;
          // each socket read is a fresh 64 KB buffer outside V8's heap, freed only when a
          // collection finds it dead; V8 waits for tens of MB of them (reclaim-memory), so the
          // garbage of a literal would grow with it: a minor collection every 2 MB bounds it
          reclaimer.account(b.length);
          if (kept && !kept(b)) throw stopped({ refused: unknownCte(io) });
          yield b;
        }
      })(),
      { objectMode: false },
    );
  };
  /** a line of the command, or the stop of a client gone or a line too long */
  const line = async (): Promise<Buffer> => {
    let l: Buffer | symbol;
    do l = await conn.readLine(maxLine, timeout);
    while (l === INTERRUPTED);
    if (l === CLOSED || l === TIMEOUT) throw stopped({ cut: true });
    if (l === LONG) {
      ended = true;
      throw stopped({ refused: bad('Command line too long', 'TOOBIG') });
    }
    textSize += (l as Buffer).length;
    return l as Buffer;
  };
  /**
   * The messages of the command after a literal (MULTIAPPEND): CATENATE ones read whole (RFC
   * 4469 with RFC 3502: their TEXT literals in memory, within the APPENDLIMIT), then the next
   * one whose literal is streamed, if any.
   */
  const next = async (utf8: boolean): Promise<Next> => {
    const first = await line();
    let rest = first;
    if (utf8) {
      if (rest[0] !== 0x29) return syntax(first);
      rest = rest.subarray(1);
    }
    if (rest.length === 0) {
      ended = true;
      return { whole: [] };
    }
    const text: Buffer[] = [Buffer.from('x APPEND x'), rest];
    for (let last = rest; ; ) {
      const lit = literalAtEnd(last);
      if (textSize > 64 * 1024) return syntax(last);
      if (!lit) {
        // the command ends here: what came after the literal is messages read whole
        ended = true;
        const p = parseImapCommand(Buffer.concat(text));
        if (!p.ok || p.command.name !== 'APPEND') return syntax(last, true);
        return { whole: p.command.messages };
      }
      const parsed = appendSoFar(Buffer.concat(text));
      if (parsed) return { whole: parsed.messages.slice(0, -1), streamed: { m: parsed.messages[parsed.messages.length - 1], lit } };
      // a literal that is no message's: a CATENATE TEXT part, read whole (a syntax error is found once the command is read)
      heldSize += lit.size;
      if (heldSize > io.ctx.appendLimit) await refuse(no('Message too large', 'TOOBIG'), lit);
      if (lit.sync) {
        conn.queue('+ Ready for literal data\r\n');
        conn.flush();
      }
      const data = await conn.readBytes(lit.size, timeout);
      if (typeof data === 'symbol') throw stopped({ cut: true });
      last = await line();
      text.push(Buffer.from('\r\n'), data, last);
    }
  };
  /** a line that is no continuation of an APPEND: the rest of the command is read (unless `read` already), and BAD */
  const syntax = async (line: Buffer, read = false): Promise<never> => {
    const lit = read ? undefined : literalAtEnd(line);
    if (lit && !lit.sync && typeof (await conn.readBytes(lit.size, timeout, () => undefined)) !== 'symbol') await discardRest(conn, timeout);
    ended = true;
    throw stopped({ refused: bad('Syntax error in APPEND') });
  };
  /** the CATENATE messages streamed from big messages' files (a read failure is the answer) */
  const catenated: CatenatedStream[] = [];
  /** a message read whole (a CATENATE one made now, RFC 4469 §5), checked as append-command checks it; `lit`: the literal to come, if any */
  const whole = async (m: AppendMessage, count: number, lit: Literal | undefined): Promise<AppendItem> => {
    if (count > 1000) await refuse(bad('Too many messages'), lit);
    const made = m.catenate ? await catenate(io, m.catenate) : m.message;
    if (!Buffer.isBuffer(made) && !(made instanceof CatenatedStream)) return refuse(made, lit);
    const size = Buffer.isBuffer(made) ? made.length : made.size;
    const r = refusal(io, m, size) ?? binaryRefusal(io, m) ?? (await overQuota(io, total + size, count));
    if (r) await refuse(r, lit);
    total += size;
    if (Buffer.isBuffer(made)) return item(m, made);
    catenated.push(made);
    return item(m, made.stream());
  };
  // the store takes the messages as they come: those read already, then each literal streamed
  async function* messages(): AsyncGenerator<AppendItem> {
    let count = 0;
    for (let now: Next = { whole: first.messages.slice(0, -1), streamed: { m: first.messages[first.messages.length - 1], lit: start.lit } }; ; ) {
      for (const m of now.whole) yield await whole(m, ++count, now.streamed?.lit);
      const current = now.streamed;
      if (!current) return;
      if (++count > 1000) await refuse(bad('Too many messages'), current.lit);
      await accept(current.m, current.lit, count);
      yield item(current.m, literal(current.m.binary === true));
      // the store read the literal to its end before asking for the next message
      if (left > 0) throw new Error('literal not read to its end');
      now = await next(current.m.utf8 === true);
    }
  }
  const uids: number[] = [];
  let uidValidity = 0;
  try {
    if (name === undefined) await refuse(no('Invalid mailbox name', 'CANNOT'), start.lit);
    // RFC 9051 §6.3.12: a mailbox that does not exist is TRYCREATE, before the octets are sent
    let exists: boolean | TaggedResult;
    try {
      exists = io.ctx.folders.folderExistsNow?.(io.user, name!) ?? (await io.ctx.folders.folderExists(io.user, name!));
    } catch (err) {
      exists = folderError(err);
    }
    if (exists !== true) await refuse(exists === false ? no('Mailbox does not exist', 'TRYCREATE') : exists, start.lit);
    const folders = io.ctx.folders;
    if (folders.appendMany) {
      const r = await folders.appendMany(io.user, name!, messages());
      uids.push(...r.uids);
      uidValidity = r.uidValidity;
    } else {
      for await (const m of messages()) {
        const r = await folders.append(io.user, name!, m.message, { flags: m.flags, ...(m.keywords && { keywords: m.keywords }), ...(m.receivedAt !== undefined && { receivedAt: m.receivedAt }) });
        uids.push(r.uid);
        uidValidity = r.uidValidity;
      }
    }
  } catch (err) {
    // RFC 3502: none of the messages stays (appendMany rolled back its batch itself)
    if (!io.ctx.folders.appendMany && name !== undefined) await undo(io, name, uids);
    if (stop && 'cut' in stop) return 'closed';
    // what the client still sends of the command is read and thrown away before the answer
    if (left > 0 && typeof (await conn.readBytes(left, timeout, () => undefined)) === 'symbol') return 'closed';
    if (!ended) await discardRest(conn, timeout);
    if (stop) return stop.refused;
    const failed = catenated.find((x) => x.failed)?.failed;
    if (failed) return failed.result;
    return folderError(err);
  } finally {
    const sel = io.selected;
    if (uids.length > 0 && name !== undefined) {
      io.ctx.hub.notify(io.user, name);
      if (sel && sel.folder === name) sel.dirty = true;
    }
  }
  return ok('APPEND completed', `APPENDUID ${uidValidity} ${formatSequenceSet(uids)}`);
}
