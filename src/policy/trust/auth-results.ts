/**
 * @module auth-results
 * The one Authentication-Results field we add, and the test for an existing field that claims
 * our authserv-id (it is removed before ours is added: a sender could otherwise forge it).
 * Standards: RFC 8601 §2.2 (syntax: authserv-id, optional version, resinfo; "none"), §2.5
 *   (authserv-id compared case-insensitively), §5 (remove forged fields claiming our id),
 *   §2.7.1 (header.d, header.s, header.b), §2.7.2 (smtp.mailfrom, smtp.helo), RFC 7489 §11.2
 *   (dmarc=, header.from).
 * Security: values taken from the message or DNS are reduced to the characters a token or a
 *   quoted string may hold before they are written, so a header value cannot add lines.
 * Limitations: comments inside the authserv-id of a received field are skipped only before it.
 */

/** One method's result (RFC 8601 §2.2 resinfo). */
export interface ResInfo {
  readonly method: string;
  readonly result: string;
  /** free text, written as a comment */
  readonly comment?: string;
  /** ptype.property = value pairs, in order */
  readonly props?: readonly (readonly [string, string])[];
}

/** RFC 2045 token characters, else a quoted string without CR/LF, backslash or quote. */
function value(v: string): string {
  const clean = v.replace(/[\r\n"\\]/g, '');
  return /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~@]+$/.test(clean) ? clean : `"${clean}"`;
}

function comment(text: string): string {
  return `(${text.replace(/[\r\n()\\]/g, ' ').slice(0, 200)})`;
}

/** The complete field, folded one resinfo per line (RFC 5322 §2.2.3 folding). */
export function formatAuthResults(authservId: string, results: readonly ResInfo[]): string {
  if (results.length === 0) return `Authentication-Results: ${authservId}; none`;
  const parts = results.map((r) => {
    let s = `${r.method}=${r.result}`;
    if (r.comment) s += ` ${comment(r.comment)}`;
    for (const [k, v] of r.props ?? []) if (v !== '') s += ` ${k}=${value(v)}`;
    return s;
  });
  return `Authentication-Results: ${authservId};\r\n\t${parts.join(';\r\n\t')}`;
}

/** Strips leading CFWS (RFC 5322 §3.2.2 comments may nest) from `s`. */
function skipCfws(s: string): string {
  let i = 0;
  for (;;) {
    while (i < s.length && /\s/.test(s[i])) i++;
    if (s[i] !== '(') return s.slice(i);
    let depth = 0;
    for (; i < s.length; i++) {
      if (s[i] === '\\') i++;
      else if (s[i] === '(') depth++;
      else if (s[i] === ')' && --depth === 0) {
        i++;
        break;
      }
    }
  }
}

/** RFC 8601 §5: whether an Authentication-Results value claims `authservId` (any case). */
export function claimsAuthservId(fieldValue: string, authservId: string): boolean {
  const rest = skipCfws(fieldValue);
  const m = /^"?([^\s;"()]+)"?/.exec(rest);
  return m !== null && m[1].toLowerCase() === authservId.toLowerCase().replace(/\.$/, '');
}
