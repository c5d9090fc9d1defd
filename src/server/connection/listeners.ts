/**
 * @module listeners
 * Binds listening sockets: a mailbox-access server's (POP3, IMAP), plain (with STLS or
 * STARTTLS inside the session) or TLS from the first octet, one server per address; and any
 * server's TCP address or UNIX-domain socket (bindServer, for SMTP and LMTP).
 * Standards: RFC 8314 §3.3 (implicit TLS on 993/995).
 * Security: a failed TLS handshake destroys the socket; accept errors (EMFILE …) never crash
 *   the process. A UNIX socket's file gets the given mode right after bind (it is created with
 *   the process umask, which on its own denies others write, hence connect); a leftover socket
 *   file is removed only when nobody answers on it, and any other file there is never removed.
 * Limitations: the socket's owner and group are the process's; give access by group or by the
 *   folder's permissions.
 */
import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { listenOn } from '../../util/index.js';

/** Where a server listens: a TCP host and port, or a UNIX-domain socket's path. */
export interface BindAddress {
  readonly host: string;
  readonly port: number;
  readonly path?: string;
}

function osError(code: string, message: string, path: string): Error {
  return Object.assign(new Error(message), { code, syscall: 'listen', path, address: path });
}

/**
 * Removes a socket file left by a process that is gone (it cannot be bound again while it
 * exists). A live one (something accepts on it) is EADDRINUSE; a file that is not a socket is
 * EEXIST and stays.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw osError('EEXIST', `listen EEXIST: ${path} exists and is not a socket`, path);
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw osError('EADDRINUSE', `listen EADDRINUSE: ${path} is in use`, path);
  await unlink(path);
}

/**
 * Binds with `bind` (a TCP address, or a UNIX socket whose stale file is removed first, then
 * given `socketMode`; `close` undoes the bind when that fails); rejects with the OS error.
 */
export async function bindAddress<T>(address: BindAddress, socketMode: number, bind: () => Promise<T>, close: (bound: T) => void): Promise<T> {
  const path = address.path;
  if (path !== undefined) await clearStaleSocket(path);
  const bound = await bind();
  if (path !== undefined) {
    try {
      await chmod(path, socketMode);
    } catch (err) {
      close(bound);
      throw err;
    }
  }
  return bound;
}

/**
 * Binds `server` to a TCP address or a UNIX socket (then chmod to `socketMode`, default 0o660)
 * and resolves once it listens; rejects with the OS error (code, address/path) otherwise.
 */
export async function bindServer(server: net.Server, address: BindAddress, socketMode = 0o660): Promise<void> {
  const path = address.path;
  await bindAddress(address, socketMode, () => listenOn(server, path !== undefined ? { path } : address), () => server.close());
}

export interface ListenSpec {
  readonly host: string;
  /** 0 picks a free port; the bound one is returned */
  readonly port: number;
  /** TLS from the first octet (993, 995: RFC 8314) instead of an upgrade inside the session */
  readonly implicitTls?: boolean;
}

export interface BoundListener {
  readonly host: string;
  readonly port: number;
  readonly implicitTls: boolean;
}

/**
 * Starts a server for each spec and resolves once all listen; each accepted socket goes to
 * `accept(socket, secure)`. The servers are pushed to `servers` as they bind, so the caller can
 * close them even when a later one fails.
 */
export async function listenAll(
  specs: readonly ListenSpec[],
  creds: { readonly key: string | Buffer; readonly cert: string | Buffer } | undefined,
  accept: (socket: net.Socket, secure: boolean) => void,
  servers: net.Server[],
): Promise<BoundListener[]> {
  const bound: BoundListener[] = [];
  for (const spec of specs) {
    const implicitTls = spec.implicitTls ?? false;
    let server: net.Server;
    if (implicitTls) {
      if (creds === undefined) throw new Error('an implicitTls listener needs the tls option');
      const ts = tls.createServer({ key: creds.key, cert: creds.cert }, (s) => accept(s, true));
      ts.on('tlsClientError', (_e, s) => s.destroy());
      server = ts;
    } else {
      server = net.createServer((s) => accept(s, false));
    }
    await bindServer(server, spec);
    server.on('error', () => {
      /* accept errors (EMFILE ...) must not crash the process */
    });
    servers.push(server);
    const addr = server.address();
    const port = typeof addr === 'object' && addr !== null ? addr.port : spec.port;
    bound.push({ host: spec.host, port, implicitTls });
  }
  return bound;
}

/**
 * A new certificate and key (a reload) for the implicit-TLS listeners among `servers`; returns
 * the secure context the sessions' STLS/STARTTLS upgrades use from now on. Throws, changing
 * nothing, when the pair is unusable.
 */
export function renewListenerTls(servers: readonly net.Server[], creds: { readonly key: string | Buffer; readonly cert: string | Buffer }): tls.SecureContext {
  const secureContext = tls.createSecureContext({ key: creds.key, cert: creds.cert });
  for (const s of servers) if (s instanceof tls.Server) s.setSecureContext({ key: creds.key, cert: creds.cert });
  return secureContext;
}
