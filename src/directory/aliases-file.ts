/**
 * @module aliases-file
 * The aliases(5) file format of sendmail and Postfix: parse, validate and load (src/app reloads it when it changes).
 *   name: target, target, ...        # one logical line per alias
 *       target, ...                  # a line starting with white space continues the previous one
 * Targets, normalised to the canonical strings the resolver understands (core Alias.targets):
 *   user, user@domain, <user@domain>  an address (a bare name is local, in the alias's own domain)
 *   \user                             the local mailbox "user", no further alias expansion
 *   |command args, "|command args"    pipe the message to a command (run without a shell)
 *   /path/file, "/path with space"    append to a file in mbox format
 *   :include:/path                    the targets listed in another file (read at expansion time);
 *                                     a relative path is taken relative to the aliases file
 *   error:5.x.x text, error:4.x.x text  refuse with this status (permanent or temporary)
 *   webhook:https://…                 post the message to an application (docs/gateways.md);
 *                                     http:// only to a loopback host
 * Names: `local` (applies to every local domain), `local@domain`, `@domain` (catch-all), and may
 *   be quoted ("john doe": ...). Names are folded to lower case (sendmail and Postfix do the same).
 *   By the sendmail convention an alias `owner-NAME` receives the errors for alias NAME
 *   (see ownerAliasFor).
 * Standards: sendmail aliases(5), Postfix aliases(5); RFC 5321 §3.9 (aliases and lists),
 *   RFC 5321 §4.1.2 (Mailbox syntax, used to check address targets).
 * Security: the file is trusted operator input, but a bad line must never stop the rest from
 *   loading: each problem is reported with its line number. Pipe and file targets come only from
 *   here or from the operator's directory, never from a message.
 * Limitations: no sendmail `error:nouser 550 text` (the code must be a 4.x.x/5.x.x status);
 *   no `:include:` expansion at parse time (the resolver reads included files when it expands);
 *   no Berkeley DB output (newaliases imports into the directory instead).
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import type { Alias } from '../core/index.js';
import { httpUrlProblem } from '../util/index.js';

export interface AliasesParseError {
  /** 1-based line number of the physical line where the problem is */
  readonly line: number;
  readonly message: string;
}

export interface AliasesParseResult {
  readonly aliases: Alias[];
  readonly errors: AliasesParseError[];
}

export interface AliasesParseOptions {
  /** recorded as Alias.source; also the base for relative `:include:` paths */
  readonly source?: string;
  /** base directory for relative `:include:` paths; default: dirname(source) when source is a path */
  readonly baseDir?: string;
}

/** A target string in one of the canonical forms, or an error message. */
export type TargetCheck = { ok: true; target: string } | { ok: false; message: string };

// RFC 5321 §4.1.2: Dot-string = Atom *("." Atom); Atom = 1*atext (RFC 5322 §3.2.3), plus UTF-8 (RFC 6531).
const ATEXT = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~\\u0080-\\uFFFF]";
const DOT_STRING = new RegExp(`^${ATEXT}+(?:\\.${ATEXT}+)*$`);
const QUOTED_STRING = /^"(?:[^"\\\r\n]|\\.)*"$/;
const DOMAIN = /^(?:[A-Za-z0-9\u0080-\uFFFF](?:[A-Za-z0-9\u0080-\uFFFF-]*[A-Za-z0-9\u0080-\uFFFF])?)(?:\.[A-Za-z0-9\u0080-\uFFFF](?:[A-Za-z0-9\u0080-\uFFFF-]*[A-Za-z0-9\u0080-\uFFFF])?)*\.?$/;
const ADDRESS_LITERAL = /^\[[^\][\\\s]+\]$/;
const STATUS = /^([45])\.(\d{1,3})\.(\d{1,3})$/;

function validLocal(local: string): boolean {
  return DOT_STRING.test(local) || QUOTED_STRING.test(local);
}

function validDomain(domain: string): boolean {
  return domain.length <= 255 && (DOMAIN.test(domain) || ADDRESS_LITERAL.test(domain));
}

/** Index of the last '@' outside a quoted local part, or -1. */
function lastAt(s: string): number {
  let inQuote = false;
  let at = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && inQuote) i++;
    else if (c === '"') inQuote = !inQuote;
    else if (c === '@' && !inQuote) at = i;
  }
  return at;
}

