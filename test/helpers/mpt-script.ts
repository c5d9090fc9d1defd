/**
 * @module mpt-script
 * Apache James's Mail Protocol Tester (MPT) scripts: the parser and the line matcher. Our own
 * reading of the format (described in ../shared/corpora/SOURCES.md, "How tests should use the
 * IMAP scripts"); no James code is used.
 *   C: text       the client sends text + CRLF (a line of only "C:" sends an empty line)
 *   S: regex      one server line must match the Java regular expression as a whole
 *   S: \+ Ok      any continuation request ("+ ...")
 *   SUB { ... }   S: lines matched by as many server lines in any order
 *   SESSION: n    the lines after it go to connection n (before the first: to every one)
 *   REINIT        the connection is opened again (its greeting read)
 *   AWAIT, WAIT n, LOG ..., TIMER ..., # comments, empty lines: nothing to do here
 * The matcher first tries the regex on the line as it is; where that fails it applies the
 * documented relaxations in `relaxations` (human text of status responses, response codes of
 * extensions we do not offer), each named so the test can count how often it was needed.
 * Standards: RFC 9051 §7.1 (resp-text is for humans; unknown response codes are ignored by
 *   clients), RFC 8474 (MAILBOXID belongs to OBJECTID, which correio does not advertise).
 * Security: test only.
 * Limitations: the mime-case relaxation compares a whole BODY/BODYSTRUCTURE line without case
 *   (parameter values too); Java regexes are read as JavaScript ones (the scripts use nothing
 *   that differs).
 */

export type MptStep =
  | { readonly op: 'send'; readonly session: number; readonly text: string; readonly line: number }
  | { readonly op: 'expect'; readonly session: number; readonly pattern: string; readonly line: number }
  | { readonly op: 'continuation'; readonly session: number; readonly line: number }
  | {
      readonly op: 'unordered';
      readonly session: number;
      readonly patterns: readonly { pattern: string; line: number }[];
      readonly line: number;
      /** the relaxation that made these lines unordered (not a SUB block of the script) */
      readonly relaxed?: string;
    }
  | { readonly op: 'reinit'; readonly session: number; readonly line: number }
  /** server lines read until one meets the pattern (a suite's setup, not a script line) */
  | { readonly op: 'until'; readonly session: number; readonly pattern: string; readonly line: number }
  /** consecutive EXPUNGE lines of fixed numbers (grouped by groupExpunges) */
  | { readonly op: 'expunges'; readonly session: number; readonly numbers: readonly number[]; readonly line: number };

/** `session` is -1 for "every connection". */
export interface MptScript {
  readonly steps: MptStep[];
  /** connections the script uses (the highest SESSION number plus one, at least 1) */
  readonly sessions: number;
}

/** Parses a script; throws naming the line for a line of no known kind. */
export function parseMpt(text: string, name = 'script'): MptScript {
  const steps: MptStep[] = [];
  let session = -1;
  let maxSession = 0;
  let block: { pattern: string; line: number }[] | undefined;
  let blockLine = 0;
  text.split('\n').forEach((raw, i) => {
    const l = raw.replace(/\r$/, '');
    const line = i + 1;
    if (block) {
      if (l.trim() === '}') {
        steps.push({ op: 'unordered', session, patterns: block, line: blockLine });
        block = undefined;
      } else if (l.startsWith('S:')) block.push({ pattern: l.slice(3), line });
      else if (l.trim() !== '' && !l.startsWith('#')) throw new Error(`${name}:${line}: only S: lines inside SUB { }: ${l}`);
      return;
    }
    if (l.trim() === '' || l.startsWith('#')) return;
    if (l.startsWith('C:')) steps.push({ op: 'send', session, text: l.slice(3), line });
    else if (l === 'S: \\+ Ok') steps.push({ op: 'continuation', session, line });
    else if (l.startsWith('S:')) steps.push({ op: 'expect', session, pattern: l.slice(3), line });
    else if (l.trim() === 'SUB {') {
      block = [];
      blockLine = line;
    } else if (l.startsWith('SESSION:')) {
      session = Number(l.slice(8).trim());
      if (!Number.isInteger(session) || session < 0) throw new Error(`${name}:${line}: bad session number: ${l}`);
      maxSession = Math.max(maxSession, session);
    } else if (l.trim() === 'REINIT') steps.push({ op: 'reinit', session, line });
    // AWAIT and WAIT let James's asynchronous indexers settle; correio answers from its files
    else if (/^(AWAIT|WAIT \d+|LOG \S+ .*|TIMER (start|print|reset) \S+)\s*$/.test(l)) return;
    else throw new Error(`${name}:${line}: unknown line: ${l}`);
  });
  if (block) throw new Error(`${name}:${blockLine}: SUB { without }`);
  return { steps, sessions: maxSession + 1 };
}

