/**
 * @module listeners
 * Binds the listening sockets of a mailbox-access server (POP3, IMAP): plain (with STLS or
 * STARTTLS inside the session) or TLS from the first octet, one server per address.
 * Standards: RFC 8314 §3.3 (implicit TLS on 993/995).
 * Security: a failed TLS handshake destroys the socket; accept errors (EMFILE …) never crash
 *   the process.
 * Limitations: none.
 */
import net from 'node:net';
import tls from 'node:tls';

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
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(spec.port, spec.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
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
