/**
 * @module search-words
 * How the PostgreSQL mailbox store answers JMAP text conditions (Email/query text, from,
 * subject, body…) as the node-local trigram index does: anywhere in a word. A body keeps its
 * text (gramsText: the decoded header fields and text parts, NFKC, lower case) in
 * mail_bodies.grams; a condition asks for each run of letters, digits and marks of its strings
 * of three characters or more as a substring (gramsPatterns: LIKE '%run%'), which PostgreSQL's
 * pg_trgm GIN index answers. Every message the exact match accepts holds each such run, so the
 * candidates are a superset; the caller's exact match decides. IMAP's narrowing of SEARCH
 * TEXT/BODY on the token vector (narrowingQuery) is below.
 * Standards: RFC 8621 §4.4.1 (text conditions); Unicode UAX #15 (NFKC); PostgreSQL pg_trgm
 *   (LIKE through a GIN trigram index).
 * Security: a pattern is letters, digits and marks between two '%' only (no LIKE wildcard or
 *   escape can come from a client), passed as a bound parameter.
 * Limitations: a run under three characters narrows nothing (a trigram index cannot use it);
 *   at most maxPatterns runs are asked (the longest), the rest only by the exact match.
 */

/** The runs of letters, digits and marks of `text`, NFKC-normalised and lower-cased, in order. */
export function searchWords(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}\p{M}]+/u)
    .filter((w) => w !== '');
}

/** What a body keeps for text conditions: its searchable text, NFKC and lower case (PostgreSQL text holds no NUL). */
export function gramsText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\0/g, ' ');
}

/** Most substrings asked per search (the longest runs narrow most). */
export const maxPatterns = 8;

/** The LIKE patterns every body holding the needles matches ('%run%' per run of three characters or more); undefined when none. */
export function gramsPatterns(needles: readonly string[]): string[] | undefined {
  const runs = [...new Set(needles.flatMap(searchWords))].filter((w) => [...w].length >= 3);
  // a run inside another asked run adds nothing
  const kept = runs.filter((w) => !runs.some((o) => o !== w && o.includes(w)));
  if (kept.length === 0) return undefined;
  return kept
    .sort((x, y) => y.length - x.length)
    .slice(0, maxPatterns)
    .map((w) => `%${w}%`);
}

/** Longest word used for narrowing (PostgreSQL drops lexemes over 2047 bytes). */
const maxNarrowingWord = 500;

/**
 * The tsquery that every text holding `needle` satisfies: its words bounded by white space on
 * both sides inside the needle, all ASCII letters and digits, as lexemes (&), and its last
 * word, bounded before, as a prefix (:*). The first word may be the end of a longer one, so
 * it is never used unless white space precedes it.
 */
export function narrowingQuery(needle: string): string | undefined {
  const pieces = needle.toLowerCase().split(/(\s+)/);
  const terms: string[] = [];
  for (let i = 0; i < pieces.length; i += 2) {
    const w = pieces[i];
    if (w === '' || w.length > maxNarrowingWord || !/^[a-z0-9]+$/.test(w)) continue;
    const before = i > 0;
    const after = i < pieces.length - 1;
    if (before && after) terms.push(w);
    else if (before) terms.push(`${w}:*`);
  }
  return terms.length > 0 ? terms.join(' & ') : undefined;
}
