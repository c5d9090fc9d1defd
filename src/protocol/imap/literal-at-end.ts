/**
 * @module literal-at-end
 * Whether a command line ends with a literal's announcement, and its size: what the session
 * needs to know before it reads the literal's octets.
 * Standards: RFC 9051 §4.3 ("{n}" CRLF: the client waits for a "+" continuation), RFC 7888
 *   ("{n+}": non-synchronizing, sent at once), RFC 3516 ("~{n}" literal8).
 * Security: the count is limited to 10 digits; what size is accepted is the session's.
 * Limitations: none.
 */

/** The literal announced at the end of `line` (without CRLF), or undefined. */
export function literalAtEnd(line: Buffer): { size: number; sync: boolean } | undefined {
  if (line.length < 3 || line[line.length - 1] !== 0x7d) return undefined;
  const open = line.lastIndexOf(0x7b);
  if (open < 0 || line.length - open > 14) return undefined;
  const m = /^\{(\d{1,10})(\+?)\}$/.exec(line.toString('latin1', open));
  if (!m) return undefined;
  return { size: Number(m[1]), sync: m[2] === '' };
}
