/**
 * @module imap-command
 * One IMAP command, parsed from the octets the session collected (the command line with its
 * literals in place): the tag, the command name and typed arguments (their shapes in
 * imap-command-types; the longer argument grammars in command-args).
 * Standards: RFC 9051 §6 (commands and their arguments), §9 (formal syntax); RFC 3501 §6.3.9
 *   (LSUB); RFC 4959 (SASL-IR initial response); RFC 2971 (ID); RFC 5161 (ENABLE); RFC 6154
 *   and RFC 5258 (LIST selection and RETURN options); RFC 4315 (UID EXPUNGE); RFC 6851 (MOVE);
 *   RFC 7162 (SELECT/EXAMINE CONDSTORE and QRESYNC parameters, FETCH CHANGEDSINCE and
 *   VANISHED modifiers, STORE UNCHANGEDSINCE, STATUS HIGHESTMODSEQ); RFC 3502 (MULTIAPPEND);
 *   RFC 6855 §4 (APPEND's UTF8 data); RFC 3516 (literal8 in APPEND); RFC 4469 (CATENATE);
 *   RFC 5256 (SORT, THREAD and their UID forms); RFC 4978 (COMPRESS); RFC 9394 (PARTIAL).
 * Security: the parse never trusts counts or nesting (imap-reader, fetch-items, search-key
 *   bound them); a failure gives the tag when one could be read, so the BAD can carry it.
 * Limitations: none.
 */
import { appendMessage, atomList, listReturns, maxAppendMessages, quotaArgs, selectArgs, seqSet, statusList } from './command-args.js';
import { readFetchItems } from './fetch-items.js';
import type { AppendMessage, ImapCommand, ListReturn, ParsedCommand } from './imap-command-types.js';
import { ImapReader, ImapSyntaxError } from './imap-reader.js';
import { readDate, readSearchKeys } from './search-key.js';
import { readPartialRange, readSearchReturn, type PartialRange } from './search-return.js';
import { readSortArgs, readThreadArgs } from './sort-order.js';

export type { StatusItem, ListReturn, QresyncParams, AppendMessage, CatPart, ImapCommand, ParsedCommand } from './imap-command-types.js';
export type { SearchReturn, PartialRange } from './search-return.js';
export { parseDateTime, formatDateTime } from './date-time.js';

