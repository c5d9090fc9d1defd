/**
 * @module search-words
 * The words of a text as the PostgreSQL mailbox store's word index keeps them and as a text
 * condition (JMAP Email/query text, from, subject, body…) looks for them: NFKC-normalised,
 * lower-cased runs of letters, digits and combining marks; everything else separates words.
 * One function for both sides, so a word of a condition that a message holds is always one of
 * the message's words (or, when the condition's word is shorter, the start of one).
 * Standards: RFC 8621 §4.4.1 (text conditions may match on a word basis; white space divides
 *   tokens that must all be present); Unicode UAX #15 (NFKC).
 * Security: the query is built from letters, digits and marks only, each lexeme quoted by
 *   PostgreSQL (quote_literal), so no tsquery operator can come from a client.
 * Limitations: PostgreSQL keeps lexemes up to 2047 bytes, so words over maxWordLength
 *   characters are not looked for (the condition still narrows by its other words).
 */

/** Longest word looked for (a lexeme is at most 2047 bytes; 500 characters fit in UTF-8). */
export const maxWordLength = 500;

/** The words of `text`, in order, as both the index and a condition's query see them. */
export function searchWords(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .split(/[^\p{L}\p{N}\p{M}]+/u)
    .filter((w) => w !== '');
}

/**
 * The words of the needles to look for, as one text: PostgreSQL parses it as it parsed the
 * messages' words (to_tsvector "simple") and asks for every lexeme as a prefix, joined by AND
 * (wordsTsquery), so a word its parser splits ("3e5x": "3e5", "x") is asked as the same parts,
 * never as a phrase (the word vector keeps no positions). undefined when there is no word.
 */
export function wordsQuery(needles: readonly string[]): string | undefined {
  const words = [...new Set(needles.flatMap(searchWords))].filter((w) => w.length <= maxWordLength);
  return words.length === 0 ? undefined : words.join(' ');
}

/** SQL: the tsquery of wordsQuery's text ($1); NULL when the parser finds no lexeme in it. */
export const wordsTsquery = `SELECT string_agg(quote_literal(l) || ':*', ' & ')::tsquery::text AS q FROM unnest(tsvector_to_array(to_tsvector('simple', $1))) AS l`;

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
