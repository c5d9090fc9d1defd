/**
 * @module key-lines
 * Finds the line on which each key of a TOML document is written, so that a config error can
 * name file, key and line. A light line scanner, not a second TOML parser: the document has
 * already been parsed by smol-toml when this runs.
 * Standards: TOML 1.0 §Keys, §Table, §Array of Tables (key syntax only).
 * Security: linear in the size of the document.
 * Limitations: keys inside inline tables and multi-line arrays map to the line of their parent
 *   key; a key-like line inside a multi-line string could be mistaken for a key (lines only).
 */

const keyPart = String.raw`(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')`;
const keyPath = String.raw`${keyPart}(?:\s*\.\s*${keyPart})*`;
const tableRe = new RegExp(String.raw`^\[\[?\s*(${keyPath})\s*\]\]?`);
const assignRe = new RegExp(String.raw`^(${keyPath})\s*=`);
const partRe = new RegExp(keyPart, 'g');

function splitKey(path: string): string[] {
  return [...path.matchAll(partRe)].map((m) => {
    const p = m[0];
    if (p.startsWith('"')) {
      try {
        return JSON.parse(p) as string;
      } catch {
        return p.slice(1, -1);
      }
    }
    return p.startsWith("'") ? p.slice(1, -1) : p;
  });
}

/** Map from dotted key path ("smtp.max_recipients") to its 1-based line (first occurrence). */
export function keyLines(source: string): Map<string, number> {
  const out = new Map<string, number>();
  let table: string[] = [];
  let inMultiline: string | undefined;
  const lines = source.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (inMultiline) {
      if (line.includes(inMultiline)) inMultiline = undefined;
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const t = tableRe.exec(line);
    if (t) {
      table = splitKey(t[1]);
      const k = table.join('.');
      if (!out.has(k)) out.set(k, i + 1);
      continue;
    }
    const a = assignRe.exec(line);
    if (a) {
      const parts = [...table, ...splitKey(a[1])];
      for (let n = table.length + 1; n <= parts.length; n++) {
        const k = parts.slice(0, n).join('.');
        if (!out.has(k)) out.set(k, i + 1);
      }
      const rest = line.slice(a[0].length);
      for (const q of ['"""', "'''"]) {
        const at = rest.indexOf(q);
        if (at >= 0 && rest.indexOf(q, at + 3) < 0) inMultiline = q;
      }
    }
  }
  return out;
}

/** The line of a key path, or of its nearest written parent; undefined when none is written. */
export function lineOf(lines: Map<string, number>, path: readonly string[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const l = lines.get(path.slice(0, n).join('.'));
    if (l !== undefined) return l;
  }
  return undefined;
}

/** A key path for people: smtp.max_recipients, delivery.routes."example.net". */
export function displayKey(path: readonly (string | number)[]): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += (s === '' ? '' : '.') + (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p));
  }
  return s;
}
