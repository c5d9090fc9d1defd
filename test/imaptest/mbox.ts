/**
 * @module mbox
 * The messages of an imaptest fixture (`<script>.mbox`, else `default.mbox`): each runs from
 * the line after its `From ` separator to the next separator, line ends made CRLF; the
 * separator's date (and zone, when given) becomes the APPEND's internal date.
 * Standards: RFC 4155 (the mbox format), RFC 9051 §6.3.12 (date-time of APPEND).
 * Security: reads corpus files only.
 * Limitations: no `>From ` unquoting (the fixtures have none).
 */

export interface MboxMessage {
  /** the message's octets as latin1, CRLF line ends */
  readonly data: string;
  /** an IMAP date-time, `22-Feb-2008 17:06:23 +0000` */
  readonly date: string;
}

export function parseMbox(text: string): MboxMessage[] {
  const out: MboxMessage[] = [];
  const starts: number[] = [];
  const after = (from: number): number => {
    const n = text.indexOf('\nFrom ', from);
    return n < 0 ? -1 : n + 1;
  };
  for (let i = text.startsWith('From ') ? 0 : after(0); i >= 0; i = after(i)) starts.push(i);
  for (const [k, s] of starts.entries()) {
    const eol = text.indexOf('\n', s);
    const from = text.slice(s, eol);
    const end = k + 1 < starts.length ? starts[k + 1] : text.length;
    const m = /(\w{3}) +(\d{1,2}) (\d\d:\d\d:\d\d) (\d{4})(?: ([+-]\d{4}))?\s*$/.exec(from);
    const date = m ? `${m[2].padStart(2, '0')}-${m[1]}-${m[4]} ${m[3]} ${m[5] ?? '+0000'}` : '01-Jan-2000 00:00:00 +0000';
    out.push({ data: text.slice(eol + 1, end).replace(/\r?\n/g, '\r\n'), date });
  }
  return out;
}
