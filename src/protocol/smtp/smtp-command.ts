/**
 * @module smtp-command
 * SMTP command lines: verb and arguments, MAIL/RCPT paths with ESMTP parameters, xtext.
 * Standards: RFC 5321 §4.1.1 (commands), §4.1.2 (Mail-parameters, Rcpt-parameters, esmtp-keyword,
 *   esmtp-value); RFC 1870 (SIZE); RFC 6152 (BODY=8BITMIME); RFC 6531 (SMTPUTF8); RFC 3461 §4
 *   (xtext, NOTIFY, ORCPT, RET, ENVID); RFC 4954 §5 (AUTH= on MAIL, accepted and ignored);
 *   RFC 3030 §2 (BDAT chunk-size [LAST]).
 * Security: every parameter is checked against its grammar; unknown parameters are refused
 *   with 555 (RFC 5321 §4.1.1.11) rather than ignored; duplicates are refused.
 * Limitations: BODY=BINARYMIME is refused (not advertised).
 */
import type { Address, ReversePath } from '../../core/address.js';
import type { DsnParams } from '../../core/envelope.js';
import type { MailParams } from '../../core/intake.js';
import { MailError } from '../../core/smtp-reply.js';
import { replies } from '../../core/replies.js';
import { parseForwardPath, parseReversePath } from '../../address/index.js';

export interface CommandLine {
  /** upper-cased verb, e.g. "MAIL" */
  readonly verb: string;
  /** everything after the verb and one space, trailing whitespace removed */
  readonly args: string;
}

/** Splits a command line (without CRLF) into verb and arguments (RFC 5321 §4.1.1). */
export function parseCommandLine(line: string): CommandLine {
  const sp = line.indexOf(' ');
  const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
  const args = sp < 0 ? '' : line.slice(sp + 1).replace(/[ \t]+$/, '');
  return { verb, args };
}

export interface EsmtpParam {
  /** upper-cased keyword */
  readonly key: string;
  readonly value?: string;
}

function syntax(what: string): MailError {
  return new MailError(replies.syntaxError(what), 'MAIL_ERR_SYNTAX');
}

/** Decodes RFC 3461 §4 xtext ("+2B" → "+"); throws 501 on bad encoding. */
export function decodeXtext(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw syntax('Invalid xtext encoding');
      out += String.fromCharCode(parseInt(hex, 16));
      i += 2;
    } else if (c >= 33 && c <= 126 && c !== 0x3d) out += s[i];
    else throw syntax('Invalid xtext encoding');
  }
  return out;
}

