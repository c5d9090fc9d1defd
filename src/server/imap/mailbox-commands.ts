/**
 * @module mailbox-commands
 * The authenticated-state commands on mailboxes: LIST, LSUB, CREATE, DELETE, RENAME,
 * SUBSCRIBE, UNSUBSCRIBE, STATUS; and SELECT/EXAMINE (APPEND: append-command).
 * Standards: RFC 9051 §6.3 (SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, LIST with
 *   "%" and "*", STATUS; IMAP4rev2 SELECT without RECENT and UNSEEN), RFC 3501 §6.3.9 (LSUB),
 *   RFC 5258 (LIST-EXTENDED: selection SUBSCRIBED, REMOTE, RECURSIVEMATCH with CHILDINFO,
 *   SPECIAL-USE; RETURN SUBSCRIBED, CHILDREN, SPECIAL-USE), RFC 5819 (LIST-STATUS), RFC 6154
 *   (SPECIAL-USE attributes in LIST; CREATE-SPECIAL-USE: one use per CREATE, the USE code),
 *   RFC 8438 (STATUS SIZE), RFC 7889 §3.1 (STATUS APPENDLIMIT, also in LIST-STATUS), RFC 9208
 *   §5.1.1 (STATUS DELETED-STORAGE, which QUOTA=RES-STORAGE requires), RFC 5530
 *   (response codes), RFC 7162 (HIGHESTMODSEQ in SELECT and
 *   STATUS; SELECT (CONDSTORE); SELECT (QRESYNC ...): VANISHED (EARLIER) and FETCH of what
 *   changed; CLOSED when a mailbox is left for another, also under IMAP4rev2).
 * Security: names are checked by mailbox-names (modified UTF-7 or UTF-8) and as path
 *   components by the store (no traversal, no wildcards); everything is scoped to the
 *   session's own user.
 * Limitations: RENAME INBOX is refused; LIST-EXTENDED's REMOTE has no effect (no remote
 *   mailboxes).
 */
import type { FolderEntry, FolderMessage, SpecialUse } from '../../core/index.js';

const creatableUses: readonly SpecialUse[] = ['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive'];
import type { ImapCommand, StatusItem } from '../../protocol/imap/index.js';
import { folderError, folderName, oldNameList, patternName, wireName } from './mailbox-names.js';
import { SelectedMailbox } from './selected-mailbox.js';
import { bad, no, ok, type SessionIo, type TaggedResult } from './session-types.js';