const noArgs = new Set(['CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'IDLE', 'NAMESPACE']);
const oneMailbox = new Set(['CREATE', 'DELETE', 'SUBSCRIBE', 'UNSUBSCRIBE']);

export function parseImapCommand(buf: Buffer): ParsedCommand {
  const r = new ImapReader(buf);
  let tag: string | undefined;
  try {
    tag = r.tag();
    r.sp();
    let name = r.atom().toUpperCase();
    let uid = false;
    if (name === 'UID') {
      r.sp();
      uid = true;
      name = r.atom().toUpperCase();
      if (!['FETCH', 'STORE', 'COPY', 'MOVE', 'SEARCH', 'EXPUNGE', 'SORT', 'THREAD'].includes(name)) {
        return { ok: false, tag, reason: `unknown command UID ${name}`, unknown: true };
      }
    }
    const command = parseArgs(r, name, uid);
    if (command === undefined) return { ok: false, tag, reason: `unknown command ${name}`, unknown: true };
    r.end();
    return { ok: true, tag, command };
  } catch (err) {
    if (err instanceof ImapSyntaxError) return { ok: false, ...(tag !== undefined && { tag }), reason: err.message };
    throw err;
  }
}

function parseArgs(r: ImapReader, name: string, uid: boolean): ImapCommand | undefined {
  if (noArgs.has(name) && !uid) return { name } as ImapCommand;
  if (oneMailbox.has(name)) {
    r.sp();
    const mailbox = r.astring();
    if (name !== 'CREATE' || !r.maybeSp()) return { name, mailbox } as ImapCommand;
    // RFC 6154 §3 (RFC 4466 create-param): CREATE name (USE (\\Sent ...))
    r.expect('(');
    if (r.atom().toUpperCase() !== 'USE') r.fail('USE');
    r.sp();
    const use = r.flagList();
    r.expect(')');
    return { name, mailbox, use };
  }
  switch (name) {
    case 'SELECT':
    case 'EXAMINE':
      return selectArgs(r, name);
    case 'LOGIN': {
      r.sp();
      const user = r.astring().toString('utf8');
      r.sp();
      return { name, user, password: r.astring().toString('utf8') };
    }
    case 'AUTHENTICATE': {
      r.sp();
      const mechanism = r.atom().toUpperCase();
      // RFC 4959: an initial response, "=" for an empty one
      if (!r.maybeSp()) return { name, mechanism };
      const ir = r.atom();
      return { name, mechanism, initial: ir === '=' ? '' : ir };
    }
    case 'COMPRESS':
      // RFC 4978 §3: COMPRESS SP algorithm
      r.sp();
      return { name, mechanism: r.atom().toUpperCase() };
    case 'ENABLE': {
      const capabilities: string[] = [];
      while (r.maybeSp()) capabilities.push(r.atom().toUpperCase());
      if (capabilities.length === 0) r.fail('capability');
      return { name, capabilities };
    }
    case 'ID': {
      r.sp();
      if (r.peekWord('NIL')) {
        r.pos += 3;
        return { name, params: null };
      }
      r.expect('(');
      const params: [string, string | null][] = [];
      while (r.peek() !== 0x29) {
        if (params.length > 0) r.sp();
        const k = r.string().toString('utf8');
        r.sp();
        const v = r.nstring();
        params.push([k, v === null ? null : v.toString('utf8')]);
        // RFC 2971 §3.3: at most 30 field-value pairs
        if (params.length > 30) r.fail('at most 30 ID fields');
      }
      r.expect(')');
      return { name, params };
    }
    case 'RENAME': {
      r.sp();
      const from = r.astring();
      r.sp();
      return { name, from, to: r.astring() };
    }
    case 'LIST':
    case 'LSUB': {
      r.sp();
      let selection: string[] = [];
      if (name === 'LIST' && r.peek() === 0x28) {
        selection = atomList(r);
        // RFC 5258 §3.1: unknown options are errors; RECURSIVEMATCH needs another option
        if (selection.some((x) => !['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE'].includes(x))) r.fail('a known selection option');
        if (selection.includes('RECURSIVEMATCH') && !selection.some((x) => x === 'SUBSCRIBED' || x === 'SPECIAL-USE')) r.fail('RECURSIVEMATCH with SUBSCRIBED');
        r.sp();
      }
      const reference = r.astring();
      r.sp();
      const patterns: Buffer[] = [];
      if (name === 'LIST' && r.peek() === 0x28) {
        r.pos++;
        while (r.peek() !== 0x29) {
          if (patterns.length > 0) r.sp();
          patterns.push(r.listMailbox());
          if (patterns.length > 50) r.fail('fewer patterns');
        }
        r.expect(')');
      } else patterns.push(r.listMailbox());
      let returns: ListReturn = { subscribed: false, children: false, specialUse: false };
      if (name === 'LIST' && r.maybeSp()) {
        if (r.atom().toUpperCase() !== 'RETURN') r.fail('RETURN');
        r.sp();
        returns = listReturns(r);
      }
      return { name, reference, patterns, selection, returns };
    }
    case 'STATUS': {
      r.sp();
      const mailbox = r.astring();
      r.sp();
      return { name, mailbox, items: statusList(r) };
    }
    case 'APPEND': {
      r.sp();
      const mailbox = r.astring();
      const messages: AppendMessage[] = [];
      // RFC 3502 §6: MULTIAPPEND repeats [flags] [date-time] message
      while (r.maybeSp()) {
        messages.push(appendMessage(r));
        if (messages.length > maxAppendMessages) r.fail(`at most ${maxAppendMessages} messages`);
      }
      if (messages.length === 0) r.fail('message');
      return { name, mailbox, messages };
    }
    case 'SEARCH': {
      r.sp();
      let ret: ReturnType<typeof readSearchReturn> | undefined;
      let charset: string | undefined;
      if (r.peekWord('RETURN')) {
        r.pos += 6;
        r.sp();
        ret = readSearchReturn(r, false);
        r.sp();
      }
      if (r.peekWord('CHARSET')) {
        r.pos += 7;
        r.sp();
        charset = r.astring().toString('latin1').toUpperCase();
        r.sp();
      }
      const key = readSearchKeys(r);
      return { name, uid, ...ret, ...(charset !== undefined && { charset }), key };
    }
    case 'FETCH': {
      r.sp();
      const set = seqSet(r);
      r.sp();
      const items = readFetchItems(r);
      if (!r.maybeSp()) return { name, uid, set, items };
      // RFC 7162 §3.1.4.1, §3.2.6: "(CHANGEDSINCE n [VANISHED])", any order
      r.expect('(');
      let changedSince: number | undefined;
      let vanished = false;
      let partial: PartialRange | undefined;
      for (let first = true; r.peek() !== 0x29; first = false) {
        if (!first) r.sp();
        const mod = r.atom().toUpperCase();
        if (mod === 'CHANGEDSINCE' && changedSince === undefined) {
          r.sp();
          changedSince = r.modseq();
        } else if (mod === 'VANISHED' && !vanished) vanished = true;
        else if (mod === 'PARTIAL' && partial === undefined) {
          // RFC 9394 §3.2: only those of the set's messages at these positions
          r.sp();
          partial = readPartialRange(r);
        } else r.fail('CHANGEDSINCE, VANISHED or PARTIAL');
      }
      r.expect(')');
      return { name, uid, set, items, ...(changedSince !== undefined && { changedSince }), ...(vanished && { vanished }), ...(partial && { partial }) };
    }
    case 'STORE': {
      r.sp();
      const set = seqSet(r);
      r.sp();
      let unchangedSince: number | undefined;
      if (r.peek() === 0x28) {
        // RFC 7162 §3.1.3: "(UNCHANGEDSINCE n)"
        r.pos++;
        if (r.atom().toUpperCase() !== 'UNCHANGEDSINCE') r.fail('UNCHANGEDSINCE');
        r.sp();
        unchangedSince = r.modseq();
        r.expect(')');
        r.sp();
      }
      const m = /^([+-]?)FLAGS(\.SILENT)?$/i.exec(r.atom());
      if (!m) r.fail('FLAGS, +FLAGS or -FLAGS');
      r.sp();
      const flags = r.peek() === 0x28 ? r.flagList() : [r.flag()];
      while (r.peek() === 0x20 && r.buf[r.pos + 1] !== 0x28) {
        r.pos++;
        flags.push(r.flag());
      }
      const mode = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
      return { name, uid, set, mode, silent: m[2] !== undefined, flags, ...(unchangedSince !== undefined && { unchangedSince }) };
    }
    case 'COPY':
    case 'MOVE': {
      r.sp();
      const set = seqSet(r);
      r.sp();
      return { name, uid, set, mailbox: r.astring() };
    }
    case 'SORT': {
      r.sp();
      // RFC 5267 §3: SORT RETURN (...) criteria charset keys
      let ret: ReturnType<typeof readSearchReturn> | undefined;
      if (r.peekWord('RETURN')) {
        r.pos += 6;
        r.sp();
        ret = readSearchReturn(r, true);
        r.sp();
      }
      return { name, uid, ...ret, ...readSortArgs(r) };
    }
    case 'THREAD':
      r.sp();
      return { name, uid, ...readThreadArgs(r) };
    case 'EXPUNGE':
      if (!uid) return undefined;
      r.sp();
      return { name: 'UID EXPUNGE', set: seqSet(r) };
    case 'GETQUOTA':
    case 'GETQUOTAROOT':
    case 'SETQUOTA':
      return uid ? undefined : quotaArgs(r, name);
    default:
      return undefined;
  }
}

export { readDate };
