/**
 * @module http-url
 * Whether a URL may be sent data over HTTP by correio: https:// anywhere, http:// only to this
 * machine (a loopback address or "localhost"). Used where a webhook URL is configured (config)
 * and where it is posted to (transport), so both say the same.
 * Standards: RFC 9110 §4.2 (http and https URIs), RFC 6890 (127.0.0.0/8, ::1 loopback).
 * Security: mail must not cross a network in clear text; a name other than "localhost" is not
 *   trusted to resolve to loopback.
 * Limitations: none.
 */
import { isIP } from 'node:net';

/** Undefined when `url` may be posted to; else why not, in one clause. */
export function httpUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  if (u.protocol === 'https:') return undefined;
  if (u.protocol !== 'http:') return `"${url}": only https:// (or http:// to a loopback host) may be posted to`;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
  return loopback ? undefined : `"${url}": http:// is for loopback hosts only (use https://)`;
}
