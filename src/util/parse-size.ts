/**
 * @module parse-size
 * Sizes as written in the config: "25MB", "512KB", "1GB", or a bare number of bytes.
 * Units are binary (1 KB = 1024 octets), as Postfix and most MTAs count message sizes, so
 * "10MB" = 10485760 octets.
 * Standards: none (DESIGN.md §4: sizes accept KB MB GB).
 * Security: bounded input; anything else is a RangeError naming the bad text.
 * Limitations: no fractions; "K"/"M"/"G" without "B" and "KiB" forms are accepted as synonyms.
 */

const factors: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Parses a size into octets: parseSize('25MB') → 26214400. Throws RangeError. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) throw new RangeError(`invalid size ${text}`);
    return text;
  }
  const m = /^\s*(\d{1,15})\s*([a-z]*)\s*$/i.exec(text);
  const factor = m ? factors[m[2].toLowerCase()] : undefined;
  if (!m || factor === undefined) {
    throw new RangeError(`invalid size "${text}": expected a number and a unit KB, MB or GB (e.g. "25MB")`);
  }
  const n = Number(m[1]) * factor;
  if (!Number.isSafeInteger(n)) throw new RangeError(`size "${text}" is too large`);
  return n;
}