/**
 * The untagged lines a script expects right after SELECT, EXAMINE or APPEND (and its message
 * lines), up to the tagged reply, as one unordered block (relaxation "untagged-order").
 */
export function unorderUntagged(steps: readonly MptStep[]): MptStep[] {
  const out: MptStep[] = [];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    out.push(step);
    if (step.op !== 'send' || !/^\S+ (SELECT|EXAMINE|APPEND) /i.test(step.text)) continue;
    const run: { pattern: string; line: number }[] = [];
    let j = i + 1;
    // an APPEND's message lines
    for (; j < steps.length && steps[j].op === 'send' && steps[j].session === step.session; j++) out.push(steps[j]);
    const afterSends = j;
    for (; j < steps.length; j++) {
      const next = steps[j];
      if (next.op === 'expect' && next.session === step.session && next.pattern.startsWith('\\* ')) run.push({ pattern: next.pattern, line: next.line });
      else if (next.op === 'unordered' && next.session === step.session && !next.relaxed) run.push(...next.patterns);
      else break;
    }
    if (run.length < 2) {
      i = afterSends - 1;
      continue;
    }
    out.push({ op: 'unordered', session: step.session, patterns: run, line: run[0].line, relaxed: 'untagged-order' });
    i = j - 1;
  }
  return out;
}

/** Consecutive expected EXPUNGEs of fixed numbers as one step (relaxation "expunge-order"). */
export function groupExpunges(steps: readonly MptStep[]): MptStep[] {
  const out: MptStep[] = [];
  for (const step of steps) {
    const n = step.op === 'expect' ? expectedExpunge(step.pattern) : undefined;
    const last = out.at(-1);
    if (n === undefined) out.push(step);
    else if (last?.op === 'expunges' && last.session === step.session) out[out.length - 1] = { ...last, numbers: [...last.numbers, n] };
    else out.push({ op: 'expunges', session: step.session, numbers: [n], line: step.line });
  }
  return out;
}

/** One relaxation of the comparison, with the reason it is sound. */
export interface Relaxation {
  readonly name: string;
  readonly reason: string;
}

