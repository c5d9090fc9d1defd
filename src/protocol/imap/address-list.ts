/**
 * @module address-list
 * An address list header field (From, To, Cc, ...) into IMAP's address structures
 * (name adl mailbox host), for ENVELOPE and for SORT's first mailbox.
 * Standards: RFC 5322 §3.4 (address-list: mailbox or group, comma separated; mailbox:
 *   [display-name] angle-addr or addr-spec; group: display-name ":" [mailbox-list] ";"),
 *   RFC 5322 §4.4 (obsolete routes "@a,@b:", kept as adl), RFC 9051 §7.5.2 (a group is
 *   (NIL NIL "name" NIL) ... (NIL NIL NIL NIL)).
 * Security: bounded (1000 addresses, 10,000 tokens); never throws.
 * Limitations: broken syntax is read the way Dovecot reads it, so clients see the same
 *   addresses from both: a missing local part or domain becomes "MISSING_MAILBOX" /
 *   "MISSING_DOMAIN", junk inside <...> makes the host "SYNTAX_ERROR", and junk after an
 *   address (where a comma should be) ends the list; a bare address's last comment is its name.
 */
import { ImapRun, type ImapValue } from './imap-value.js';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

type Token = { kind: 'word' | 'quoted' | 'literal' | 'special' | 'broken'; text: string; comment?: string };

/**
 * Words, quoted strings, domain literals and specials; each comment is attached to the token
 * before it (a comment before everything, as in "(c) <x@y>", names nothing).
 */
function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length && tokens.length < 10_000) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') i++;
    else if (c === '(') {
      // comments nest (RFC 5322 §3.2.2)
      let depth = 0;
      const from = i;
      for (; i < s.length; i++) {
        if (s[i] === '\\') i++;
        else if (s[i] === '(') depth++;
        else if (s[i] === ')' && --depth === 0) break;
      }
      const text = s.slice(from + 1, Math.min(i, s.length)).trim();
      i++;
      if (text === '') continue;
      const last = tokens.at(-1);
      if (last) last.comment = text;
    } else if (c === '"' || c === '[') {
      const close = c === '"' ? '"' : ']';
      let t = '';
      for (i++; i < s.length && s[i] !== close; i++) {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        t += s[i];
      }
      // an unterminated quoted string or literal: a syntax error that ends the list
      if (i >= s.length) tokens.push({ kind: 'broken', text: t });
      else tokens.push(c === '"' ? { kind: 'quoted', text: t } : { kind: 'literal', text: `[${t}]` });
      i++;
    } else if ('<>,;:@'.includes(c)) {
      tokens.push({ kind: 'special', text: c });
      i++;
    } else {
      let t = '';
      while (i < s.length && !' \t\r\n()"<>,;:@['.includes(s[i])) t += s[i++];
      tokens.push({ kind: 'word', text: t });
    }
  }
  return tokens;
}

function address(name: string | null, adl: string | null, mailbox: string | null, host: string | null): ImapValue {
  return [name === null ? null : latin1(name), adl === null ? null : latin1(adl), mailbox === null ? null : latin1(mailbox), host === null ? null : latin1(host)];
}

/** Reads one address list; `at` is the cursor over the tokens. */
class ListParser {
  at = 0;
  readonly out: ImapValue[] = [];
  constructor(private readonly t: Token[]) {}

  private peek(text?: string): Token | undefined {
    const tok = this.t[this.at];
    return text === undefined || (tok?.kind === 'special' && tok.text === text) ? tok : undefined;
  }

  private isSpecial(text: string): boolean {
    return this.peek(text) !== undefined;
  }

  /** address *("," address); anything else where a comma should be ends the list. */
  list(inGroup: boolean): void {
    while (this.at < this.t.length && this.out.length < 1000) {
      if (inGroup && this.isSpecial(';')) return;
      if (this.isSpecial(',')) {
        // an empty member (",,"): Dovecot shows it as an address with neither part
        this.out.push(address(null, null, 'MISSING_MAILBOX', 'MISSING_DOMAIN'));
        this.at++;
        continue;
      }
      if (!this.member(inGroup)) return;
      if (this.at >= this.t.length) return;
      if (!this.isSpecial(',')) return;
      this.at++;
    }
  }

  /** A mailbox or a group; false when the list must end (a syntax error left the cursor mid-address). */
  private member(inGroup: boolean): boolean {
    const phrase: Token[] = [];
    while (this.peek() && this.peek()!.kind !== 'special') phrase.push(this.t[this.at++]);
    if (phrase.some((x) => x.kind === 'broken')) {
      this.out.push(address(null, null, 'MISSING_MAILBOX', 'MISSING_DOMAIN'));
      return false;
    }
    const name = phrase.length > 0 ? phrase.map((x) => x.text).join(' ') : null;
    if (this.isSpecial(':') && !inGroup) {
      this.at++;
      this.out.push(address(null, null, name ?? '', null));
      this.list(true);
      if (this.isSpecial(';')) this.at++;
      this.out.push(address(null, null, null, null));
      return true;
    }
    if (this.isSpecial('<')) {
      this.at++;
      return this.angle(name);
    }
    const comment = phrase.at(-1)?.comment;
    if (this.isSpecial('@')) {
      // addr-spec: the phrase must have been one local part ("john doe@x" is not one)
      if (phrase.length > 1) {
        this.out.push(address(name, null, 'MISSING_MAILBOX', 'MISSING_DOMAIN'));
        return false;
      }
      this.at++;
      const domain = this.domain();
      const c = domain.comment ?? comment;
      this.out.push(address(c ?? null, null, name ?? 'MISSING_MAILBOX', domain.host ?? 'MISSING_DOMAIN'));
      return true;
    }
    if (phrase.length === 0) return false;
    // no "@": one word is a local part without domain, several are a name without address
    if (phrase.length === 1) this.out.push(address(comment ?? null, null, phrase[0].text, 'MISSING_DOMAIN'));
    else this.out.push(address(name, null, 'MISSING_MAILBOX', 'MISSING_DOMAIN'));
    return true;
  }

