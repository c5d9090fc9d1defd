/**
 * @module date-time
 * IMAP's date-time (INTERNALDATE, APPEND's date): parsed from and formatted to
 * "dd-Mon-yyyy hh:mm:ss +zzzz".
 * Standards: RFC 9051 §9 (date-time; the day may start with a space).
 * Security: a value out of range is no date (undefined). Limitations: formats in UTC only.
 */
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 9051 §9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (day may start with a space). */
export function parseDateTime(s: string): number | undefined {
  const m = /^([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(s);
  if (!m) return undefined;
  const mon = months.findIndex((x) => x.toLowerCase() === m[2].toLowerCase());
  if (mon < 0) return undefined;
  const [d, h, mi, sec] = [Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])];
  if (d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return undefined;
  const zone = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  return Date.UTC(Number(m[3]), mon, d, h, mi, sec) - zone * 60_000;
}

/** Formats an INTERNALDATE (RFC 9051 §9 date-time) in UTC. */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}-${months[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
