/**
 * @module listen-address
 * "host:port" listen and server addresses: "127.0.0.1:2525", "[::1]:2525", "localhost:25".
 * Standards: RFC 3986 §3.2.2 (IPv6 literals in brackets).
 * Security: only syntax is checked here; binding is the server's business.
 * Limitations: a bare IPv6 address without brackets is refused (the port would be ambiguous).
 */
import { isIP } from 'node:net';

export interface ListenAddress {
  /** an IPv4/IPv6 address (no brackets) or a host name */
  readonly host: string;
  readonly port: number;
}

const hostName = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/**
 * Parses "host:port" or "[v6]:port" (port 0 = any free port, for tests). With `defaultPort`, the port may be left out
 * ("127.0.0.1", "[::1]"). Returns undefined when the text is not such an address.
 */
export function parseListenAddress(text: string, defaultPort?: number): ListenAddress | undefined {
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    host = v6[1];
    portText = v6[2];
    if (isIP(host) !== 6) return undefined;
  } else {
    const m = /^([^:[\]\s]+)(?::(\d+))?$/.exec(text);
    if (!m) return undefined;
    host = m[1];
    portText = m[2];
    if (isIP(host) === 0 && !hostName.test(host)) return undefined;
  }
  const port = portText === undefined ? defaultPort : Number(portText);
  if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  return { host, port };
}

/** The inverse: "127.0.0.1:2525", "[::1]:2525". */
export function formatListenAddress(a: ListenAddress): string {
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
