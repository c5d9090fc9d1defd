/**
 * @module imap-command
 * One IMAP command, parsed from the octets the session collected (the command line with its
 * literals in place): the tag, the command name and typed arguments.
 * Standards: RFC 9051 §6 (commands and their arguments), §9 (formal syntax); RFC 3501 §6.3.9
 *   (LSUB); RFC 4959 (SASL-IR initial response); RFC 2971 (ID); RFC 5161 (ENABLE); RFC 6154
 *   and RFC 5258 (LIST selection and RETURN options); RFC 4315 (UID EXPUNGE); RFC 6851 (MOVE).
 * Security: the parse never trusts counts or nesting (imap-reader, fetch-items, search-key
 *   bound them); a failure gives the tag when one could be read, so the BAD can carry it.
 *   RFC 7162 (SELECT/EXAMINE CONDSTORE and QRESYNC parameters, FETCH CHANGEDSINCE and
 *   VANISHED modifiers, STORE UNCHANGEDSINCE, STATUS HIGHESTMODSEQ).
 *   RFC 3502 (MULTIAPPEND); RFC 6855 §4 (APPEND's UTF8 data); RFC 3516 (literal8 in APPEND);
 *   RFC 5256 (SORT, THREAD and their UID forms); RFC 4978 (COMPRESS).
 * Limitations: no CATENATE.
 */
import { readFetchItems, type FetchItem } from './fetch-items.js';
import { ImapReader, ImapSyntaxError } from './imap-reader.js';
import { readDate, readSearchKeys, type SearchKey } from './search-key.js';
import { parseSequenceSet, type SequenceSet } from './sequence-set.js';
import { readSortArgs, readThreadArgs, type SortCriterion, type ThreadAlgorithm } from './sort-order.js';

export type StatusItem = 'MESSAGES' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'DELETED' | 'SIZE' | 'RECENT' | 'HIGHESTMODSEQ';

import { readPartialRange, readSearchReturn, type PartialRange, type SearchReturn } from './search-return.js';

export type { SearchReturn, PartialRange } from './search-return.js';

/** RFC 5258 §3.2 and RFC 5819: LIST return options. */
export interface ListReturn {
  readonly subscribed: boolean;
  readonly children: boolean;
  readonly specialUse: boolean;
  /** STATUS items of LIST-STATUS */
  readonly status?: readonly StatusItem[];
}

/** RFC 7162 §3.2.5: what a client knew of a mailbox (SELECT ... (QRESYNC (...))). */
export interface QresyncParams {
  readonly uidValidity: number;
  readonly modseq: number;
  readonly knownUids?: SequenceSet;
  /** known sequence numbers and their UIDs: a hint the server may use */
  readonly seqMatch?: { readonly seqs: SequenceSet; readonly uids: SequenceSet };
}

/** One message of an APPEND (RFC 3502: several in one command). */
export interface AppendMessage {
  readonly flags: readonly string[];
  readonly date?: number;
  /** empty with `catenate` */
  readonly message: Buffer;
  /** RFC 6855 §4: sent as "UTF8 (literal8)" */
  readonly utf8?: boolean;
  /** RFC 4469 §5: the message made of these parts, in order */
  readonly catenate?: readonly CatPart[];
}

/** RFC 4469 §5 cat-part: text sent in the command, or an IMAP URL of a message or part. */
export type CatPart = { readonly text: Buffer } | { readonly url: string };