/** Removes one level of surrounding double quotes and backslash escapes. */
function unquote(s: string): string {
  return s.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Splits a target list on commas outside double quotes. Reports an unterminated quote. */
export function splitTargetList(text: string): { items: string[]; error?: string } {
  const items: string[] = [];
  let cur = '';
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && inQuote && i + 1 < text.length) {
      cur += c + text[i + 1];
      i++;
    } else if (c === '"') {
      inQuote = !inQuote;
      cur += c;
    } else if (c === ',' && !inQuote) {
      items.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  items.push(cur.trim());
  const nonEmpty = items.filter((s) => s !== '');
  return inQuote ? { items: nonEmpty, error: 'unterminated quoted string' } : { items: nonEmpty };
}

/** Checks that a pipe command splits into words (balanced quotes, not empty). */
function checkCommand(cmd: string): string | undefined {
  if (cmd.trim() === '') return 'pipe target without a command';
  let quote: string | undefined;
  for (let i = 0; i < cmd.length; i++) {
    const c = cmd[i];
    if (c === '\\' && quote !== "'") i++;
    else if (quote === undefined && (c === '"' || c === "'")) quote = c;
    else if (c === quote) quote = undefined;
  }
  return quote === undefined ? undefined : 'unterminated quote in pipe command';
}

/**
 * Checks one target as written in an aliases file (or given to `correio alias set`) and returns
 * its canonical form. `baseDir` resolves relative `:include:` paths.
 */
export function parseTarget(raw: string, baseDir?: string): TargetCheck {
  let t = raw.trim();
  if (t === '') return { ok: false, message: 'empty target' };
  if (/[\0\r\n]/.test(t)) return { ok: false, message: 'control character in target' };
  // A wholly quoted target: "|cmd args", "/path with space", "user name" (sendmail quoting).
  if (t.length >= 2 && t.startsWith('"') && t.endsWith('"') && QUOTED_STRING.test(t)) {
    const inner = unquote(t);
    if (inner.startsWith('|') || inner.startsWith('/') || inner.toLowerCase().startsWith(':include:')) t = inner.trim();
  }
  if (t.startsWith('|')) {
    const cmd = t.slice(1).trim();
    const bad = checkCommand(cmd);
    return bad ? { ok: false, message: bad } : { ok: true, target: `|${cmd}` };
  }
  if (t.startsWith('/')) {
    if (t.endsWith('/')) return { ok: false, message: `file target is a directory: ${t}` };
    return { ok: true, target: t };
  }
  if (t.toLowerCase().startsWith(':include:')) {
    const p = t.slice(':include:'.length).trim();
    if (p === '') return { ok: false, message: ':include: without a file name' };
    if (isAbsolute(p)) return { ok: true, target: `:include:${p}` };
    if (baseDir === undefined) return { ok: false, message: `:include: path must be absolute: ${p}` };
    return { ok: true, target: `:include:${resolvePath(baseDir, p)}` };
  }
  if (t.toLowerCase().startsWith('webhook:')) {
    const url = t.slice('webhook:'.length).trim();
    const problem = httpUrlProblem(url);
    return problem === undefined ? { ok: true, target: `webhook:${url}` } : { ok: false, message: `webhook: ${problem}` };
  }
  if (t.toLowerCase().startsWith('error:')) {
    const rest = t.slice('error:'.length).trim();
    const sp = rest.search(/\s/);
    const code = sp < 0 ? rest : rest.slice(0, sp);
    const text = sp < 0 ? '' : rest.slice(sp).trim();
    if (!STATUS.test(code)) return { ok: false, message: `error: needs a 4.x.x or 5.x.x status code, got "${code}"` };
    return { ok: true, target: text === '' ? `error:${code}` : `error:${code} ${text}` };
  }
  if (t.startsWith('\\')) {
    const local = t.slice(1);
    if (!validLocal(local)) return { ok: false, message: `bad local mailbox name: ${t}` };
    return { ok: true, target: `\\${local}` };
  }
  if (t.startsWith('<') && t.endsWith('>')) t = t.slice(1, -1).trim();
  const at = lastAt(t);
  if (at < 0) {
    if (!validLocal(t)) return { ok: false, message: `bad address: ${raw.trim()}` };
    return { ok: true, target: t };
  }
  const local = t.slice(0, at);
  const domain = t.slice(at + 1).toLowerCase();
  if (!validLocal(local) || !validDomain(domain)) return { ok: false, message: `bad address: ${raw.trim()}` };
  return { ok: true, target: `${local}@${domain}` };
}

/** Checks an alias name: `local`, `local@domain`, `@domain`, maybe quoted. Returns it lower-cased. */
export function parseAliasName(raw: string): TargetCheck {
  let n = raw.trim();
  if (n === '') return { ok: false, message: 'alias without a name' };
  if (n.startsWith('"')) {
    if (!QUOTED_STRING.test(n)) return { ok: false, message: `bad quoted alias name: ${n}` };
    n = unquote(n);
    if (n === '' || /[\0\r\n]/.test(n)) return { ok: false, message: 'bad quoted alias name' };
    return { ok: true, target: n.toLowerCase() };
  }
  const at = lastAt(n);
  const local = at < 0 ? n : n.slice(0, at);
  const domain = at < 0 ? undefined : n.slice(at + 1);
  if (local === '' && domain !== undefined) {
    if (!validDomain(domain)) return { ok: false, message: `bad catch-all domain: ${n}` };
    return { ok: true, target: n.toLowerCase() };
  }
  if (!validLocal(local) || (domain !== undefined && !validDomain(domain))) {
    return { ok: false, message: `bad alias name: ${n}` };
  }
  return { ok: true, target: n.toLowerCase() };
}

/** Index of the first ':' outside double quotes, or -1. */
function nameColon(line: string): number {
  let inQuote = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && inQuote) i++;
    else if (c === '"') inQuote = !inQuote;
    else if (c === ':' && !inQuote) return i;
  }
  return -1;
}

