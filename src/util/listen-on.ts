/**
 * @module listen-on
 * Binds a server (net, tls, http, https) to a TCP address or a UNIX socket and settles once it
 * listens or fails: the one bind of every listener of correio (SMTP, LMTP, POP3, IMAP, the web,
 * metrics).
 * Standards: none.
 * Security: none here (see the callers for accept errors and socket modes).
 * Limitations: none.
 */
import type { Server } from 'node:net';

/** Listens on host:port (0: a free port) or a socket path; rejects with the bind error (EADDRINUSE …). */
export async function listenOn(server: Server, where: { readonly host: string; readonly port: number } | { readonly path: string }): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if ('path' in where) server.listen(where.path, done);
    else server.listen(where.port, where.host, done);
  });
}

/** The port a listening server got (the asked one when it cannot tell). */
export function boundPort(server: Server, asked: number): number {
  const a = server.address();
  return typeof a === 'object' && a !== null ? a.port : asked;
}
