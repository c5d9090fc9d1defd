/**
 * @module imap-args
 * The argument reader shared by the imaptest script patterns and the server responses they are
 * matched against: atoms, quoted strings, literals (`{n}` and literal8 `~{n}`), NIL and
 * parenthesised lists, over octet strings (latin1, one character per octet).
 * Standards: RFC 9051 §4 (data formats), RFC 3516 §4.3 (literal8).
 * Security: reads server output leniently and never throws on it: an unclosed list or string
 *   ends at the end of the line, a literal longer than the data is cut to it.
 * Limitations: a `[` inside an atom opens a section that runs to its `]` with spaces and
 *   parentheses (`BODY[HEADER.FIELDS (FROM)]`, `[APPENDUID 1 2]` are one atom each); patterns
 *   and responses are read alike, so they compare alike.
 */

export type ImapArg =
  | { readonly t: 'atom'; readonly v: string }
  | { readonly t: 'string'; readonly v: string }
  | { readonly t: 'literal'; readonly v: string }
  | { readonly t: 'nil' }
  | { readonly t: 'list'; readonly v: ImapArg[] };

/** The string value of an atom, quoted string or literal (IMAP astring), else undefined. */
export function astring(a: ImapArg | undefined): string | undefined {
  return a && (a.t === 'atom' || a.t === 'string' || a.t === 'literal') ? a.v : undefined;
}

/** Reads the arguments of one whole response or pattern line (literal data inline). */
export function readArgs(text: string): ImapArg[] {
  let i = 0;
  const readList = (inList: boolean): ImapArg[] => {
    const out: ImapArg[] = [];
    while (i < text.length) {
      const c = text[i];
      if (c === ' ' || c === '\r' || c === '\n') {
        i++;
      } else if (c === '(') {
        i++;
        out.push({ t: 'list', v: readList(true) });
      } else if (c === ')' && inList) {
        i++;
        return out;
      } else if (c === '"') {
        let v = '';
        for (i++; i < text.length && text[i] !== '"'; i++) {
          if (text[i] === '\\' && i + 1 < text.length) i++;
          v += text[i];
        }
        i++;
        out.push({ t: 'string', v });
      } else {
        const lit = /^~?\{(\d+)\+?\}\r\n/.exec(text.slice(i, i + 24));
        if (lit) {
          i += lit[0].length;
          out.push({ t: 'literal', v: text.slice(i, i + Number(lit[1])) });
          i += Number(lit[1]);
          continue;
        }
        const start = i;
        let depth = 0;
        for (; i < text.length; i++) {
          const d = text[i];
          if (d === '[') depth++;
          else if (d === ']' && depth > 0) depth--;
          else if (d === '\r' || d === '\n') break;
          else if (depth === 0 && (d === ' ' || d === '(' || (d === ')' && inList))) break;
        }
        const v = text.slice(start, i);
        out.push(v.toUpperCase() === 'NIL' ? { t: 'nil' } : { t: 'atom', v });
      }
    }
    return out;
  };
  return readList(false);
}

/** The arguments back as text, for failure messages (literals shown as quoted strings). */
export function showArgs(args: readonly ImapArg[]): string {
  return args
    .map((a) => {
      switch (a.t) {
        case 'nil':
          return 'NIL';
        case 'list':
          return `(${showArgs(a.v)})`;
        case 'atom':
          return a.v;
        default:
          return JSON.stringify(a.v);
      }
    })
    .join(' ');
}
