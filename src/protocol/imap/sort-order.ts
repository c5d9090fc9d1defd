/**
 * @module sort-order
 * SORT's criteria, the values a message is sorted by, and the order they give; plus the SORT
 * and THREAD command arguments.
 * Standards: RFC 5256 §3 (SORT criteria ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO, each
 *   optionally REVERSE; addresses compared by the addr-mailbox of the first one, subjects by
 *   base subject, strings with i;ascii-casemap, missing values as empty strings; DATE is the
 *   Date: field in UTC, else the internal date; equal messages keep mailbox order), §2.2 (sent
 *   date), §3 and §4 (syntax: "SORT (criteria) charset keys", "THREAD algorithm charset keys");
 *   RFC 5957 (SORT=DISPLAY: DISPLAYFROM, DISPLAYTO).
 * Security: the criteria list is bounded (at most 20 criteria).
 * Limitations: display names compare upper-cased, not by i;unicode-casemap's full folding.
 */
import type { ImapReader } from './imap-reader.js';
import { readSearchKeys, type SearchKey } from './search-key.js';

export type SortKey = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';
const sortKeys = new Set<string>(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);

export interface SortCriterion {
  readonly key: SortKey;
  readonly reverse: boolean;
}

export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES';

/** What a message is sorted by; strings already upper-cased (i;ascii-casemap). */
export interface SortFields {
  /** position in the mailbox (sequence number): the last tie-breaker */
  readonly order: number;
  readonly arrival: number;
  readonly date: number;
  readonly size: number;
  readonly cc: string;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  /** RFC 5957: the first From/To address's display name, else its address (upper-cased) */
  readonly displayFrom?: string;
  readonly displayTo?: string;
}

/** i;ascii-casemap: only a-z change. */
export function asciiUpper(s: string): string {
  return s.replace(/[a-z]+/g, (x) => x.toUpperCase());
}

/** RFC 5256 §2.2: the Date: field in ms (UTC), or `fallback` (the internal date) when absent or unreadable. */
export function sentTime(date: string | undefined, fallback: number): number {
  if (date === undefined) return fallback;
  const t = Date.parse(date.replace(/\([^)]*\)/g, '').trim());
  return Number.isNaN(t) ? fallback : t;
}

function compareOne(key: SortKey, a: SortFields, b: SortFields): number {
  switch (key) {
    case 'ARRIVAL':
      return a.arrival - b.arrival;
    case 'DATE':
      return a.date - b.date;
    case 'SIZE':
      return a.size - b.size;
    case 'CC':
    case 'FROM':
    case 'TO':
    case 'SUBJECT': {
      const f = key.toLowerCase() as 'cc' | 'from' | 'to' | 'subject';
      return a[f] < b[f] ? -1 : a[f] > b[f] ? 1 : 0;
    }
    case 'DISPLAYFROM':
    case 'DISPLAYTO': {
      const f = key === 'DISPLAYFROM' ? 'displayFrom' : 'displayTo';
      const x = a[f] ?? '';
      const y = b[f] ?? '';
      return x < y ? -1 : x > y ? 1 : 0;
    }
  }
}

/** The order of two messages under `criteria`; mailbox order when they tie. */
export function compareForSort(criteria: readonly SortCriterion[], a: SortFields, b: SortFields): number {
  for (const c of criteria) {
    const d = compareOne(c.key, a, b);
    if (d !== 0) return c.reverse ? -d : d;
  }
  return a.order - b.order;
}

/** "(" sort-criterion *(SP sort-criterion) ")" SP charset SP search-key (after "SORT "). */
export function readSortArgs(r: ImapReader): { criteria: SortCriterion[]; charset: string; key: SearchKey } {
  r.expect('(');
  const criteria: SortCriterion[] = [];
  while (r.peek() !== 0x29) {
    if (criteria.length > 0) r.sp();
    let word = r.atom().toUpperCase();
    const reverse = word === 'REVERSE';
    if (reverse) {
      r.sp();
      word = r.atom().toUpperCase();
    }
    if (!sortKeys.has(word)) r.fail('a sort criterion (ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM DISPLAYTO)');
    criteria.push({ key: word as SortKey, reverse });
    if (criteria.length > 20) r.fail('at most 20 sort criteria');
  }
  r.expect(')');
  if (criteria.length === 0) r.fail('a sort criterion');
  r.sp();
  return { criteria, ...charsetAndKeys(r) };
}

/** thread-alg SP charset SP search-key (after "THREAD "). */
export function readThreadArgs(r: ImapReader): { algorithm: ThreadAlgorithm; charset: string; key: SearchKey } {
  const algorithm = r.atom().toUpperCase();
  if (algorithm !== 'ORDEREDSUBJECT' && algorithm !== 'REFERENCES') r.fail('ORDEREDSUBJECT or REFERENCES');
  r.sp();
  return { algorithm, ...charsetAndKeys(r) };
}

function charsetAndKeys(r: ImapReader): { charset: string; key: SearchKey } {
  const charset = r.astring().toString('latin1').toUpperCase();
  r.sp();
  return { charset, key: readSearchKeys(r) };
}
