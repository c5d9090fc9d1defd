/**
 * @module listen-address
 * "host:port" listen and server addresses: "127.0.0.1:2525", "[::1]:2525", "localhost:25"; and
 * for the listeners that take one, a UNIX-domain socket: "unix:/run/correio/lmtp.sock".
 * Standards: RFC 3986 §3.2.2 (IPv6 literals in brackets).
 * Security: only syntax is checked here; binding is the server's business.
 * Limitations: a bare IPv6 address without brackets is refused (the port would be ambiguous).
 */
import { isIP } from 'node:net';

export interface ListenAddress {
  /** an IPv4/IPv6 address (no brackets) or a host name; "unix" for a UNIX-domain socket */
  readonly host: string;
  /** 0 for a UNIX-domain socket */
  readonly port: number;
  /** a UNIX-domain socket's path (absolute once the config is loaded); host and port then say nothing */
  readonly path?: string;
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

/**
 * "unix:PATH" (a UNIX-domain socket; PATH relative to the config file's folder until the config
 * is loaded) or what parseListenAddress takes. Undefined when it is neither.
 */
export function parseSocketListenAddress(text: string): ListenAddress | undefined {
  if (!text.startsWith('unix:')) return parseListenAddress(text);
  const path = text.slice('unix:'.length);
  // sun_path holds 108 octets with its NUL on Linux; longer paths cannot be bound
  if (path === '' || path.includes('\0') || Buffer.byteLength(path) > 107) return undefined;
  return { host: 'unix', port: 0, path };
}

/** The inverse: "127.0.0.1:2525", "[::1]:2525", "unix:/run/correio/lmtp.sock". */
export function formatListenAddress(a: ListenAddress): string {
  if (a.path !== undefined) return `unix:${a.path}`;
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