function patternRegex(pattern: string): RegExp {
  let re = '';
  for (const ch of pattern) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += '[^.]*';
    else re += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

function matchesPattern(name: string, re: RegExp): boolean {
  // RFC 9051 §5.1: INBOX is case-insensitive
  return re.test(name) || (name === 'INBOX' && re.test('inbox')) || (name === 'INBOX' && re.test('Inbox'));
}

export async function list(io: SessionIo, c: Extract<ImapCommand, { name: 'LIST' | 'LSUB' }>): Promise<TaggedResult> {
  const reference = patternName(io, c.reference);
  const patterns = c.patterns.map((p) => patternName(io, p));
  // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root
  if (c.name === 'LIST' && patterns.length === 1 && patterns[0] === '') {
    io.untagged(`LIST (\\Noselect) "." ""`);
    return ok('LIST completed');
  }
  const all = await io.ctx.folders.listFolders(io.user);
  const subs = new Set(await io.ctx.folders.listSubscriptions(io.user));
  const onlySubscribed = c.name === 'LSUB' || c.selection.includes('SUBSCRIBED');
  const wantSubscribed = onlySubscribed || c.returns.subscribed;
  const onlySpecial = c.selection.includes('SPECIAL-USE');
  // RFC 5258 §3.5: RECURSIVEMATCH also gives parents of matches, with CHILDINFO
  const recursive = c.selection.includes('RECURSIVEMATCH');
  const names = new Map<string, FolderEntry | undefined>(all.map((f) => [f.name, f]));
  // Maildir++ ".a.b" may exist without ".a": the parent is listed as \NonExistent
  for (const f of all) {
    const levels = f.name.split('.');
    for (let i = 1; i < levels.length; i++) {
      const parent = levels.slice(0, i).join('.');
      if (!names.has(parent)) names.set(parent, undefined);
    }
  }
  if (onlySubscribed) for (const s of subs) if (!names.has(s)) names.set(s, undefined);
  const regexes = patterns.map((p) => patternRegex(reference + p));
  const chosen = (n: string): boolean => (!onlySubscribed || subs.has(n)) && (!onlySpecial || names.get(n)?.specialUse !== undefined);
  for (const [name, entry] of [...names].sort((a, b) => (a[0] === 'INBOX' ? -1 : b[0] === 'INBOX' ? 1 : a[0] < b[0] ? -1 : 1))) {
    if (!regexes.some((re) => matchesPattern(name, re))) continue;
    let childInfo = false;
    let lsubParent = false;
    if (!chosen(name)) {
      // RFC 5258 §3.5: CHILDINFO for a descendant that satisfies the selection but not the pattern;
      // RFC 3501 §6.3.9: LSUB with "%" returns such a parent of a subscribed name, \Noselect
      const hidden = [...names.keys()].some((n) => n.startsWith(`${name}.`) && chosen(n) && !regexes.some((re) => matchesPattern(n, re)));
      if (hidden && recursive) childInfo = true;
      else if (hidden && c.name === 'LSUB') lsubParent = true;
      else continue;
    }
    const attrs: string[] = [];
    if (!entry || lsubParent) attrs.push(c.name === 'LSUB' ? '\\Noselect' : '\\NonExistent');
    const hasChildren = [...names.keys()].some((n) => n.startsWith(`${name}.`));
    if (c.name === 'LIST') attrs.push(hasChildren ? '\\HasChildren' : '\\HasNoChildren');
    if (wantSubscribed && c.name === 'LIST' && subs.has(name)) attrs.push('\\Subscribed');
    if (entry?.specialUse && c.name === 'LIST') attrs.push(entry.specialUse);
    const extra = childInfo ? ` ("CHILDINFO" (${onlySubscribed ? '"SUBSCRIBED"' : '"SPECIAL-USE"'}))` : '';
    io.untagged(`${c.name} (${attrs.join(' ')}) "." ${wireName(io, name)}${extra}`);
    // RFC 5819 §2: LIST-STATUS answers STATUS for each selectable mailbox listed
    if (c.returns.status && entry && !childInfo) {
      const line = await statusLine(io, name, c.returns.status).catch(() => undefined);
      if (typeof line === 'string') io.untagged(line);
    }
  }
  return ok(`${c.name} completed`);
}

/** RFC 6154 §3: the one special use a CREATE may give, or the NO [USE] refusing it. */
function createUse(io: SessionIo, use: readonly string[] | undefined): SpecialUse | undefined | TaggedResult {
  if (use === undefined || use.length === 0) return undefined;
  if (!io.ctx.folders.canCreateSpecialUse) return no('Special use is not supported here', 'USE');
  if (use.length > 1) return no('One special use per mailbox', 'USE');
  const known = creatableUses.find((u) => u.toUpperCase() === use[0].toUpperCase());
  return known ?? no(`Special use ${use[0]} is not supported`, 'USE');
}

export async function create(io: SessionIo, raw: Buffer, use?: readonly string[]): Promise<TaggedResult> {
  const specialUse = createUse(io, use);
  if (typeof specialUse === 'object') return specialUse;
  let name = folderName(io, raw);
  if (name === undefined) return no('Invalid mailbox name', 'CANNOT');
  // RFC 9051 §6.3.4: a trailing delimiter only says the client means to make inferiors
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === 'INBOX') return no('INBOX exists', 'ALREADYEXISTS');
  try {
    await io.ctx.folders.createFolder(io.user, name, specialUse === undefined ? {} : { specialUse });
  } catch (err) {
    return folderError(err);
  }
  const renamed = oldNameList(io, raw);
  if (renamed) io.untagged(renamed);
  return ok('CREATE completed');
}

export async function remove(io: SessionIo, raw: Buffer): Promise<TaggedResult> {
  const name = folderName(io, raw);
  if (name === undefined) return no('Invalid mailbox name', 'CANNOT');
  if (io.selected?.folder === name) io.deselect();
  try {
    await io.ctx.folders.deleteFolder(io.user, name);
  } catch (err) {
    return folderError(err);
  }
  return ok('DELETE completed');
}

export async function rename(io: SessionIo, fromRaw: Buffer, toRaw: Buffer): Promise<TaggedResult> {
  const from = folderName(io, fromRaw);
  const to = folderName(io, toRaw);
  if (from === undefined || to === undefined) return no('Invalid mailbox name', 'CANNOT');
  try {
    await io.ctx.folders.renameFolder(io.user, from, to);
  } catch (err) {
    return folderError(err);
  }
  const renamed = oldNameList(io, toRaw);
  if (renamed) io.untagged(renamed);
  return ok('RENAME completed');
}

export async function subscribe(io: SessionIo, raw: Buffer, on: boolean): Promise<TaggedResult> {
  const name = folderName(io, raw);
  if (name === undefined) return no('Invalid mailbox name', 'CANNOT');
  try {
    // RFC 9051 §6.3.7: subscribing to a mailbox that does not exist is allowed to fail
    if (on && !(await io.ctx.folders.folderExists(io.user, name))) return no('Mailbox does not exist', 'NONEXISTENT');
    await io.ctx.folders.setSubscribed(io.user, name, on);
  } catch (err) {
    return folderError(err);
  }
  return ok(`${on ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} completed`);
}

