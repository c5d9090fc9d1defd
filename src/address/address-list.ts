/**
 * @module address-list
 * The one RFC 5322 address-list parser: From/To/Cc/Bcc values (policy's From check, the
 * sendmail command's -t) and sendmail's recipient arguments. Each element of the list comes
 * back on its own: a mailbox (its address parsed as parseAddrSpec does, its display name), a
 * bare local part when the caller allows those, or a bad element with the reason; one bad
 * element never hides the others, so a caller can refuse a list that holds any.
 *   address-list = address *("," address)            (obs-addr-list: empty elements allowed)
 *   address      = mailbox / group
 *   mailbox      = name-addr / addr-spec
 *   name-addr    = [display-name] angle-addr          angle-addr = "<" [obs-route] addr-spec ">"
 *   group        = display-name ":" [group-list] ";"
 * Standards: RFC 5322 §3.4 (address-list, mailbox, group), §3.2.2 (comments), §3.2.5 (phrase),
 *   §4.4 (obs-phrase with ".", obs-route, obs-addr-list); RFC 6854 (groups in From);
 *   RFC 6532 (UTF-8 in atoms and quoted strings).
 * Security: strict where an address is concerned: "a@x b@y", "John Doe@x", "evil@y <a@x>" or
 *   "John <middle> Doe <a@x>" are bad elements, never one plausible address; an "@" outside
 *   quotes in a display name makes the element bad. Bounded: one pass, nested comments 32 deep.
 * Limitations: lenient where mail readers are and nothing is at stake: a display name's quoted
 *   string may hold any character (NUL, invalid UTF-8 read as Latin-1), groups may nest or stay
 *   open at the end, and a comment left open at the end of the text is closed there (unless
 *   `closeOpenComment` is false). Display names are returned without RFC 2047 decoding; the
 *   name of a bare addr-spec in a trailing comment ("a@x (Name)") is not returned.
 */
import type { Address } from '../core/address.js';
import { Parser, toAddress } from './addr-spec.js';
import { AddressSyntaxError } from './smtp-path.js';

export type AddressListItem =
  | { readonly kind: 'mailbox'; readonly address: Address; readonly name: string; readonly group?: string; readonly text: string }
  /** a local part without "@domain" (only with options.bareLocalParts): sendmail's unqualified names */
  | { readonly kind: 'local'; readonly local: string; readonly name: string; readonly group?: string; readonly text: string }
  | { readonly kind: 'bad'; readonly reason: string; readonly group?: string; readonly text: string };

export interface AddressListOptions {
  /** a lone local part ("pascal", "<pascal>") is an item of kind 'local' (default: a bad element) */
  readonly bareLocalParts?: boolean;
  /** a comment still open at the end of the text is closed there (default true, as mail readers do) */
  readonly closeOpenComment?: boolean;
}

const ATEXT = /[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]/;

function isAtext(c: string | undefined): boolean {
  return c !== undefined && (ATEXT.test(c) || c.charCodeAt(0) > 0x7f);
}

/** The comment depth at the end of `s` (quotes, comments and quoted pairs followed). */
function openCommentDepth(s: string): number {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (quoted) quoted = c !== '"';
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (c === '"' && depth === 0) quoted = true;
  }
  return quoted ? 0 : depth;
}

/** Where the element starting at `from` ends: the next "," or ";" outside quotes, comments and <>. */
function elementEnd(s: string, from: number): number {
  let depth = 0;
  let quoted = false;
  let angle = false;
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (quoted) quoted = c !== '"';
    else if (depth > 0) depth += c === '(' ? 1 : c === ')' ? -1 : 0;
    else if (c === '(') depth++;
    else if (c === '"') quoted = true;
    else if (angle) angle = c !== '>';
    else if (c === '<') angle = true;
    else if (c === ',' || c === ';') return i;
  }
  return s.length;
}

class ListParser extends Parser {
  constructor(
    s: string,
    private readonly opts: AddressListOptions,
  ) {
    super(s);
  }

  /** At the end of an element: only a separator or the end of the text may follow. */
  private atElementEnd(): boolean {
    const c = this.peek();
    return c === undefined || c === ',' || c === ';';
  }

  private expectElementEnd(): void {
    this.cfws();
    if (!this.atElementEnd()) this.fail('unexpected text after the address');
  }

