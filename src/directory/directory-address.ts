/**
 * @module directory-address
 * How the directory writes and matches addresses. The domain is lower case (IDNA A-labels);
 * the local part keeps the case it was given in, but matching is case-insensitive: the lookup
 * key is the whole address in lower case, so "Suzana@DC.uece.br" and "suzana@dc.uece.br" are one
 * user. RFC 5321 §2.4 lets a host treat local parts as case-sensitive; like most MTAs we do not,
 * because mail to "Suzana" meant for "suzana" must not bounce.
 * Standards: RFC 5321 §2.4, §4.5.3.1 (local part 64 octets, domain 255); RFC 5890 (A-labels).
 * Security: control characters, spaces and over-long parts are refused before they reach SQL
 *   (which uses bound parameters anyway).
 * Limitations: address literals ("user@[127.0.0.1]") are not directory addresses.
 */
import { domainToASCII } from 'node:url';
import type { Address } from '../core/index.js';

/** Bad input to a directory mutation (not a directory failure): an invalid address, a duplicate. */
export class DirectoryInputError extends Error {
  readonly code = 'ERR_DIRECTORY_INPUT';
  constructor(message: string) {
    super(message);
    this.name = 'DirectoryInputError';
  }
}

const labelRe = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower case, A-labels, no trailing dot; undefined when not a domain name. */
export function normalizeDirectoryDomain(domain: string): string | undefined {
  let d = domain.trim().replace(/\.$/, '');
  if (/[^\x00-\x7f]/.test(d)) d = domainToASCII(d);
  d = d.toLowerCase();
  if (d === '' || d.length > 253 || !d.split('.').every((l) => labelRe.test(l))) return undefined;
  return d;
}

function validLocal(local: string): boolean {
  return local !== '' && Buffer.byteLength(local) <= 64 && !/[\x00-\x20\x7f]/.test(local);
}

/** "Local@Example.ORG" → "Local@example.org"; undefined when it is not local@domain. */
export function normalizeDirectoryAddress(text: string | Address): string | undefined {
  let local: string;
  let domain: string;
  if (typeof text === 'string') {
    const s = text.trim();
    const at = s.lastIndexOf('@');
    if (at <= 0) return undefined;
    local = s.slice(0, at);
    domain = s.slice(at + 1);
  } else {
    local = text.local;
    domain = text.domain;
  }
  const d = normalizeDirectoryDomain(domain);
  if (d === undefined || !validLocal(local)) return undefined;
  return `${local}@${d}`;
}

/** The case-insensitive matching key of a normalised address or alias name. */
export function directoryKey(normalized: string): string {
  return normalized.toLowerCase();
}

/**
 * An alias name: "local@domain", "@domain" (catch-all), or a bare "local" (from an aliases
 * file, before qualification). Undefined when invalid.
 */
export function normalizeAliasName(text: string): string | undefined {
  const s = text.trim();
  if (s.startsWith('@')) {
    const d = normalizeDirectoryDomain(s.slice(1));
    return d === undefined ? undefined : `@${d}`;
  }
  if (!s.includes('@')) return validLocal(s) ? s : undefined;
  return normalizeDirectoryAddress(s);
}