/** The STATUS response of a mailbox, or the NO that refuses it. */
async function statusLine(io: SessionIo, name: string, items: readonly StatusItem[]): Promise<string | TaggedResult> {
  let snap;
  try {
    snap = await io.ctx.folders.sync(io.user, name);
  } catch (err) {
    return folderError(err);
  }
  const parts: string[] = [];
  const all = snap.list;
  const count = (test: (m: FolderMessage) => boolean): number => {
    let n = 0;
    for (const m of all) if (test(m)) n++;
    return n;
  };
  for (const item of items) {
    let v = 0;
    switch (item) {
      case 'MESSAGES':
        v = all.length;
        break;
      case 'UIDNEXT':
        v = snap.uidNext;
        break;
      case 'UIDVALIDITY':
        v = snap.uidValidity;
        break;
      case 'UNSEEN':
        v = count((m) => !m.flags.includes('S'));
        break;
      case 'DELETED':
        v = count((m) => m.flags.includes('T'));
        break;
      case 'SIZE':
        for (const m of all) v += m.size;
        break;
      case 'RECENT': {
        // RFC 3501 §6.3.10: messages with \Recent (looked at, not claimed)
        const from = io.rev2 || !io.ctx.folders.recentFrom ? Infinity : await io.ctx.folders.recentFrom(io.user, name, false);
        v = count((x) => x.uid >= from);
        break;
      }
      case 'HIGHESTMODSEQ':
        io.enableCondstore();
        v = snap.highestModseq;
        break;
      case 'DELETED-STORAGE':
        // RFC 9208: what an EXPUNGE would free, as the sum of the \Deleted messages' RFC822.SIZE
        // in octets (the value the RFC allows, and James's Status.test expects), not 1024-octet units
        for (const m of all) if (m.flags.includes('T')) v += m.size;
        break;
      case 'APPENDLIMIT':
        // RFC 7889 §3.1: the mailbox's limit, here the server's one for every mailbox
        v = io.ctx.appendLimit;
        break;
    }
    parts.push(`${item} ${v}`);
  }
  return `STATUS ${wireName(io, name)} (${parts.join(' ')})`;
}

export async function status(io: SessionIo, c: Extract<ImapCommand, { name: 'STATUS' }>): Promise<TaggedResult> {
  const name = folderName(io, c.mailbox);
  if (name === undefined) return no('Invalid mailbox name', 'CANNOT');
  const line = await statusLine(io, name, c.items);
  if (typeof line !== 'string') return line;
  io.untagged(line);
  return ok('STATUS completed');
}

export async function select(io: SessionIo, c: Extract<ImapCommand, { name: 'SELECT' | 'EXAMINE' }>): Promise<TaggedResult> {
  const readOnly = c.name === 'EXAMINE';
  // RFC 7162 §3.2.5: QRESYNC parameters only once QRESYNC is enabled
  if (c.qresync && !io.qresync) return bad('QRESYNC is not enabled');
  const wasSelected = io.selected !== undefined;
  // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected
  io.deselect();
  // RFC 7162 §3.2.11: the previous mailbox's updates end here
  // (IMAP4rev2 has it too: RFC 9051 §7.1)
  if (wasSelected && (io.qresync || io.rev2)) io.untagged('OK [CLOSED] Previous mailbox closed');
  if (c.condstore) io.enableCondstore();
  const name = folderName(io, c.mailbox);
  if (name === undefined) return no('Invalid mailbox name', 'CANNOT');
  const m = new SelectedMailbox(io.user, name, readOnly, io.ctx.folders, io);
  try {
    await m.open();
  } catch (err) {
    return folderError(err);
  }
  for (const line of m.flagLines()) io.untagged(line.slice(2));
  io.untagged(`${m.exists} EXISTS`);
  // RFC 9051 Appendix E: IMAP4rev2 has neither RECENT nor the UNSEEN response code
  if (!io.rev2) {
    io.untagged(`${m.recentCount} RECENT`);
    let firstUnseen = -1;
    for (const [i, x] of m.entries()) {
      if (x.flags.includes('S')) continue;
      firstUnseen = i;
      break;
    }
    if (firstUnseen >= 0) io.untagged(`OK [UNSEEN ${firstUnseen + 1}] First unseen`);
  }
  io.untagged(`OK [UIDVALIDITY ${m.uidValidity}] UIDs valid`);
  io.untagged(`OK [UIDNEXT ${m.uidNext}] Predicted next UID`);
  // RFC 7162 §3.1.2.1: sent on every SELECT, the MODSEQs are kept for good
  io.untagged(`OK [HIGHESTMODSEQ ${m.highestModseq}] Highest`);
  const q = c.qresync;
  if (q && q.uidValidity === m.uidValidity) {
    // RFC 7162 §3.2.5.1: what went, then what changed, among the UIDs the client knows
    try {
      for (const line of await m.resyncLines(q.modseq, q.knownUids)) io.untagged(line.slice(2));
    } catch (err) {
      return folderError(err);
    }
  }
  io.select(m);
  return ok(`${readOnly ? 'EXAMINE' : 'SELECT'} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
}
