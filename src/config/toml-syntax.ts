/**
 * @module toml-syntax
 * A TOML syntax error in plain words, with its line and column: smol-toml's messages describe
 * the parser ("control characters are not allowed in strings" for a string whose closing quote
 * is missing); an operator needs what to fix.
 * Standards: TOML 1.0 (strings, keys, tables, arrays).
 * Security: none. Limitations: unknown parser messages are passed through as they are.
 */

/** What went wrong, in words, from the parser's message and the offending line. */
export function plainTomlProblem(parserMessage: string, text: string, line: number, column: number): string {
  const src = text.split(/\r?\n/)[line - 1] ?? '';
  const key = /^\s*([A-Za-z0-9_.-]+|"[^"]*")\s*=/.exec(src)?.[1];
  switch (parserMessage) {
    case 'control characters are not allowed in strings': {
      if (column > src.length) return 'a string is not closed: the closing quote is missing at the end of the line';
      const code = src.charCodeAt(column - 1);
      return `a control character (U+${code.toString(16).toUpperCase().padStart(4, '0')}) inside a string: write it as an escape such as \\t`;
    }
    case 'unfinished string':
      return 'a string is not closed: its closing quotes are missing';
    case 'invalid value':
      return `the value${key ? ` of ${key}` : ''} is missing or not valid (text needs quotes: "…"; true/false, numbers and [arrays] do not)`;
    case 'trying to redefine an already defined table or value':
      return `${key ?? src.trim()} is defined twice (or a table and a key share its name)`;
    case 'illegal character in key':
      if (/^\s*\[/.test(src) && !src.includes(']')) return 'a table header is not closed: "]" is missing';
      return 'a key may hold only letters, digits, "-" and "_" (quote it otherwise); or "=" is missing after it';
    case 'unexpected end of key':
      return 'a key is missing before "="';
    case 'expected comma or end of structure':
      return 'an array or inline table is not closed, or a comma is missing between its items';
    case 'each key-value declaration must be followed by an end-of-line':
      return 'unexpected text after the value: write one key = value per line (comments start with #)';
    case 'unrecognised escape sequence':
      return 'unknown escape sequence in a string: write \\\\ for a backslash, or use a \'literal string\'';
    case 'illegal leading zero':
      return 'a number may not start with 0 (write 7, not 07)';
    default:
      return parserMessage;
  }
}