export const relaxations: readonly Relaxation[] = [
  {
    name: 'resp-text',
    reason:
      'RFC 9051 §7.1: the text after OK/NO/BAD/BYE/PREAUTH (and after a response code) is human-readable; tag, status and response code are compared, the text is not',
  },
  {
    name: 'extra-code',
    reason: 'RFC 9051 §7.1: a status response may carry a response code the script does not expect (APPENDUID, CAPABILITY, ...); clients ignore codes they do not ask for',
  },
  {
    name: 'untagged-order',
    reason: 'RFC 9051 §6.3.2, §6.3.3 (RFC 3501 §6.3.1): SELECT and EXAMINE return FLAGS, EXISTS, the OK codes (and RECENT in IMAP4rev1) in no prescribed order, nor are the updates an APPEND to the selected mailbox brings ordered (EXISTS, RECENT, FLAGS for a new keyword: §7.3, §7.4); those untagged lines up to the tagged reply are matched in any order',
  },
  {
    name: 'flag-order',
    reason: 'RFC 9051 §2.3.2, §7.3.5: a flag list is a set; James lists flags alphabetically, so a parenthesised list of flags is compared in that order',
  },
  {
    name: 'astring',
    reason: 'RFC 9051 §4.3, §9 (mailbox = astring): a mailbox name may be sent as an atom or as a quoted string; LIST, LSUB and STATUS names are compared quoted',
  },
  {
    name: 'status-order',
    reason: 'RFC 9051 §7.3.3 (RFC 3501 §7.2.4): the items of a STATUS response come in no prescribed order; they are compared in the order the script writes them',
  },
  {
    name: 'fetch-uid',
    reason: 'RFC 9051 §7.5.2 (and RFC 7162 §3.2.4): a server may add UID to a FETCH response, and its items come in no prescribed order; a leading UID item the script does not expect is left out, or compared last where the script has it last',
  },
  {
    name: 'header-field-case',
    reason: 'RFC 5322 §1.2.2: header field names are case-insensitive; the names in BODY[HEADER.FIELDS (...)] of a reply are compared so (correio and Dovecot send them upper-cased)',
  },
  {
    name: 'mime-case',
    reason: 'RFC 2045 §5.1, §6.1: media type, subtype, parameter names and transfer encodings are case-insensitive; a BODY or BODYSTRUCTURE reply line is compared case-insensitively (parameter values too: a known looseness)',
  },
  {
    name: 'untagged-ok',
    reason: 'RFC 9051 §7.1.1: an untagged OK with a response code is information the script need not expect (RFC 6851 §4.3: MOVE sends COPYUID so, before the EXPUNGEs); such a line is passed over where the script expects another line',
  },
  {
    name: 'recent-update',
    reason: 'RFC 3501 §7.3.2: RECENT is sent when the size of the mailbox changes; correio sends it after expunging recent messages (EXPUNGE, MOVE), where James sends it after EXPUNGE only; such a line is passed over where the script expects another line',
  },
  {
    name: 'expunge-order',
    reason: 'RFC 9051 §7.5.1: each EXPUNGE renumbers the messages after it, so removing 1 to 3 may be told as 1 1 1 or 3 2 1; consecutive EXPUNGE lines are compared by the messages they remove',
  },
  {
    name: 'mailboxid',
    reason: 'RFC 8474: MAILBOXID is the OBJECTID extension, which correio does not advertise; expected [MAILBOXID (...)] codes are dropped and a line made only of one is optional',
  },
  {
    name: 'highestmodseq',
    reason:
      'against Dovecot only (imap-james-mpt-dovecot, runMpt\'s optionalCodes): Dovecot 2.3 sends SELECT/EXAMINE\'s * OK [HIGHESTMODSEQ n] only once the client has enabled CONDSTORE, where RFC 7162 §3.1.2.1 wants it from every server with persistent mod-sequences (correio sends it); that expected line is optional',
  },
];

/** A response code a server may leave out, and the relaxation that allows it (runMpt's optionalCodes). */
export interface OptionalCode {
  readonly code: RegExp;
  readonly relaxation: string;
}

/** Response codes of extensions we do not advertise: dropped from expectations. */
const absentCodes = /^MAILBOXID\b/;

const regexCache = new Map<string, RegExp>();
function whole(pattern: string, flags = ''): RegExp {
  let re = regexCache.get(flags + pattern);
  if (!re) {
    // Java's Pattern.matches: the whole line; the scripts use no construct JavaScript reads otherwise
    re = new RegExp(`^(?:${pattern})$`, flags);
    regexCache.set(flags + pattern, re);
  }
  return re;
}

/**
 * An untagged line a script may leave unexpected: an OK carrying a response code ("untagged-ok"),
 * or a RECENT update ("recent-update"); its relaxation, or undefined.
 */
export function skippableUntagged(pattern: string, line: string): string | undefined {
  if (/^\* OK \[/.test(line) && !pattern.startsWith('\\* OK')) return 'untagged-ok';
  if (/^\* \d+ RECENT$/.test(line) && !/RECENT/.test(pattern)) return 'recent-update';
  return undefined;
}

const expungeLine = /^\* (\d+) EXPUNGE$/;

/** The pattern is an EXPUNGE of a fixed number: its number. */
export function expectedExpunge(pattern: string): number | undefined {
  const m = /^\\\* (\d+) EXPUNGE$/.exec(pattern);
  return m ? Number(m[1]) : undefined;
}

/** The original positions a run of EXPUNGE numbers removes, sorted. */
function removedPositions(numbers: readonly number[]): number[] {
  const left = Array.from({ length: Math.max(0, ...numbers) + numbers.length }, (_, i) => i + 1);
  return numbers.map((n) => left.splice(n - 1, 1)[0]).sort((a, b) => a - b);
}

/** Whether lines, all EXPUNGE, remove the same messages as the expected numbers (in either telling). */
export function sameExpunges(expected: readonly number[], lines: readonly string[]): boolean {
  const got = lines.map((l) => expungeLine.exec(l)?.[1]);
  if (got.some((g) => g === undefined)) return false;
  return removedPositions(expected).join() === removedPositions(got.map(Number)).join();
}

interface ExpectedStatus {
  readonly tag: string;
  readonly status: string;
  /** the code's regex; undefined: none expected */
  readonly code: string | undefined;
  /** James's optional `(\[.+\] )?`: any code or none */
  readonly anyCode: boolean;
  /** the expected code was one of an extension we do not offer */
  readonly absent: boolean;
}

const statusPattern = /^(\\\*|[A-Za-z0-9.]+) (OK|NO|BAD|BYE|PREAUTH)(?: (.*))?$/s;

/** Splits a status-response regex into tag, status and code (its text is not kept). */
function expectedStatus(pattern: string): ExpectedStatus | undefined {
  const m = statusPattern.exec(pattern);
  if (!m) return undefined;
  const rest = m[3] ?? '';
  let code: string | undefined;
  const anyCode = rest.startsWith('(\\[.+\\] )?');
  if (anyCode) code = undefined;
  else if (rest.startsWith('\\[')) {
    const end = rest.lastIndexOf('\\]');
    if (end < 0) return undefined;
    code = rest.slice(2, end);
  }
  const absent = code !== undefined && absentCodes.test(code);
  return { tag: m[1], status: m[2], code: absent ? undefined : code, anyCode, absent };
}

const actualStatus = /^(\S+) (OK|NO|BAD|BYE|PREAUTH)(?: \[([^\]]*)\])?(?: .*)?$/s;