export type ImapCommand =
  | { readonly name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'EXPUNGE' | 'IDLE' | 'NAMESPACE' }
  | { readonly name: 'LOGIN'; readonly user: string; readonly password: string }
  | { readonly name: 'AUTHENTICATE'; readonly mechanism: string; readonly initial?: string }
  | { readonly name: 'ENABLE'; readonly capabilities: readonly string[] }
  | { readonly name: 'COMPRESS'; readonly mechanism: string }
  | { readonly name: 'ID'; readonly params: readonly (readonly [string, string | null])[] | null }
  | { readonly name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE'; readonly mailbox: Buffer }
  | { readonly name: 'CREATE'; readonly mailbox: Buffer; readonly use?: readonly string[] }
  | { readonly name: 'SELECT' | 'EXAMINE'; readonly mailbox: Buffer; readonly condstore?: boolean; readonly qresync?: QresyncParams }
  | { readonly name: 'RENAME'; readonly from: Buffer; readonly to: Buffer }
  | {
      readonly name: 'LIST' | 'LSUB';
      readonly reference: Buffer;
      readonly patterns: readonly Buffer[];
      /** RFC 5258 §3.1 selection options: SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE */
      readonly selection: readonly string[];
      readonly returns: ListReturn;
    }
  | { readonly name: 'STATUS'; readonly mailbox: Buffer; readonly items: readonly StatusItem[] }
  | { readonly name: 'APPEND'; readonly mailbox: Buffer; readonly messages: readonly AppendMessage[] }
  | { readonly name: 'SEARCH'; readonly uid: boolean; readonly returns?: readonly SearchReturn[]; readonly partial?: PartialRange; readonly charset?: string; readonly key: SearchKey }
  | {
      readonly name: 'FETCH';
      readonly uid: boolean;
      readonly set: SequenceSet;
      readonly items: readonly FetchItem[];
      readonly partial?: PartialRange;
      /** RFC 7162 §3.1.4.1 CHANGEDSINCE, §3.2.6 VANISHED */
      readonly changedSince?: number;
      readonly vanished?: boolean;
    }
  | {
      readonly name: 'STORE';
      readonly uid: boolean;
      readonly set: SequenceSet;
      readonly mode: 'set' | 'add' | 'remove';
      readonly silent: boolean;
      readonly flags: readonly string[];
      /** RFC 7162 §3.1.3 */
      readonly unchangedSince?: number;
    }
  | { readonly name: 'COPY' | 'MOVE'; readonly uid: boolean; readonly set: SequenceSet; readonly mailbox: Buffer }
  | { readonly name: 'UID EXPUNGE'; readonly set: SequenceSet }
  | { readonly name: 'SORT'; readonly uid: boolean; readonly returns?: readonly SearchReturn[]; readonly partial?: PartialRange; readonly criteria: readonly SortCriterion[]; readonly charset: string; readonly key: SearchKey }
  | { readonly name: 'THREAD'; readonly uid: boolean; readonly algorithm: ThreadAlgorithm; readonly charset: string; readonly key: SearchKey }
  // RFC 9208 §4.1-§4.3 (QUOTA)
  | { readonly name: 'GETQUOTA'; readonly root: Buffer }
  | { readonly name: 'GETQUOTAROOT'; readonly mailbox: Buffer }
  | { readonly name: 'SETQUOTA'; readonly root: Buffer; readonly limits: readonly (readonly [string, number])[] };

export type ParsedCommand =
  | { readonly ok: true; readonly tag: string; readonly command: ImapCommand }
  | { readonly ok: false; readonly tag?: string; readonly reason: string; readonly unknown?: boolean };

const noArgs = new Set(['CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'IDLE', 'NAMESPACE']);
const oneMailbox = new Set(['CREATE', 'DELETE', 'SUBSCRIBE', 'UNSUBSCRIBE']);
const statusItems = new Set(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ']);

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 9051 §9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may start with a space). */
export function parseDateTime(s: string): number | undefined {
  const m = /^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(s);
  if (!m) return undefined;
  const mon = months.findIndex((x) => x.toLowerCase() === m[2].toLowerCase());
  if (mon < 0) return undefined;
  const [d, h, mi, sec] = [Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])];
  if (d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return undefined;
  const zone = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  return Date.UTC(Number(m[3]), mon, d, h, mi, sec) - zone * 60_000;
}

/** Formats an INTERNALDATE (RFC 9051 §9 date-time) in UTC. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}-${months[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

function seqSet(r: ImapReader): SequenceSet {
  const set = parseSequenceSet(r.seqSetText());
  if (!set) r.fail('sequence set');
  return set;
}

function atomList(r: ImapReader): string[] {
  r.expect('(');
  const out: string[] = [];
  while (r.peek() !== 0x29) {
    if (out.length > 0) r.sp();
    out.push(r.atom().toUpperCase());
    if (out.length > 50) r.fail('fewer options');
  }
  r.expect(')');
  return out;
}

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

/** The bound on MULTIAPPEND's messages in one command (their octets are bounded by the session). */
export const maxAppendMessages = 1000;

/** [flag-list SP] [date-time SP] (literal / literal8 / "UTF8" SP "(" literal8 ")"). */
function appendMessage(r: ImapReader): AppendMessage {
  let flags: string[] = [];
  let date: number | undefined;
  if (r.peek() === 0x28) {
    flags = r.flagList();
    r.sp();
  }
  if (r.peek() === 0x22) {
    date = parseDateTime(r.string().toString('latin1'));
    if (date === undefined) r.fail('date-time');
    r.sp();
  }
  let utf8 = false;
  let message: Buffer;
  if (r.peekWord('CATENATE')) {
    r.pos += 8;
    r.sp();
    return { flags, ...(date !== undefined && { date }), message: Buffer.alloc(0), catenate: catParts(r) };
  }
  if (r.peekWord('UTF8')) {
    // RFC 6855 §4: append-data =/ "UTF8" SP "(" literal8 ")"
    r.pos += 4;
    r.sp();
    r.expect('(');
    message = r.literal(true);
    r.expect(')');
    utf8 = true;
  } else message = r.literal(true);
  return { flags, ...(date !== undefined && { date }), message, ...(utf8 && { utf8 }) };
}

/** RFC 4469 §5: "(" cat-part *(SP cat-part) ")", cat-part = "TEXT" SP literal / "URL" SP astring (RFC 3516 §4.4: literal8 too). */
function catParts(r: ImapReader): CatPart[] {
  r.expect('(');
  const parts: CatPart[] = [];
  while (r.peek() !== 0x29) {
    if (parts.length > 0) r.sp();
    const kind = r.atom().toUpperCase();
    r.sp();
    if (kind === 'TEXT') parts.push({ text: r.literal(true) });
    else if (kind === 'URL') parts.push({ url: r.astring().toString('utf8') });
    else r.fail('TEXT or URL');
    if (parts.length > maxCatParts) r.fail(`at most ${maxCatParts} parts`);
  }
  r.expect(')');
  if (parts.length === 0) r.fail('a part');
  return parts;
}

const maxCatParts = 100;

/** RFC 9208 §4: GETQUOTA root, GETQUOTAROOT mailbox, SETQUOTA root "(" *(resource SP number) ")". */
function quotaArgs(r: ImapReader, name: 'GETQUOTA' | 'GETQUOTAROOT' | 'SETQUOTA'): ImapCommand {
  r.sp();
  const arg = r.astring();
  if (name === 'GETQUOTAROOT') return { name, mailbox: arg };
  if (name === 'GETQUOTA') return { name, root: arg };
  r.sp();
  r.expect('(');
  const limits: [string, number][] = [];
  while (r.peek() !== 0x29) {
    if (limits.length > 0) r.sp();
    const resource = r.atom().toUpperCase();
    r.sp();
    limits.push([resource, r.number()]);
    if (limits.length > 20) r.fail('fewer resources');
  }
  r.expect(')');
  return { name, root: arg, limits };
}

/** RFC 5258 §3.2 return options, with RFC 5819's STATUS (items). */
function listReturns(r: ImapReader): ListReturn {
  r.expect('(');
  const out = { subscribed: false, children: false, specialUse: false } as { -readonly [K in keyof ListReturn]: ListReturn[K] };
  for (let first = true; r.peek() !== 0x29; first = false) {
    if (!first) r.sp();
    const o = r.atom().toUpperCase();
    if (o === 'SUBSCRIBED') out.subscribed = true;
    else if (o === 'CHILDREN') out.children = true;
    else if (o === 'SPECIAL-USE') out.specialUse = true;
    else if (o === 'STATUS' && !out.status) {
      r.sp();
      out.status = statusList(r);
    } else r.fail('SUBSCRIBED, CHILDREN, SPECIAL-USE or STATUS');
  }
  r.expect(')');
  return out;
}

function statusList(r: ImapReader): StatusItem[] {
  const items = atomList(r);
  if (items.length === 0 || items.some((i) => !statusItems.has(i))) r.fail('status items');
  return items as StatusItem[];
}

/** SELECT/EXAMINE mailbox [SP "(" select-param *(SP select-param) ")"] (RFC 7162 §7). */
function selectArgs(r: ImapReader, name: 'SELECT' | 'EXAMINE'): ImapCommand {
  r.sp();
  const mailbox = r.astring();
  if (!r.maybeSp()) return { name, mailbox };
  r.expect('(');
  let condstore = false;
  let qresync: QresyncParams | undefined;
  for (let first = true; r.peek() !== 0x29; first = false) {
    if (!first) r.sp();
    const p = r.atom().toUpperCase();
    if (p === 'CONDSTORE' && !condstore) condstore = true;
    else if (p === 'QRESYNC' && !qresync) {
      r.sp();
      r.expect('(');
      const uidValidity = r.nzNumber();
      r.sp();
      const modseq = r.modseq();
      let knownUids: SequenceSet | undefined;
      let seqMatch: QresyncParams['seqMatch'];
      if (r.maybeSp() && r.peek() !== 0x28) {
        knownUids = seqSet(r);
        r.maybeSp();
      }
      if (r.peek() === 0x28) {
        r.pos++;
        const seqs = seqSet(r);
        r.sp();
        seqMatch = { seqs, uids: seqSet(r) };
        r.expect(')');
      }
      r.expect(')');
      qresync = { uidValidity, modseq, ...(knownUids && { knownUids }), ...(seqMatch && { seqMatch }) };
    } else r.fail('CONDSTORE or QRESYNC');
  }
  r.expect(')');
  return { name, mailbox, ...(condstore && { condstore }), ...(qresync && { qresync }) };
}

export { readDate };
