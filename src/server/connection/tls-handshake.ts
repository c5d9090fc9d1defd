/**
 * @module tls-handshake
 * A plain socket turned into a TLS server socket (STARTTLS, STLS), waiting for the handshake at
 * most `timeoutMs`: a peer that never completes it cannot hold the connection.
 * Standards: RFC 3207 §4, RFC 2595 §4, RFC 8314.
 * Security: the caller discards input buffered before the upgrade (CVE-2011-0411 class) and
 *   destroys both sockets when the handshake fails.
 * Limitations: none.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';

/** The TLS socket over `raw`, and whether its handshake completed in time. */
export async function tlsHandshake(raw: Socket, secureContext: SecureContext, timeoutMs: number): Promise<{ socket: TLSSocket; ok: boolean }> {
  const t = new TLSSocket(raw, { isServer: true, secureContext });
  const ok = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const finish = (v: boolean) => (): void => {
      clearTimeout(timer);
      resolve(v);
    };
    t.once('secure', finish(true));
    t.once('error', finish(false));
    t.once('close', finish(false));
  });
  return { socket: t, ok };
}
