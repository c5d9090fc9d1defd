/**
 * @module parse-duration
 * Durations as written in the config: "30s", "5m", "4h", "3d", or combined "1h30m".
 * Standards: none (DESIGN.md §4: durations accept s m h d).
 * Security: bounded input; anything else is a RangeError naming the bad text.
 * Limitations: no fractions, no weeks; a bare number is refused (units are required).
 */

const units: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration into milliseconds: parseDuration('3d') → 259200000. Throws RangeError. */
export function parseDuration(text: string): number {
  const s = text.trim().toLowerCase();
  if (s === '' || s.length > 64 || !/^(\d+[smhd])+$/.test(s)) {
    throw new RangeError(`invalid duration "${text}": expected a number and a unit s, m, h or d (e.g. "5m", "3d")`);
  }
  let total = 0;
  for (const m of s.matchAll(/(\d+)([smhd])/g)) total += Number(m[1]) * units[m[2]];
  if (!Number.isSafeInteger(total)) throw new RangeError(`duration "${text}" is too large`);
  return total;
}
