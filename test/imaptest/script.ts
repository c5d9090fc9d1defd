/**
 * @module script
 * Reads one imaptest scripted test (`scripted_test.md` beside the scripts in
 * ../shared/corpora/imap/imaptest/tests): the header (capabilities, connections, messages,
 * state, ignore_extra_untagged, `user N`), then command groups. A group is one command with its
 * expected tagged reply given first (`ok select $mailbox`) or after its untagged replies
 * (`select $mailbox` … `ok [read-write]`), or several pipelined commands with tags
 * (`tag1 create …` … `tag1 ok`), on one connection (a leading number when there are several);
 * `*` lines must arrive, `!` lines must not, `?` lines may. `{{{`…`}}}` is a literal (`~{{{`
 * literal8, lines joined by LF as written, otherwise by CRLF; the last line's end is not part of
 * it). `!ifenv`/`!ifnenv`/`!else`/`!endif`, `!ordered` and `!sleep` are understood.
 * Standards: none beyond the format's description; the expected lists get the format's default
 *   directives (FETCH items in pairs in any order, FLAGS as a set ignoring \Recent, LIST
 *   attributes and STATUS items in any order) unless they give their own.
 * Security: reads files of the corpus only; a malformed script is an error naming its line.
 * Limitations: banner checks (a group of untagged lines only) and `!output` are not
 *   supported (no script of the corpus has them).
 */
import { readArgs, type ImapArg } from './imap-args.js';

export type Startup = 'nonauth' | 'auth' | 'created' | 'appended' | 'selected';
export const startupOrder: readonly Startup[] = ['nonauth', 'auth', 'created', 'appended', 'selected'];

/** A command's text: plain parts (variables expanded when sent) and literals (sent as they are). */
export type CommandPart = { readonly text: string } | { readonly literal: string; readonly binary: boolean };

export interface ScriptCommand {
  readonly line: number;
  /** 0 for an untagged-by-the-script command, else N of `tagN` */
  readonly tag: number;
  readonly parts: CommandPart[];
  /** the expected tagged reply (prefix match): `ok`, `no [trycreate]`, `""` (anything) … */
  reply: ImapArg[] | undefined;
}

export interface ExpectedUntagged {
  readonly args: ImapArg[];
  /** `*` must arrive, `!` must not, `?` may */
  readonly existence: '*' | '!' | '?';
}

export interface ScriptGroup {
  /** 0-based connection */
  conn: number;
  readonly commands: ScriptCommand[];
  readonly untagged: ExpectedUntagged[];
  ordered: boolean;
  sleepMs: number;
  /** a `* bye` is expected: the connection may close */
  expectsBye: boolean;
}

export interface Script {
  readonly name: string;
  capabilities: string[];
  connections: number;
  /** messages appended at startup: a number, or every message of the mbox */
  messages: number | 'all';
  state: Startup;
  ignoreExtraUntagged: boolean;
  /** `user N: $user2`: connection N logs in as the second test user */
  needsSecondUser: boolean;
  readonly groups: ScriptGroup[];
}

export class ScriptError extends Error {}

const replyWord = /^(ok|no|bad|"")(?= |$)/i;

/** `[tagN ]ok|no|bad|""…`: the tag (0 if none), and the reply text from ok/no/bad/"" on. */
function tagAndReply(line: string): { tag: number; reply: string | undefined; rest: string } {
  let tag = 0;
  let rest = line;
  const t = /^tag(\d+) /i.exec(rest);
  if (t && Number(t[1]) > 0) {
    tag = Number(t[1]);
    rest = rest.slice(t[0].length);
  }
  const r = replyWord.exec(rest);
  if (!r) return { tag, reply: undefined, rest };
  return { tag, reply: rest, rest: rest.slice(r[0].length).replace(/^ /, '') };
}

function splitParts(text: string): CommandPart[] {
  const parts: CommandPart[] = [];
  let i = 0;
  const re = /(~?)\{(\d+)\}\r\n/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > i) parts.push({ text: text.slice(i, m.index) });
    const start = m.index + m[0].length;
    parts.push({ literal: text.slice(start, start + Number(m[2])), binary: m[1] === '~' });
    i = start + Number(m[2]);
    re.lastIndex = i;
  }
  if (i < text.length || parts.length === 0) parts.push({ text: text.slice(i) });
  return parts;
}