/**
 * An expected line that may be missing: an untagged OK that only carries a code of an
 * extension we do not offer (James's `* OK [MAILBOXID (...)] Ok` after SELECT), or one of
 * `serverOptional` (the code's regex as the script writes it). The relaxation, or undefined.
 */
export function optionalLine(pattern: string, serverOptional: readonly OptionalCode[] = []): string | undefined {
  const e = expectedStatus(pattern);
  if (!e || e.tag !== '\\*') return undefined;
  if (e.absent) return 'mailboxid';
  return serverOptional.find((o) => e.code !== undefined && o.code.test(e.code))?.relaxation;
}

/** How a server line met a pattern: exactly, through named relaxations, or not at all. */
export type LineMatch = { readonly ok: true; readonly relaxed: readonly string[] } | { readonly ok: false };

/** A parenthesised list whose members are all flags or keywords (and one holds a system flag). */
const flagList = /\(((?:\\?[^\s()[\]{}"%\\]+|\\\*)(?: (?:\\?[^\s()[\]{}"%\\]+|\\\*))*)\)/g;

function flagRank(f: string): string {
  // system flags first, alphabetically; keywords in their own order; "\*" last
  if (f === '\\*') return '2';
  return f.startsWith('\\') ? `0${f.toLowerCase()}` : '1';
}

function sortFlags(line: string): string {
  return line.replace(flagList, (whole, members: string) => {
    const list = members.split(' ');
    if (!list.some((f) => f.startsWith('\\'))) return whole;
    return `(${list.sort((a, b) => (flagRank(a) < flagRank(b) ? -1 : flagRank(a) > flagRank(b) ? 1 : 0)).join(' ')})`;
  });
}

