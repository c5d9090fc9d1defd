/**
 * @module target-syntax
 * The canonical alias target strings (core Alias.targets) as the resolver reads them:
 *   "user" / "user@domain"   address (bare name: the domain of the name being expanded)
 *   "\user"                  local mailbox, no alias expansion (sendmail, Postfix)
 *   "|command args"          pipe, split into argv without a shell
 *   "/path"                  file (mbox append)
 *   ":include:/path"         targets listed in a file
 *   "error:5.x.x text"       refusal with that status
 *   "webhook:https://…"      a POST to an application (http:// only to a loopback host)
 * The aliases(5) file parser (src/directory/aliases-file.ts) writes these forms; this module
 * only classifies them, so the two stay in step through the shared Alias.targets contract.
 * Standards: sendmail and Postfix aliases(5); RFC 3463 (status codes in error: targets).
 * Security: a command is split into words here and never passed to a shell: no globbing,
 *   no variables, no redirection.
 * Limitations: no shell features in commands (write a script for those).
 */
import { parseMailbox } from '../address/index.js';
import { reply, type Address, type EnhancedStatus, type SmtpReply } from '../core/index.js';
import { httpUrlProblem } from '../util/index.js';

export type ParsedTarget =
  | { kind: 'address'; address: Address }
  | { kind: 'local'; local: string }
  | { kind: 'mailbox-only'; local: string }
  | { kind: 'pipe'; command: string[] }
  | { kind: 'file'; path: string }
  | { kind: 'include'; path: string }
  | { kind: 'error'; reply: SmtpReply }
  | { kind: 'webhook'; url: string }
  | { kind: 'bad'; message: string };

/**
 * Splits a command line into words like a POSIX shell would split a simple command, without
 * any expansion: '...' is literal, "..." honours \" and \\, a backslash outside quotes escapes
 * the next character. Throws on an unterminated quote.
 */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('unterminated quote in command');
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      i++;
      for (; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) i++;
        cur += line[i];
      }
      if (i >= line.length) throw new Error('unterminated quote in command');
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** Classifies one canonical target string. Never throws: bad syntax gives kind 'bad'. */
export function parseTargetString(raw: string): ParsedTarget {
  const t = raw.trim();
  if (t === '' || /[\0\r\n]/.test(t)) return { kind: 'bad', message: 'empty target or control character' };
  if (t.startsWith('|')) {
    try {
      const command = splitCommand(t.slice(1).trim());
      return command.length === 0 ? { kind: 'bad', message: 'pipe without a command' } : { kind: 'pipe', command };
    } catch (err) {
      return { kind: 'bad', message: (err as Error).message };
    }
  }
  if (t.startsWith('/')) return { kind: 'file', path: t };
  if (t.toLowerCase().startsWith(':include:')) {
    const path = t.slice(':include:'.length).trim();
    return path.startsWith('/') ? { kind: 'include', path } : { kind: 'bad', message: ':include: path must be absolute' };
  }
  if (t.toLowerCase().startsWith('webhook:')) {
    const url = t.slice('webhook:'.length).trim();
    const problem = httpUrlProblem(url);
    return problem === undefined ? { kind: 'webhook', url } : { kind: 'bad', message: `webhook: ${problem}` };
  }
  if (t.toLowerCase().startsWith('error:')) {
    const m = /^error:\s*([45])\.(\d{1,3})\.(\d{1,3})(?:\s+(.*))?$/is.exec(t);
    if (!m) return { kind: 'bad', message: 'error: needs a 4.x.x or 5.x.x status code' };
    const cls = m[1] === '5' ? 5 : 4;
    const status: EnhancedStatus = `${cls}.${Number(m[2])}.${Number(m[3])}`;
    // The basic code follows the class (550 / 450); the enhanced code is the operator's own.
    const text = m[4]?.trim() || (cls === 5 ? 'Delivery refused' : 'Delivery deferred');
    return { kind: 'error', reply: reply(cls === 5 ? 550 : 450, status, text) };
  }
  if (t.startsWith('\\')) return { kind: 'mailbox-only', local: t.slice(1) };
  const inner = t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t;
  if (!inner.includes('@')) return /\s/.test(inner) ? { kind: 'bad', message: `bad address: ${t}` } : { kind: 'local', local: inner };
  try {
    return { kind: 'address', address: parseMailbox(inner, { smtpUtf8: true }) };
  } catch {
    return { kind: 'bad', message: `bad address: ${t}` };
  }
}

/**
 * Parses the text of an `:include:` file: targets separated by commas or new lines, `#` comment
 * lines, double quotes protecting commas. Bad items come back as 'bad' targets from
 * parseTargetString later; here only the splitting happens.
 */
export function splitIncludeText(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    let cur = '';
    let inQuote = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === '\\' && inQuote && i + 1 < line.length) cur += c + line[++i];
      else if (c === '"') {
        inQuote = !inQuote;
        cur += c;
      } else if (c === ',' && !inQuote) {
        if (cur.trim() !== '') out.push(unquoteWhole(cur.trim()));
        cur = '';
      } else cur += c;
    }
    if (cur.trim() !== '') out.push(unquoteWhole(cur.trim()));
  }
  return out;
}

/** "\"|cmd a\"" → "|cmd a"; other quoted forms ("john doe"@x) stay. */
function unquoteWhole(s: string): string {
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) {
    const inner = s.slice(1, -1).replace(/\\(.)/g, '$1');
    if (/^[|/]|^:include:/i.test(inner)) return inner;
  }
  return s;
}
