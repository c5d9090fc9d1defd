/**
 * @module search-return
 * The RETURN options of an extended SEARCH or SORT, and the PARTIAL range (of SEARCH, SORT and
 * the FETCH modifier): parsing, the slice of a result a range selects, and its response form.
 * Standards: RFC 4731 §3.1 (MIN MAX ALL COUNT; RETURN () means ALL), RFC 5182 §2 (SAVE),
 *   RFC 5267 §3 (ESORT: the same options on SORT), RFC 9394 §3 (PARTIAL: "first:last" counts
 *   from the start, "-first:-last" from the end, -1 being the last; either order of the two
 *   numbers means the same range; PARTIAL and ALL together are an error).
 * Security: bounded option lists; range numbers are 32-bit (nz-number).
 * Limitations: none known.
 */
import type { ImapReader } from './imap-reader.js';

/** RFC 4731 §3.1 / RFC 5182 §2 / RFC 9394 §3.1: what RETURN asks for. */
export type SearchReturn = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE' | 'PARTIAL';

/** 1-based positions in a result: both positive (from the start) or both negative (from the end), |from| <= |to|. */
export interface PartialRange {
  readonly from: number;
  readonly to: number;
}

/** RFC 9394 §5: partial-range-first = nz-number ":" nz-number / partial-range-last = "-" nz-number ":" "-" nz-number. */
export function readPartialRange(r: ImapReader): PartialRange {
  const neg = r.peek() === 0x2d;
  const one = (): number => {
    if (neg) r.expect('-');
    const n = r.number();
    if (n === 0 || n > 0xffffffff) r.fail('a non-zero 32-bit number');
    return n;
  };
  const a = one();
  r.expect(':');
  const b = one();
  const [lo, hi] = a <= b ? [a, b] : [b, a];
  return neg ? { from: -lo, to: -hi } : { from: lo, to: hi };
}

/** "(" [option *(SP option)] ")" after RETURN; `sort`: no SAVE (RFC 5267 §3 lists MIN MAX ALL COUNT). */
export function readSearchReturn(r: ImapReader, sort: boolean): { returns: SearchReturn[]; partial?: PartialRange } {
  r.expect('(');
  const returns: SearchReturn[] = [];
  let partial: PartialRange | undefined;
  while (r.peek() !== 0x29) {
    if (returns.length > 0) r.sp();
    const word = r.atom().toUpperCase();
    if (word === 'PARTIAL' && partial === undefined) {
      r.sp();
      partial = readPartialRange(r);
    } else if (!['MIN', 'MAX', 'ALL', 'COUNT', ...(sort ? [] : ['SAVE'])].includes(word) || returns.includes(word as SearchReturn)) {
      r.fail(sort ? 'MIN, MAX, ALL, COUNT or PARTIAL' : 'MIN, MAX, ALL, COUNT, SAVE or PARTIAL');
    }
    returns.push(word as SearchReturn);
    if (returns.length > 10) r.fail('fewer options');
  }
  r.expect(')');
  // RFC 9394 §3.1: "PARTIAL and ALL ... MUST NOT be specified together"
  if (partial && returns.includes('ALL')) r.fail('PARTIAL or ALL, not both');
  return { returns, ...(partial && { partial }) };
}

/** The items a range selects, in their order (RFC 9394 §3.1: positions in the whole result). */
export function partialSlice<T>(items: readonly T[], p: PartialRange): T[] {
  if (p.from > 0) return items.slice(p.from - 1, p.to);
  // -1 is the last item: -from..-to counted back from the end
  const end = items.length + p.from + 1;
  const start = Math.max(0, items.length + p.to);
  return end <= 0 ? [] : items.slice(start, end);
}

export function formatPartialRange(p: PartialRange): string {
  return `${p.from}:${p.to}`;
}
