/**
 * @module text-line
 * The readable form of a log line, for a terminal (`log.format = "text"`, or "auto" on a TTY):
 * time, level word, message id, event and the other fields as key=value, from the JSON line
 * pino writes, so both forms carry the same fields (docs/logging.md).
 * Standards: none (Postfix's `key=value` log convention).
 * Security: values are printed with control characters escaped (JSON string escapes), so a
 *   client's text cannot forge a second log line.
 * Limitations: nested objects are printed as compact JSON.
 */

const levelWords: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Fields printed in the line's head rather than as key=value. */
const head = new Set(['time', 'level', 'msg', 'messageId', 'hostname', 'pid']);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=\\\u0000-\u001f\u007f]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

/**
 * `2026-12-05T21:40:00.123Z INFO  4Jx0a1b2 delivered recipient=ana@a.example status=2.0.0 …`
 * from one JSON line (with its newline); a line that is not JSON is returned unchanged.
 */
export function formatTextLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  if (typeof o !== 'object' || o === null) return json;
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString() : value(o.time ?? '');
  const level = (levelWords[o.level as number] ?? value(o.level ?? '')).padEnd(5);
  const parts = [time, level];
  if (typeof o.messageId === 'string') parts.push(o.messageId);
  parts.push(value(o.msg ?? ''));
  for (const [k, v] of Object.entries(o)) {
    if (head.has(k) || v === undefined) continue;
    parts.push(`${k}=${value(v)}`);
  }
  return `${parts.join(' ')}\n`;
}

/** Whether "auto" means text: the log goes to a terminal. */
export function textWanted(format: 'json' | 'text' | 'auto', isTty: boolean): boolean {
  return format === 'text' || (format === 'auto' && isTty);
}
