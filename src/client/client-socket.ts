/**
 * @module client-socket
 * The SMTP client's two socket steps: opening the connection (TCP or a UNIX-domain socket) and
 * the TLS handshake after STARTTLS, each bounded by a timeout and an abort signal.
 * Standards: RFC 3207 §4 (TLS over the existing connection; SNI only for a name, RFC 6066 §3).
 * Security: certificates are not verified unless `tlsOptions` asks (opportunistic TLS, RFC 7435);
 *   callers that require authentication (MTA-STS, DANE) pass their own checks in `tlsOptions`.
 * Limitations: one address per call; trying a host's other addresses is the caller's loop.
 */
import net from 'node:net';
import tls from 'node:tls';
import { SmtpClientError, type SmtpClientOptions } from './smtp-client-types.js';

/** Opens the connection; throws SmtpClientError (kind connect, timeout or aborted). */
export async function connectSocket(options: SmtpClientOptions, timeoutMs: number): Promise<net.Socket> {
  if (options.signal?.aborted) throw new SmtpClientError('aborted', 'aborted before connecting');
  const where = options.path !== undefined ? `unix:${options.path}` : `${options.host}:${options.port}`;
  return new Promise<net.Socket>((resolve, reject) => {
    const s = options.path !== undefined ? net.connect({ path: options.path }) : net.connect({ host: options.host, port: options.port, localAddress: options.localAddress });
    // No Nagle: a command or the final "." is a small segment sent after unacknowledged data,
    // and Nagle would hold it for the peer's delayed ACK (about 40 ms on Linux) every time.
    if (options.path === undefined) s.setNoDelay(true);
    const fail = (err: SmtpClientError): void => {
      cleanup();
      s.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new SmtpClientError('timeout', `connect timeout to ${where}`)), timeoutMs);
    const onAbort = (): void => fail(new SmtpClientError('aborted', 'aborted while connecting'));
    const onError = (err: Error): void =>
      fail(new SmtpClientError('connect', `connect to ${where}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, undefined, { cause: err }));
    const cleanup = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      s.off('error', onError);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    s.once('error', onError);
    s.once('connect', () => {
      cleanup();
      resolve(s);
    });
  });
}

/** The TLS handshake over `plain` after a 220 to STARTTLS; throws SmtpClientError (tls or timeout). */
export function handshake(plain: net.Socket, options: SmtpClientOptions, timeoutMs: number): Promise<tls.TLSSocket> {
  const servername = options.hostname && net.isIP(options.hostname) === 0 ? options.hostname : undefined;
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ socket: plain, servername, rejectUnauthorized: false, ...options.tlsOptions });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new SmtpClientError('timeout', 'TLS handshake timeout'));
    }, timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      let why: string | undefined;
      try {
        why = options.verifyTls?.(s);
      } catch (err) {
        why = `certificate check failed: ${(err as Error).message}`;
      }
      if (why === undefined) return resolve(s);
      s.destroy();
      reject(new SmtpClientError('tls', why));
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      s.destroy();
      reject(new SmtpClientError('tls', `TLS handshake failed: ${err.message}`, undefined, { cause: err }));
    });
  });
}
