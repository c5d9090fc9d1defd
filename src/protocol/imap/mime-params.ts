/**
 * @module mime-params
 * The value and parameters of a Content-Type or Content-Disposition field, as written (for
 * BODYSTRUCTURE) and for lookups.
 * Standards: RFC 2045 §5.1 (`type/subtype *(";" attribute "=" value)`, value a token or a
 *   quoted-string, comments allowed between tokens but not inside a quoted-string), RFC 2231
 *   §3-§4 (continuations `name*0`, `name*1*`, ...: one parameter split in segments; `name*`
 *   marks an extended value `charset'language'%XX...`).
 * Security: bounded (100 parameters); a syntax error ends the parameter list, never throws.
 * Limitations: RFC 2231 values are joined but not decoded in BODYSTRUCTURE (a client decodes
 *   them, as with Dovecot); only `extendedParam` decodes (for the multipart boundary).
 */

export type Param = readonly [string, string];

/** `value; a=b; c="d e"`: the value before the first ";" and the parameters as written. */
export function parseParams(field: string): { value: string; params: [string, string][] } {
  const s = stripComments(field);
  const params: [string, string][] = [];
  let i = 0;
  const skip = (): void => {
    while (i < s.length && /[ \t\r\n]/.test(s[i])) i++;
  };
  while (i < s.length && s[i] !== ';') i++;
  const value = s.slice(0, i).trim();
  while (i < s.length && s[i] === ';' && params.length < 100) {
    i++;
    skip();
    const ks = i;
    while (i < s.length && !'=;'.includes(s[i])) i++;
    const key = s.slice(ks, i).trim();
    // "; ;": an empty parameter is skipped (Dovecot drops the rest after an even number of them only)
    if (key === '') continue;
    if (/[\s"]/.test(key)) break;
    if (s[i] !== '=') continue;
    i++;
    skip();
    let v = '';
    if (s[i] === '"') {
      for (i++; i < s.length && s[i] !== '"'; i++) {
        if (s[i] === '\\' && i + 1 < s.length) i++;
        v += s[i];
      }
      i++;
      while (i < s.length && s[i] !== ';') i++;
    } else {
      const vs = i;
      while (i < s.length && s[i] !== ';') i++;
      v = s.slice(vs, i).trim();
    }
    params.push([key, v]);
  }
  return { value, params };
}

/** Comments "(...)" (nested, RFC 5322 §3.2.2) become a space; quoted strings are kept whole. */
function stripComments(s: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (depth === 0 && c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      out += s.slice(i, j + 1);
      i = j;
    } else if (c === '(') depth++;
    else if (c === ')' && depth > 0) {
      if (--depth === 0) out += ' ';
    } else if (depth > 0) {
      if (c === '\\') i++;
    } else out += c;
  }
  return out;
}

/**
 * RFC 2231 §3 continuations joined: plain parameters first as written, then the starred ones
 * by name and segment number; a complete run `name*0`..`name*n` becomes one parameter, named
 * `name*` when its first segment is extended (§4) and `name` otherwise; an incomplete run
 * (a gap, no segment 0) is left as written.
 */
export function joinContinuations(params: readonly Param[]): Param[] {
  const plain: Param[] = [];
  const starred: { name: string; index: number; ext: boolean; key: string; value: string }[] = [];
  for (const [k, v] of params) {
    const m = /^(.*?)\*(?:(\d+)(\*)?)?$/.exec(k);
    if (!m) plain.push([k, v]);
    else starred.push({ name: m[1], index: m[2] === undefined ? -1 : Number(m[2]), ext: m[2] === undefined || m[3] !== undefined, key: k, value: v });
  }
  starred.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.index - b.index));
  const out = plain;
  for (let i = 0; i < starred.length; ) {
    let j = i;
    while (j < starred.length && starred[j].name === starred[i].name) j++;
    const run = starred.slice(i, j);
    if (run[0].index === 0 && run.every((s, n) => s.index === n)) out.push([run[0].ext ? `${run[0].name}*` : run[0].name, run.map((s) => s.value).join('')]);
    else for (const s of run) out.push([s.key, s.value]);
    i = j;
  }
  return out;
}

/**
 * A parameter's value by name (case-insensitive), RFC 2231 continuations joined and an
 * extended value (`charset'lang'%XX`) percent-decoded as latin1 octets; undefined if absent.
 */
export function extendedParam(params: readonly Param[], name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of joinContinuations(params)) {
    if (k.toLowerCase() === lower) return v;
    if (k.toLowerCase() === `${lower}*`) {
      const m = /^[^']*'[^']*'(.*)$/s.exec(v);
      const raw = m ? m[1] : v;
      return raw.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
  }
  return undefined;
}
