/**
 * @module envelope
 * FETCH ENVELOPE from a message's header fields, with its address lists parsed into IMAP's
 * (name adl mailbox host) form.
 * Standards: RFC 9051 §7.5.2 (ENVELOPE: date, subject, from, sender, reply-to, to, cc, bcc,
 *   in-reply-to, message-id; sender and reply-to default to from; a group is
 *   (NIL NIL "name" NIL) ... (NIL NIL NIL NIL)); RFC 5322 §3.4 (address syntax, leniently:
 *   comments dropped except as the name of a bare address, quoted strings unquoted, obsolete
 *   routes kept as adl).
 * Security: header text is sent as it is stored, never interpreted: values with 8-bit octets
 *   or line ends go as literals (imap-value).
 * Limitations: encoded words are not decoded (IMAP sends them raw, as Dovecot does); an address
 *   without a domain gets the host "MISSING_DOMAIN" (Dovecot's choice).
 */
import type { HeaderField } from '../mime/index.js';
import { ImapRun, type ImapValue } from './imap-value.js';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

type Token = { kind: 'word' | 'quoted' | 'comment'; text: string } | { kind: 'special'; text: string };

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length && out.length < 10_000) {
    const c = s[i];
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') i++;
    else if (c === '(') {
      // comments nest (RFC 5322 §3.2.2); kept: "addr (Name)" names its owner
      let depth = 0;
      const from = i;
      for (; i < s.length; i++) {
        if (s[i] === '\\') i++;
        else if (s[i] === '(') depth++;
        else if (s[i] === ')' && --depth === 0) break;
      }
      out.push({ kind: 'comment', text: s.slice(from + 1, Math.min(i, s.length)).trim() });
      i++;
    } else if (c === '"') {
      let t = '';
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        t += s[i++];
      }
      i++;
      out.push({ kind: 'quoted', text: t });
    } else if ('<>,;:@'.includes(c)) {
      out.push({ kind: 'special', text: c });
      i++;
    } else {
      let t = '';
      while (i < s.length && !' \t\r\n()"<>,;:@'.includes(s[i])) t += s[i++];
      out.push({ kind: 'word', text: t });
    }
  }
  return out;
}

function address(name: string | null, adl: string | null, mailbox: string | null, host: string | null): ImapValue {
  return [name === null ? null : latin1(name), adl === null ? null : latin1(adl), mailbox === null ? null : latin1(mailbox), host === null ? null : latin1(host)];
}

/** One mailbox from its tokens: [display name] <[route:]local@domain> or local@domain. */
function mailboxOf(all: Token[]): ImapValue | undefined {
  const tokens = all.filter((t) => t.kind !== 'comment');
  // a bare address with a comment: the comment is its display name (Dovecot's reading too)
  const comment = all.findLast((t) => t.kind === 'comment' && t.text !== '')?.text;
  if (tokens.length === 0) return undefined;
  const lt = tokens.findIndex((t) => t.kind === 'special' && t.text === '<');
  let name: string | null = null;
  let spec = tokens;
  let adl: string | null = null;
  if (lt >= 0) {
    const words = tokens.slice(0, lt).map((t) => t.text);
    name = words.length > 0 ? words.join(' ') : null;
    const gt = tokens.findIndex((t, i) => i > lt && t.kind === 'special' && t.text === '>');
    spec = tokens.slice(lt + 1, gt < 0 ? undefined : gt);
    const colon = spec.findIndex((t) => t.kind === 'special' && t.text === ':');
    if (colon >= 0) {
      adl = spec.slice(0, colon).map((t) => t.text).join('');
      spec = spec.slice(colon + 1);
    }
  }
  const at = spec.map((t) => t.kind === 'special' && t.text === '@').lastIndexOf(true);
  const local = (at < 0 ? spec : spec.slice(0, at)).map((t) => t.text).join('');
  const host = at < 0 ? '' : spec.slice(at + 1).map((t) => t.text).join('');
  if (name === null && lt < 0 && comment !== undefined) name = comment;
  if (local === '' && host === '' && name === null) return undefined;
  return address(name, adl, local === '' ? 'MISSING_MAILBOX' : local, host === '' ? 'MISSING_DOMAIN' : host);
}

/** An address list header into IMAP addresses; NIL when empty. */
export function addressList(value: string | undefined): ImapValue {
  if (value === undefined) return null;
  const tokens = tokenize(value);
  const out: ImapValue[] = [];
  let cur: Token[] = [];
  let inGroup = false;
  const flush = (): void => {
    const m = mailboxOf(cur);
    if (m !== undefined) out.push(m);
    cur = [];
  };
  for (const t of tokens) {
    if (t.kind === 'special' && t.text === ',') flush();
    else if (t.kind === 'special' && t.text === ':' && !inGroup && !cur.some((x) => x.kind === 'special' && x.text === '<')) {
      // "group: a, b;" (RFC 5322 §3.4)
      out.push(address(null, null, cur.filter((x) => x.kind !== 'comment').map((x) => x.text).join(' '), null));
      cur = [];
      inGroup = true;
    } else if (t.kind === 'special' && t.text === ';' && inGroup) {
      flush();
      out.push(address(null, null, null, null));
      inGroup = false;
    } else cur.push(t);
    if (out.length > 1000) break;
  }
  flush();
  if (inGroup) out.push(address(null, null, null, null));
  // RFC 9051 §9 env-from etc.: "(" 1*address ")": addresses back to back
  return out.length === 0 ? null : [new ImapRun(out)];
}

/** RFC 5256 §3: the addr-mailbox (local part) of the first address of an address list header; "" when none. */
export function firstMailbox(value: string | undefined): string {
  const list = addressList(value);
  if (!Array.isArray(list) || !(list[0] instanceof ImapRun)) return '';
  for (const a of list[0].items) {
    // a group's start has no host: skip it
    if (Array.isArray(a) && a[3] !== null && Buffer.isBuffer(a[2])) return a[2].toString('latin1');
  }
  return '';
}

/** RFC 9051 §7.5.2 ENVELOPE. */
export function envelopeOf(fields: readonly HeaderField[]): ImapValue {
  const get = (n: string): string | undefined => fields.find((f) => f.name.toLowerCase() === n)?.value;
  const str = (n: string): ImapValue => {
    const v = get(n);
    return v === undefined ? null : latin1(v.trim());
  };
  const from = addressList(get('from'));
  const sender = get('sender') !== undefined ? addressList(get('sender')) : from;
  const replyTo = get('reply-to') !== undefined ? addressList(get('reply-to')) : from;
  return [
    str('date'),
    str('subject'),
    from,
    sender ?? from,
    replyTo ?? from,
    addressList(get('to')),
    addressList(get('cc')),
    addressList(get('bcc')),
    str('in-reply-to'),
    str('message-id'),
  ];
}