/** LIST/LSUB/STATUS with the mailbox name quoted where it was sent as an atom. */
function quoteMailbox(line: string): string {
  const list = /^(\* (?:LIST|LSUB) \([^)]*\) (?:"(?:[^"\\]|\\.)*"|NIL) )([^"{\s][^\s]*)((?: .*)?)$/.exec(line);
  if (list) return `${list[1]}"${list[2]}"${list[3]}`;
  const status = /^(\* STATUS )([^"{\s(][^\s]*)( \(.*)$/.exec(line);
  return status ? `${status[1]}"${status[2]}"${status[3]}` : line;
}

/** A FETCH line without its leading UID item where the pattern has none, or with it last where the pattern has one. */
function withoutUid(pattern: string, line: string): string {
  const m = /^(\* \d+ FETCH \()UID (\d+) (.*)$/.exec(line);
  if (!m) return line;
  if (!/\bUID\b/.test(pattern)) return `${m[1]}${m[3]}`;
  return m[3].endsWith(')') && !line.includes('{') ? `${m[1]}${m[3].slice(0, -1)} UID ${m[2]})` : line;
}

/** A STATUS line with its items in the order the pattern names them (those it does not name last). */
function statusInPatternOrder(pattern: string, line: string): string {
  const m = /^(\* STATUS .* \()([^()]*)\)$/.exec(line);
  if (!m || !/^\\\* STATUS /.test(pattern)) return line;
  const words = m[2].split(' ');
  if (words.length % 2 !== 0) return line;
  const pairs = Array.from({ length: words.length / 2 }, (_, i) => [words[2 * i], words[2 * i + 1]]);
  const rank = (name: string): number => {
    // the name as a whole word of the pattern (DELETED is not the start of DELETED-STORAGE)
    const at = pattern.search(new RegExp(`(?<![\\w-])${name.replace(/[^\w-]/g, '\\$&')}(?![\\w-])`));
    return at < 0 ? Infinity : at;
  };
  pairs.sort((a, b) => rank(a[0]) - rank(b[0]));
  return `${m[1]}${pairs.map((p) => p.join(' ')).join(' ')})`;
}

/** The header field names of the line's HEADER.FIELDS list spelled as in the pattern, where they are equal but for case. */
function fieldCase(pattern: string, line: string): string {
  const want = /HEADER\\\.FIELDS(?:\\\.NOT)? \\\(([^\\]*)\\\)/.exec(pattern)?.[1];
  if (want === undefined) return line;
  return line.replace(/(HEADER\.FIELDS(?:\.NOT)? \()([^)]*)\)/, (all, head: string, got: string) => (got.toLowerCase() === want.toLowerCase() ? `${head}${want})` : all));
}

/** The line in the equivalent forms the relaxations allow, each with what it relaxed. */
function equivalentForms(pattern: string, actual: string): { form: string; relaxed: string[] }[] {
  const forms = [{ form: actual, relaxed: [] as string[] }];
  const noUid = withoutUid(pattern, actual);
  if (noUid !== actual) forms.push({ form: noUid, relaxed: ['fetch-uid'] });
  const fields = fieldCase(pattern, actual);
  if (fields !== actual) forms.push({ form: fields, relaxed: ['header-field-case'] });
  const status = statusInPatternOrder(pattern, actual);
  if (status !== actual) forms.push({ form: status, relaxed: ['status-order'] });
  const sorted = sortFlags(actual);
  if (sorted !== actual) forms.push({ form: sorted, relaxed: ['flag-order'] });
  for (const f of [...forms]) {
    const quoted = quoteMailbox(f.form);
    if (quoted !== f.form) forms.push({ form: quoted, relaxed: [...f.relaxed, 'astring'] });
  }
  return forms;
}

export function matchLine(pattern: string, actual: string): LineMatch {
  const forms = equivalentForms(pattern, actual);
  for (const f of forms) if (whole(pattern).test(f.form)) return { ok: true, relaxed: f.relaxed };
  if (/^\* \d+ FETCH \(.*\bBODY(STRUCTURE)? \(/.test(actual)) {
    for (const f of forms) if (whole(pattern, 'i').test(f.form)) return { ok: true, relaxed: [...f.relaxed, 'mime-case'] };
  }
  const e = expectedStatus(pattern);
  // a line made only of an absent code is met by that line alone (it is optional instead)
  if (!e || (e.absent && e.tag === '\\*')) return { ok: false };
  for (const f of forms) {
    const a = actualStatus.exec(f.form);
    if (!a || !whole(e.tag).test(a[1]) || e.status !== a[2]) continue;
    const relaxed = [...f.relaxed, 'resp-text'];
    if (e.absent) relaxed.push('mailboxid');
    const code = a[3];
    if (e.anyCode) return { ok: true, relaxed };
    if (e.code === undefined) {
      if (code !== undefined) relaxed.push('extra-code');
      return { ok: true, relaxed };
    }
    if (code !== undefined && whole(e.code).test(code)) return { ok: true, relaxed };
  }
  return { ok: false };
}

/**
 * Matches the lines of an unordered block: each pattern must meet a different line (a search
 * over the pairings, as a regex may meet several lines). The relaxations used, or undefined.
 */
export function matchUnordered(patterns: readonly string[], lines: readonly string[]): string[] | undefined {
  if (patterns.length !== lines.length) return undefined;
  const meets = patterns.map((p) => lines.map((l) => matchLine(p, l)));
  const used = new Set<number>();
  const pair = (i: number): string[] | undefined => {
    if (i === patterns.length) return [];
    for (let k = 0; k < lines.length; k++) {
      const m = meets[i][k];
      if (used.has(k) || !m.ok) continue;
      used.add(k);
      const rest = pair(i + 1);
      if (rest) return [...m.relaxed, ...rest];
      used.delete(k);
    }
    return undefined;
  };
  return pair(0);
}