  /** After "<": [route ":"] local "@" domain ">". */
  private angle(name: string | null): boolean {
    let adl: string | null = null;
    if (this.isSpecial('@')) {
      const route: string[] = [];
      while (this.isSpecial('@') || this.isSpecial(',')) {
        const sep = this.t[this.at++].text;
        if (sep === '@' && this.peek()?.kind === 'word') route.push(`@${this.t[this.at++].text}`);
      }
      if (this.isSpecial(':')) this.at++;
      adl = route.join(',');
    }
    if (this.isSpecial('>')) {
      this.at++;
      this.out.push(address(name, adl, 'MISSING_MAILBOX', 'MISSING_DOMAIN'));
      return true;
    }
    const local = this.peek()?.kind === 'word' || this.peek()?.kind === 'quoted' ? this.t[this.at++].text : '';
    let host: string | undefined;
    if (this.isSpecial('@')) {
      this.at++;
      host = this.domain().host;
    } else if (!this.isSpecial('>')) host = 'SYNTAX_ERROR';
    if (!this.isSpecial('>')) {
      this.out.push(address(name, adl, local || 'MISSING_MAILBOX', 'SYNTAX_ERROR'));
      return true;
    }
    this.at++;
    this.out.push(address(name, adl, local || 'MISSING_MAILBOX', host ?? 'MISSING_DOMAIN'));
    return true;
  }

  /** A dot-atom (parts may be split by spaces around the dots) or a domain literal; undefined host when invalid. */
  private domain(): { host?: string; comment?: string } {
    const tok = this.peek();
    if (tok?.kind === 'literal') {
      this.at++;
      return { host: tok.text, comment: tok.comment };
    }
    if (tok?.kind !== 'word') return {};
    let host = tok.text;
    let last = tok;
    this.at++;
    while (this.peek()?.kind === 'word' && (host.endsWith('.') || this.peek()!.text.startsWith('.'))) {
      last = this.t[this.at++];
      host += last.text;
    }
    const valid = !host.startsWith('.') && !host.endsWith('.') && !host.includes('..');
    return { host: valid ? host : undefined, comment: last.comment };
  }
}

/** An address list header (every occurrence, in order) into IMAP addresses; NIL when empty. */
export function addressList(values: string | readonly string[] | undefined): ImapValue {
  if (values === undefined) return null;
  const out: ImapValue[] = [];
  for (const value of typeof values === 'string' ? [values] : values) {
    const p = new ListParser(tokenize(value));
    p.list(false);
    out.push(...p.out);
    if (out.length >= 1000) break;
  }
  // RFC 9051 §9 env-from etc.: "(" 1*address ")": addresses back to back
  return out.length === 0 ? null : [new ImapRun(out)];
}

/** The addresses of an address list header as IMAP address structures (name, adl, mailbox, host). */
function addresses(value: string | undefined): (Buffer | null)[][] {
  const list = addressList(value);
  if (!Array.isArray(list) || !(list[0] instanceof ImapRun)) return [];
  return list[0].items.filter((a): a is (Buffer | null)[] => Array.isArray(a));
}

/**
 * RFC 5256 §3: the addr-mailbox of the first address of an address list header; "" when none.
 * A group's start is an address whose mailbox is the group's name (RFC 9051 §7.5.2).
 */
export function firstMailbox(value: string | undefined): string {
  const m = addresses(value).find((a) => Buffer.isBuffer(a[2]))?.[2];
  return m ? m.toString('latin1') : '';
}

/**
 * RFC 9051 §6.4.4 (SEARCH FROM, TO, CC, BCC): the envelope's addresses of a header as text,
 * "name mailbox@host" each (a group by its name), for substring matching.
 */
export function addressTexts(value: string | undefined): string[] {
  return addresses(value).flatMap(([name, , mailbox, host]) => (mailbox ? [`${name?.toString('latin1') ?? ''} ${mailbox.toString('latin1')}${host ? `@${host.toString('latin1')}` : ''}`] : []));
}

/**
 * RFC 5957 §3: the display name of the first address (a group's name for a group), RFC 2047
 * words left to the caller; its addr-spec when it has no name; "" when there is none.
 */
export function firstDisplayName(value: string | undefined): string {
  const a = addresses(value).find((x) => Buffer.isBuffer(x[2]));
  if (!a) return '';
  const [name, , mailbox, host] = a;
  if (name && name.length > 0) return name.toString('latin1');
  return `${mailbox!.toString('latin1')}${host ? `@${host.toString('latin1')}` : ''}`;
}