/** Encodes text as RFC 3461 xtext: "+", "=" and characters outside 33-126 become "+XX". */
export function encodeXtext(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b >= 33 && b <= 126 && b !== 0x2b && b !== 0x3d ? String.fromCharCode(b) : `+${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Splits "FROM:<path> PARAMS" / "TO:<path> PARAMS" after the keyword. A space after the colon
 * is tolerated (the seed's figure 5). The path ends at the first ">" outside a quoted string.
 */
export function splitPathAndParams(rest: string): { path: string; params: EsmtpParam[] } {
  const s = rest.replace(/^ +/, '');
  if (!s.startsWith('<')) throw syntax('Syntax error: path must be in angle brackets');
  let i = 1;
  let quoted = false;
  for (; i < s.length; i++) {
    const c = s[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === '>') break;
  }
  if (i >= s.length) throw syntax('Syntax error: path must be in angle brackets');
  const path = s.slice(0, i + 1);
  const after = s.slice(i + 1);
  if (after !== '' && !after.startsWith(' ')) throw syntax('Syntax error after path');
  return { path, params: parseEsmtpParams(after) };
}

/** esmtp-param = esmtp-keyword ["=" esmtp-value] (RFC 5321 §4.1.2), separated by spaces. */
export function parseEsmtpParams(s: string): EsmtpParam[] {
  const out: EsmtpParam[] = [];
  const seen = new Set<string>();
  for (const word of s.split(' ')) {
    if (word === '') continue;
    const eq = word.indexOf('=');
    const key = (eq < 0 ? word : word.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key)) throw syntax('Syntax error in parameters');
    // esmtp-value = 1*(%d33-60 / %d62-126)
    if (value !== undefined && !/^[\x21-\x3c\x3e-\x7e]+$/.test(value)) throw syntax(`Syntax error in ${key} value`);
    if (seen.has(key)) throw syntax(`Duplicate ${key} parameter`);
    seen.add(key);
    out.push(value === undefined ? { key } : { key, value });
  }
  return out;
}

function need(p: EsmtpParam): string {
  if (p.value === undefined) throw syntax(`${p.key} needs a value`);
  return p.value;
}

function refuseValue(p: EsmtpParam): void {
  if (p.value !== undefined) throw syntax(`${p.key} takes no value`);
}

export interface MailCommand {
  readonly sender: ReversePath;
  readonly params: MailParams;
}

export interface ParseOptions {
  /** the session said EHLO: parameters are allowed (RFC 5321 §4.1.1.2) */
  readonly esmtp: boolean;
}

/**
 * MAIL parameters taken after HELO too. RFC 5321 §4.1.1.2 ties parameters to EHLO, but old
 * clients send SIZE, BODY and AUTH after HELO, and Postfix and OpenSMTPD take them: refusing
 * them breaks those clients and protects nothing (each is checked exactly as after EHLO).
 */
const afterHelo: ReadonlySet<string> = new Set(['SIZE', 'BODY', 'AUTH']);

/** Parses the arguments of MAIL ("FROM:<a@b> SIZE=10 ..."). Throws MailError. */
export function parseMailCommand(args: string, opts: ParseOptions): MailCommand {
  if (!/^FROM:/i.test(args)) throw syntax('Syntax error: MAIL FROM:<address>');
  const { path, params } = splitPathAndParams(args.slice(5));
  const mail: { -readonly [K in keyof MailParams]: MailParams[K] } = {};
  for (const p of params) {
    if (!opts.esmtp && !afterHelo.has(p.key)) throw new MailError(replies.unknownParameter(), 'MAIL_ERR_PARAM');
    switch (p.key) {
      case 'SIZE': {
        // RFC 1870 §3: size-value = 1*20DIGIT
        const v = need(p);
        if (!/^\d{1,20}$/.test(v)) throw syntax('Invalid SIZE value');
        mail.size = Number(v);
        break;
      }
      case 'BODY': {
        const v = need(p).toUpperCase();
        if (v === '7BIT' || v === '8BITMIME') mail.body = v;
        else if (v === 'BINARYMIME') throw new MailError(replies.parameterNotImplemented('BINARYMIME not supported'), 'MAIL_ERR_PARAM');
        else throw syntax('Invalid BODY value');
        break;
      }
      case 'SMTPUTF8':
        refuseValue(p);
        mail.smtpUtf8 = true;
        break;
      case 'RET': {
        // RFC 3461 §4.3
        const v = need(p).toUpperCase();
        if (v !== 'FULL' && v !== 'HDRS') throw syntax('Invalid RET value');
        mail.ret = v;
        break;
      }
      case 'ENVID': {
        // RFC 3461 §4.4: at most 100 characters
        const v = decodeXtext(need(p));
        if (v.length > 100 || /[^\x20-\x7e]/.test(v)) throw syntax('Invalid ENVID value');
        mail.envid = v;
        break;
      }
      case 'AUTH':
        // RFC 4954 §5: the original submitter; we trust only our own AUTH, so it is ignored
        decodeXtext(need(p));
        break;
      default:
        throw new MailError(replies.unknownParameter(), 'MAIL_ERR_PARAM');
    }
  }
  const sender = parseReversePath(path, { smtpUtf8: mail.smtpUtf8 === true });
  return { sender, params: mail };
}

export interface RcptCommand {
  readonly recipient: Address;
  readonly dsn: DsnParams;
}

/** Parses the arguments of RCPT ("TO:<a@b> NOTIFY=... ORCPT=..."). Throws MailError. */
export function parseRcptCommand(args: string, opts: ParseOptions & { smtpUtf8?: boolean }): RcptCommand {
  if (!/^TO:/i.test(args)) throw syntax('Syntax error: RCPT TO:<address>');
  const { path, params } = splitPathAndParams(args.slice(3));
  if (params.length > 0 && !opts.esmtp) throw new MailError(replies.unknownParameter(), 'MAIL_ERR_PARAM');
  const dsn: DsnParams = {};
  for (const p of params) {
    switch (p.key) {
      case 'NOTIFY': {
        // RFC 3461 §4.1: "NEVER" alone, or a comma list of SUCCESS, FAILURE, DELAY
        const items = need(p).toUpperCase().split(',');
        const allowed = ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'] as const;
        const list: (typeof allowed)[number][] = [];
        for (const it of items) {
          const k = allowed.find((a) => a === it);
          if (k === undefined || list.includes(k)) throw syntax('Invalid NOTIFY value');
          list.push(k);
        }
        if (list.includes('NEVER') && list.length > 1) throw syntax('NOTIFY=NEVER cannot be combined');
        dsn.notify = list;
        break;
      }
      case 'ORCPT': {
        // RFC 3461 §4.2: addr-type ";" xtext
        const v = need(p);
        const semi = v.indexOf(';');
        if (semi <= 0) throw syntax('Invalid ORCPT value');
        const type = v.slice(0, semi);
        if (!/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(type)) throw syntax('Invalid ORCPT address type');
        const addr = type.toLowerCase() === 'utf-8' ? v.slice(semi + 1) : decodeXtext(v.slice(semi + 1));
        if (addr === '' || addr.length > 500) throw syntax('Invalid ORCPT value');
        dsn.orcpt = `${type};${addr}`;
        break;
      }
      default:
        throw new MailError(replies.unknownParameter(), 'MAIL_ERR_PARAM');
    }
  }
  return { recipient: parseForwardPath(path, { smtpUtf8: opts.smtpUtf8 === true }), dsn };
}

/** Parses "BDAT chunk-size [LAST]" arguments (RFC 3030 §2). Throws 501. */
export function parseBdatArgs(args: string): { size: number; last: boolean } {
  const m = /^(\d{1,15})(?: +(LAST))?$/i.exec(args);
  if (!m) throw syntax('Syntax error: BDAT chunk-size [LAST]');
  return { size: Number(m[1]), last: m[2] !== undefined };
}
