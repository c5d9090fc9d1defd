/**
 * @module units
 * Durations ("30s", "5m", "4h", "3d", "1h30m") and sizes ("512KB", "25MB", "1GB") as written in
 * correio.toml, parsed to milliseconds and octets.
 * Standards: none (DESIGN.md §4: durations accept s m h d; sizes KB MB GB).
 * Security: inputs are bounded (no value past Number.MAX_SAFE_INTEGER is accepted).
 * Limitations: sizes are binary multiples (1KB = 1024 octets), as Postfix and most MTAs count;
 *   no fractional values ("1.5h" is refused: write "90m").
 */

const durationUnits: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const sizeUnits: Readonly<Record<string, number>> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** "5m" → 300000; "1h30m" → 5400000. Returns undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (!/^(\d+[smhd])+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+)([smhd])/g)) total += Number(m[1]) * durationUnits[m[2]];
  return Number.isSafeInteger(total) ? total : undefined;
}

/** "25MB" → 26214400; "1000" → 1000. Returns undefined when the text is not a size. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * sizeUnits[(m[2] ?? '').toLowerCase()];
  return Number.isSafeInteger(n) ? n : undefined;
}
