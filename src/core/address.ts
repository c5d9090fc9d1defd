/**
 * @module address
 * The vocabulary of addresses: a mailbox is local-part@domain (RFC 5321 §2.3.11).
 * Parsing lives in src/address/; this is only the shape every layer shares.
 * Standards: RFC 5321 §4.1.2 (Mailbox), RFC 6531 (UTF-8 local parts and domains).
 * Security: values here are already parsed; never build one from raw input without src/address.
 * Limitations: none.
 */

export interface Address {
  /** Local part as given, without quotes when the quoting was unnecessary. */
  readonly local: string;
  /** Domain in lower case; an address literal keeps its brackets, e.g. "[127.0.0.1]". */
  readonly domain: string;
}

/** The reverse path: an address, or null for the null sender "<>" (bounces). */
export type ReversePath = Address | null;

export function addressToString(a: Address): string {
  return a.domain === '' ? a.local : `${a.local}@${a.domain}`;
}

export function reversePathToString(p: ReversePath): string {
  return p === null ? '' : addressToString(p);
}