/** Reads a script (its octets as latin1). */
export function parseScript(name: string, source: string): Script {
  const script: Script = { name, capabilities: [], connections: 1, messages: 'all', state: 'selected', ignoreExtraUntagged: true, needsSecondUser: false, groups: [] };
  const lines = source.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let header = true;
  let group: ScriptGroup | undefined;
  let pending = 0;
  const skipStack: { outer: boolean; skip: boolean; elseSeen: boolean }[] = [];
  let skip = false;
  const fail = (n: number, why: string): never => {
    throw new ScriptError(`${name} line ${n}: ${why}`);
  };

  const headerLine = (n: number, line: string): void => {
    const m = /^([^:]*?) *: *(.*)$/.exec(line);
    if (!m) fail(n, "missing ':' in the header");
    const key = m![1].toLowerCase();
    const value = m![2];
    if (key === 'capabilities') script.capabilities = value.split(/\s+/).filter(Boolean);
    else if (key === 'connections') script.connections = Number(value);
    else if (key === 'ignore_extra_untagged') script.ignoreExtraUntagged = value.startsWith('y');
    else if (key === 'messages') script.messages = value === 'all' ? 'all' : Number(value);
    else if (key === 'state') {
      const s = value.toLowerCase() as Startup;
      if (!startupOrder.includes(s)) fail(n, `unknown state ${value}`);
      script.state = s;
    } else if (/^user \d+$/.test(key)) {
      if (/^\$\{?user2\}?$/.test(value)) script.needsSecondUser = true;
    } else fail(n, `unknown header ${key}`);
    if (!(script.connections >= 1 && script.connections <= 100)) fail(n, 'connections must be 1 to 100');
  };

  const untaggedLine = (n: number, line: string): boolean => {
    const e = line.slice(0, 2);
    if (e !== '* ' && e !== '! ' && e !== '? ') return false;
    if (!group || group.commands.length === 0) fail(n, 'banner checks are not supported');
    const args = addDefaultDirectives(readArgs(line.slice(2)));
    const first = args[0]?.t === 'atom' && /^[$0-9]/.test(args[0].v) ? args[1] : args[0];
    if (first?.t === 'atom' && /^bye/i.test(first.v) && e !== '! ') {
      if (e === '? ') fail(n, '? BYE is not supported');
      group!.expectsBye = true;
    }
    group!.untagged.push({ args, existence: e[0] as '*' | '!' | '?' });
    return true;
  };

  const commandLine = (n: number, line: string): void => {
    if (group) {
      const sleep = /^!sleep (\d+)(ms|s)?$/.exec(line);
      if (sleep) {
        group.sleepMs = Number(sleep[1]) * (sleep[2] === 's' ? 1000 : 1);
        return;
      }
      if (line === '!ordered') {
        group.ordered = true;
        return;
      }
      if (untaggedLine(n, line)) return;
      if (pending > 0) {
        let rest = line;
        if (script.connections > 1) {
          const c = /^(\d+) /.exec(rest);
          if (!c) fail(n, 'a reply needs its connection number');
          if (Number(c![1]) - 1 !== group.conn) fail(n, 'a reply for another connection');
          rest = rest.slice(c![0].length);
        }
        const r = tagAndReply(rest);
        if (r.reply !== undefined) {
          const cmd = group.commands.find((c) => c.tag === r.tag);
          if (!cmd) fail(n, 'a reply for an unknown tag');
          if (cmd!.reply) fail(n, 'the command already has a reply');
          cmd!.reply = readArgs(r.reply);
          pending--;
          return;
        }
      }
    }
    let conn = 0;
    let rest = line;
    if (script.connections > 1) {
      const c = /^(\d+)(?: |$)/.exec(rest);
      if (!c || Number(c[1]) === 0) fail(n, 'a command needs its connection number');
      conn = Number(c![1]) - 1;
      rest = rest.slice(c![0].length);
    }
    const r = tagAndReply(rest);
    if (!group || pending === 0 || r.tag === 0) {
      if (pending > 0) fail(n, 'the previous command has no reply');
      group = { conn, commands: [], untagged: [], ordered: false, sleepMs: 0, expectsBye: false };
      script.groups.push(group);
    } else {
      if (group.conn !== conn) fail(n, 'pipelined commands must use one connection');
      if (group.commands.some((c) => c.tag === r.tag)) fail(n, 'a tag used twice in a group');
    }
    // the expected reply is only the ok/no/bad/"" word when given before the command
    const reply = r.reply === undefined ? undefined : readArgs(r.reply.slice(0, r.reply.length - r.rest.length).trim());
    if (!reply) pending++;
    group.commands.push({ line: n, tag: r.tag, parts: splitParts(r.rest), reply });
  };

  let multi: { start: number; text: string; litStart: number; lastEnd: number; binary: boolean } | undefined;
  for (let k = 0; k < lines.length; k++) {
    const n = k + 1;
    let line = lines[k];
    if (multi) {
      if (!line.startsWith('}}}')) {
        multi.text += multi.binary ? line : line.replace(/\r$/, '');
        multi.lastEnd = multi.text.length;
        multi.text += multi.binary ? '\n' : '\r\n';
        continue;
      }
      const data = multi.text.slice(multi.litStart, multi.lastEnd);
      let after = line.slice(3);
      let text = `${multi.text.slice(0, multi.litStart)}${multi.binary ? '~' : ''}{${data.length}}\r\n${data}`;
      const again = /(~?)\{\{\{$/.exec(after);
      if (again) {
        after = after.slice(0, again.index);
        text += after;
        multi = { start: multi.start, text, litStart: text.length, lastEnd: text.length, binary: again[1] === '~' };
        continue;
      }
      line = text + after;
      const start = multi.start;
      multi = undefined;
      if (!skip) commandLine(start, line);
      continue;
    }
    line = line.replace(/\r$/, '');
    if (line === '') {
      header = false;
      continue;
    }
    if (line.startsWith('#')) continue;
    const open = /(~?)\{\{\{$/.exec(line);
    if (open) {
      const text = line.slice(0, open.index);
      multi = { start: n, text, litStart: text.length, lastEnd: text.length, binary: open[1] === '~' };
      continue;
    }
    if (header) {
      headerLine(n, line);
      continue;
    }
    const cond = /^!(ifenv|ifnenv) (\S+)$/.exec(line);
    if (cond) {
      skipStack.push({ outer: skip, skip: false, elseSeen: false });
      const has = process.env[cond[2]] !== undefined;
      if (cond[1] === 'ifenv' ? !has : has) skip = true;
      continue;
    }
    if (line === '!else') {
      const top = skipStack[skipStack.length - 1];
      if (!top || top.elseSeen) fail(n, '!else without !ifenv');
      top.elseSeen = true;
      if (!top.outer) skip = !skip;
      continue;
    }
    if (line === '!endif') {
      const top = skipStack.pop();
      if (!top) fail(n, '!endif without !ifenv');
      skip = top!.outer;
      continue;
    }
    if (!skip) commandLine(n, line);
  }
  if (multi) fail(multi.start, 'a {{{ literal is not closed');
  if (pending > 0) fail(lines.length, 'the last command has no reply');
  if (skipStack.length > 0) fail(lines.length, '!ifenv without !endif');
  if (script.groups.length === 0) fail(lines.length, 'no commands');
  // every command's connection must exist
  for (const g of script.groups) script.connections = Math.max(script.connections, g.conn + 1);
  return script;
}

/**
 * The format's default list directives, given to a list that has none of its own:
 * `n FETCH ($!unordered=2)`, `n FETCH (FLAGS ($!unordered $!noextra $!ignore=\recent))`,
 * `LIST ($!unordered)`, `LSUB ($!unordered)`, `STATUS mailbox ($!unordered=2)`.
 */
export function addDefaultDirectives(args: ImapArg[]): ImapArg[] {
  const first = args[0]?.t === 'atom' ? args[0].v : '';
  const reply = (/^[$0-9]/.test(first) ? (args[1]?.t === 'atom' ? args[1].v : '') : first).toLowerCase();
  const atom = (v: string): ImapArg => ({ t: 'atom', v });
  const hasDirectives = (l: ImapArg[]): boolean => l[0]?.t === 'atom' && l[0].v.startsWith('$!');
  return args.map((a, i) => {
    if (a.t !== 'list' || hasDirectives(a.v)) return a;
    if ((reply === 'list' || reply === 'lsub') && i === 1) return { t: 'list', v: [atom('$!unordered'), ...a.v] };
    if ((reply === 'status' || reply === 'fetch') && i === 2) {
      if (reply === 'status') return { t: 'list', v: [atom('$!unordered=2'), ...a.v] };
      const items = a.v.map((b, k): ImapArg => {
        const prev = a.v[k - 1];
        if (b.t !== 'list' || hasDirectives(b.v) || prev?.t !== 'atom' || prev.v.toLowerCase() !== 'flags') return b;
        return { t: 'list', v: ['$!unordered', '$!noextra', '$!ignore=\\recent', '$!ignore=$HasAttachment', '$!ignore=$HasNoAttachment'].map(atom).concat(b.v) };
      });
      return { t: 'list', v: [atom('$!unordered=2'), ...items] };
    }
    return a;
  });
}