  /** A display name's quoted string: any character but an unescaped DQUOTE (see Limitations). */
  private displayQuoted(): string {
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail('unclosed quoted string');
      this.pos++;
      if (c === '"') return out;
      if (c === '\\' && this.peek() !== undefined) out += this.s[this.pos++];
      else out += c === '\r' || c === '\n' ? '' : c;
    }
  }

  /** obs-phrase = word *(word / "." / CFWS); '' when there is none. Words joined by one space. */
  private phrase(): string {
    let name = '';
    for (;;) {
      this.cfws();
      const c = this.peek();
      if (c === '"') name += (name === '' ? '' : ' ') + this.displayQuoted();
      else if (isAtext(c)) name += (name === '' ? '' : ' ') + this.atom();
      else if (c === '.' && name !== '') {
        this.pos++;
        name += '.';
      } else return name.replace(/ \./g, '.');
    }
  }

  /** "<" [obs-route] addr-spec ">" after the "<"; a bare "<local>" only when allowed. */
  private angleAddr(): Address | { local: string } {
    this.pos++;
    this.cfws();
    if (this.peek() === '@') {
      // RFC 5322 §4.4 obs-route: "@a,@b:" before the address, ignored (RFC 5321 §3.6.1)
      const colon = this.s.indexOf(':', this.pos);
      const close = this.s.indexOf('>', this.pos);
      if (colon < 0 || (close >= 0 && close < colon)) this.fail('bad source route');
      this.pos = colon + 1;
    }
    const local = this.localPart();
    let result: Address | { local: string };
    if (this.peek() === '@') {
      this.pos++;
      result = toAddress(this, local, this.domain());
    } else if (this.opts.bareLocalParts) result = { local };
    else this.fail('expected "@" in the address');
    if (this.peek() !== '>') this.fail('expected ">"');
    this.pos++;
    return result;
  }

  /** One element at `pos` (after leading CFWS), up to its separator. */
  element(group: string | undefined): AddressListItem | { kind: 'group'; name: string } {
    const start = this.pos;
    const base = group !== undefined ? { group } : {};
    // addr-spec first: "local@domain" with nothing else ("<" cannot start one: not tried, so
    // the common From form costs no thrown error)
    if (this.peek() !== '<') try {
      const local = this.localPart();
      if (this.peek() === '@') {
        this.pos++;
        const address = toAddress(this, local, this.domain());
        this.expectElementEnd();
        return { kind: 'mailbox', address, name: '', ...base, text: this.s.slice(start, this.pos).trim() };
      }
      if (this.opts.bareLocalParts && this.atElementEnd()) {
        return { kind: 'local', local, name: '', ...base, text: this.s.slice(start, this.pos).trim() };
      }
    } catch (err) {
      if (!(err instanceof AddressSyntaxError)) throw err;
    }
    this.pos = start;
    const name = this.phrase();
    const c = this.peek();
    if (c === '<') {
      const a = this.angleAddr();
      this.expectElementEnd();
      const text = this.s.slice(start, this.pos).trim();
      return 'domain' in a ? { kind: 'mailbox', address: a, name, ...base, text } : { kind: 'local', local: a.local, name, ...base, text };
    }
    if (c === ':' && name !== '') {
      this.pos++;
      return { kind: 'group', name };
    }
    if (c === '@') this.fail('"@" in a display name, or a display name without <address>');
    this.fail(name === '' ? 'expected an address' : 'expected <address> after the display name');
  }
}

/**
 * Parses an address list (a header field's value, or a command-line argument) into its
 * elements, in order; empty elements and group syntax are dropped, group members carry their
 * group's name. Never throws for bad syntax: see each item's kind.
 */
export function parseAddressList(text: string, opts: AddressListOptions = {}): AddressListItem[] {
  const depth = opts.closeOpenComment === false ? 0 : openCommentDepth(text);
  const s = depth > 0 ? text + ')'.repeat(depth) : text;
  const p = new ListParser(s, opts);
  const out: AddressListItem[] = [];
  const groups: string[] = [];
  for (;;) {
    const start = p.pos;
    try {
      p.cfws();
      const c = p.peek();
      if (c === undefined) break;
      if (c === ',' || c === ';') {
        // RFC 5322 §4.4: empty list elements; ";" ends the innermost open group
        p.pos++;
        if (c === ';') groups.pop();
        continue;
      }
      const item = p.element(groups[0]);
      if (item.kind === 'group') groups.push(item.name);
      else out.push(item);
    } catch (err) {
      if (!(err instanceof AddressSyntaxError)) throw err;
      const end = elementEnd(s, start);
      const reason = err.message.replace(/ at offset \d+$/, '');
      out.push({ kind: 'bad', reason, ...(groups[0] !== undefined ? { group: groups[0] } : {}), text: s.slice(start, end).trim() });
      p.pos = end;
    }
  }
  return out;
}
