/**
 * @module mutf7
 * Modified UTF-7 mailbox names (IMAP4rev1) to and from Unicode.
 * Standards: RFC 3501 §5.1.3 ("&" starts a modified BASE64 run of UTF-16 ending with "-",
 *   "," instead of "/", "&-" is "&"; printable ASCII stands for itself).
 * Security: a malformed name decodes to undefined (refused), never to a guess.
 * Limitations: none.
 */

export function encodeMutf7(s: string): string {
  let out = '';
  let run = '';
  const flush = (): void => {
    if (run === '') return;
    const b = Buffer.alloc(run.length * 2);
    for (let i = 0; i < run.length; i++) b.writeUInt16BE(run.charCodeAt(i), i * 2);
    out += `&${b.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
    run = '';
  };
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (c >= 0x20 && c <= 0x7e) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else run += ch;
  }
  flush();
  return out;
}

export function decodeMutf7(s: string): string | undefined {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return undefined;
    if (s[i] !== '&') {
      out += s[i];
      continue;
    }
    const end = s.indexOf('-', i);
    if (end < 0) return undefined;
    const b64 = s.slice(i + 1, end);
    i = end;
    if (b64 === '') {
      out += '&';
      continue;
    }
    if (!/^[A-Za-z0-9+,]+$/.test(b64)) return undefined;
    const b = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (b.length % 2 !== 0 || b.length === 0) return undefined;
    let run = '';
    for (let j = 0; j < b.length; j += 2) run += String.fromCharCode(b.readUInt16BE(j));
    // a run must not hold what could be written plainly, and must be valid UTF-16
    if (/[\x20-\x7e]/.test(run) || run !== Buffer.from(run, 'utf16le').toString('utf16le')) return undefined;
    out += run;
  }
  return out;
}
