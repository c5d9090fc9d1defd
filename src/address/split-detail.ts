/**
 * @module split-detail
 * Sub-addressing: "user+tag" delivers to "user" with detail "tag".
 * Standards: RFC 5233 (Sieve subaddress extension: the "user" and "detail" parts).
 * Security: a local part that starts with the separator has no base and is left whole.
 * Limitations: one separator; the first occurrence splits.
 */

export interface LocalDetail {
  /** the local part without the detail, e.g. "suzana" */
  readonly base: string;
  /** the detail after the separator, e.g. "listas"; undefined when there was no separator */
  readonly detail?: string;
}

/** Splits "suzana+listas" into { base: "suzana", detail: "listas" } (RFC 5233 §4). */
export function splitDetail(local: string, sep = '+'): LocalDetail {
  const i = sep === '' ? -1 : local.indexOf(sep);
  if (i <= 0) return { base: local };
  return { base: local.slice(0, i), detail: local.slice(i + sep.length) };
}