/**
 * Parses the text of an aliases file. Bad lines are reported and skipped; the rest loads.
 * A name defined twice keeps its first definition (Postfix's postalias does the same) and the
 * second is reported.
 */
export function parseAliases(text: string, opts: AliasesParseOptions = {}): AliasesParseResult {
  const source = opts.source ?? 'aliases';
  const baseDir = opts.baseDir ?? (opts.source !== undefined && isAbsolute(opts.source) ? dirname(opts.source) : undefined);
  const errors: AliasesParseError[] = [];
  const aliases: Alias[] = [];
  const seen = new Map<string, number>();

  // Join physical lines into logical ones: a line starting with white space continues the last.
  const logical: { line: number; text: string; parts: { line: number; text: string }[] }[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((physical, i) => {
    const n = i + 1;
    if (physical.trim() === '' || physical.trimStart().startsWith('#')) return;
    if (/^[ \t]/.test(physical)) {
      const last = logical[logical.length - 1];
      if (last === undefined) errors.push({ line: n, message: 'continuation line without an alias before it' });
      else last.parts.push({ line: n, text: physical });
      return;
    }
    logical.push({ line: n, text: physical, parts: [{ line: n, text: physical }] });
  });

  for (const entry of logical) {
    const first = entry.parts[0].text;
    const colon = nameColon(first);
    if (colon < 0) {
      errors.push({ line: entry.line, message: 'missing ":" after the alias name' });
      continue;
    }
    const name = parseAliasName(first.slice(0, colon));
    if (!name.ok) {
      errors.push({ line: entry.line, message: name.message });
      continue;
    }
    const targets: string[] = [];
    let bad = false;
    const pieces = [{ line: entry.line, text: first.slice(colon + 1) }, ...entry.parts.slice(1)];
    for (const piece of pieces) {
      const split = splitTargetList(piece.text);
      if (split.error) {
        errors.push({ line: piece.line, message: split.error });
        bad = true;
        continue;
      }
      for (const item of split.items) {
        const t = parseTarget(item, baseDir);
        if (!t.ok) {
          errors.push({ line: piece.line, message: `${name.target}: ${t.message}` });
          bad = true;
        } else if (!targets.includes(t.target)) targets.push(t.target);
      }
    }
    if (bad) continue;
    if (targets.length === 0) {
      errors.push({ line: entry.line, message: `${name.target}: alias without targets` });
      continue;
    }
    const prev = seen.get(name.target);
    if (prev !== undefined) {
      errors.push({ line: entry.line, message: `duplicate alias ${name.target} (first defined on line ${prev}); ignored` });
      continue;
    }
    seen.set(name.target, entry.line);
    aliases.push({ name: name.target, targets, source, line: entry.line });
  }
  return { aliases, errors };
}

/** Reads and parses an aliases file. Throws (the fs error) when the file cannot be read. */
export async function readAliasesFile(path: string): Promise<AliasesParseResult> {
  const text = await readFile(path, 'utf8');
  return parseAliases(text, { source: path, baseDir: dirname(resolvePath(path)) });
}

/**
 * Gives each alias without a domain a copy in every local domain (`postmaster` →
 * `postmaster@a.example`, `postmaster@b.example`), for importing into the directory.
 * Names that already carry a domain or are catch-alls are kept as they are.
 */
export function qualifyAliases(aliases: readonly Alias[], domains: readonly string[]): Alias[] {
  const out: Alias[] = [];
  for (const a of aliases) {
    if (a.name.includes('@')) out.push(a);
    else for (const d of domains) out.push({ ...a, name: `${a.name}@${d.toLowerCase()}` });
  }
  return out;
}

/** A lookup map keyed by lower-case alias name, as AliasResolver's aliasesFromFile returns. */
export function aliasMap(aliases: readonly Alias[]): Map<string, Alias> {
  return new Map(aliases.map((a) => [a.name.toLowerCase(), a]));
}

/** The sendmail convention: errors for alias NAME go to alias `owner-NAME` when it exists. */
export function ownerAliasFor(name: string, aliases: ReadonlyMap<string, Alias>): Alias | undefined {
  const at = name.lastIndexOf('@');
  const owner = at < 0 ? `owner-${name}` : `owner-${name.slice(0, at)}${name.slice(at)}`;
  return aliases.get(owner.toLowerCase()) ?? (at < 0 ? undefined : aliases.get(`owner-${name.slice(0, at)}`.toLowerCase()));
}

