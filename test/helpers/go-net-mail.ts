/**
 * The Go net/mail address corpus (`../shared/corpora/addresses/go-net-mail/`), as the tests that
 * run our parsers against it read it: its shape, the file, and the exact text of an input.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corporaDir } from './paths.js';

export const goNetMailRel = 'addresses/go-net-mail/address-and-date-tests.json';

export type GoInput = string | { bytes_hex: string };
export interface GoListCase {
  input: GoInput;
  expected: { name?: string; address: string }[];
  comment?: string;
}
export interface GoErrorCase {
  input: GoInput;
  error_contains: string;
}
export interface GoNetMailCorpus {
  TestAddressParsing: GoListCase[];
  TestAddressParser_with_charset_decoder: GoListCase[];
  TestAddressParsingError: GoErrorCase[];
  TestAddressParsingAndFormatting: { must_parse_and_roundtrip: string[]; must_fail: string[] };
}

/** The corpus, or undefined where `../shared/corpora` is absent (the tests then skip). */
export function loadGoNetMail(): GoNetMailCorpus | undefined {
  const file = join(corporaDir, goNetMailRel);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as GoNetMailCorpus) : undefined;
}

/** The exact input; a field that is not UTF-8 is read as Latin-1, as correio reads headers (RFC 6532 or latin1). */
export function goInputText(input: GoInput): string {
  if (typeof input === 'string') return input;
  const b = Buffer.from(input.bytes_hex, 'hex');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return b.toString('latin1');
  }
}
