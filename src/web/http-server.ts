/**
 * @module http-server
 * The web's HTTP server (`[http] listen`, HTTPS on `[http] listen_tls`): one hono app served by
 * @hono/node-server on node:http/node:https, into which the web's modules are mounted — JMAP,
 * the admin API, HTTP submission, the webmail and admin console files. A mount names a path
 * prefix and what a request needs there (a scope, any account, or nothing); the server puts the
 * authentication (http-auth.ts) in front of it, so no module can forget to check.
 * Standards: RFC 9110 (semantics; 404, 413), RFC 9112 (HTTP/1.1), RFC 9457 (problem details),
 *   RFC 6797 (HSTS on HTTPS), W3C CSP Level 3.
 * Security: request bodies over `[http] max_body_size` are refused (413) while they stream;
 *   request heads over 16 KB are refused by node:http; every answer carries nosniff,
 *   no framing (frame-ancestors 'none', X-Frame-Options DENY), no Referer, and a strict
 *   same-origin Content-Security-Policy reporting to /api/csp-report unless the module set its own; authenticated answers are
 *   not cached (no-store). An unexpected error is logged and answered with a 500 naming no
 *   internals; a directory or spool that is temporarily down gives 503.
 * Limitations: HTTP/1.1 only (no HTTP/2).
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { getRequestListener } from '@hono/node-server';
import { MailError } from '../core/index.js';
import { boundPort, listenOn } from '../util/index.js';
import type { HttpAuth, WebAccess, WebEnv } from './http-auth.js';
import { connectionOf, problem } from './problem.js';

/** One module of the web, mounted under a path prefix. */
export interface WebMount {
  /** e.g. "/jmap", "/api/admin/v1"; "/" for the webmail (matched last) */
  readonly path: string;
  readonly app: Hono<WebEnv>;
  /** what a request under `path` needs; checked before the module sees it */
  readonly access: WebAccess;
}

export interface WebAppOptions {
  readonly mounts: readonly WebMount[];
  readonly auth: HttpAuth;
  /** the largest request body, in octets */
  readonly maxBodySize: number;
  /** where unexpected errors are reported */
  readonly onError?: (err: unknown, method: string, path: string) => void;
}

/** Applied unless a module set its own (the message frame, ui-files.ts's pages). */
const defaultCsp = "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; report-uri /api/csp-report";

/** The root app: security headers, body limit, error answers, and the mounts with their access checks. */
export function createWebApp(opts: WebAppOptions): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.use(async (c, next) => {
    await next();
    const h = c.res.headers;
    const set = (name: string, value: string): void => {
      if (!h.has(name)) h.set(name, value);
    };
    set('X-Content-Type-Options', 'nosniff');
    set('X-Frame-Options', 'DENY');
    set('Referrer-Policy', 'no-referrer');
    set('Cross-Origin-Opener-Policy', 'same-origin');
    set('Cross-Origin-Resource-Policy', 'same-origin');
    set('Content-Security-Policy', defaultCsp);
    if (connectionOf(c).secure) set('Strict-Transport-Security', 'max-age=31536000');
    if (c.get('principal') !== undefined) set('Cache-Control', 'no-store');
  });
  app.use(
    bodyLimit({
      maxSize: opts.maxBodySize,
      onError: () => problem(413, `the request body is larger than ${opts.maxBodySize} octets ([http] max_body_size)`),
    }),
  );
  // the longest prefix first, so "/" (the webmail) takes only what nothing else took
  const mounts = [...opts.mounts].sort((a, b) => b.path.length - a.path.length);
  for (const m of mounts) {
    const base = m.path === '/' ? '' : m.path.replace(/\/$/, '');
    if (m.access !== 'public') {
      const check = opts.auth.require(m.access);
      app.use(base === '' ? '*' : base, check);
      app.use(`${base}/*`, check);
    }
    app.route(base === '' ? '/' : base, m.app);
  }
  app.notFound((c) => problem(404, `nothing here: ${c.req.path}`));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    if (err instanceof MailError && err.reply.code < 500) {
      return problem(503, `temporarily unavailable: ${err.reply.lines.join(' ')}`, {}, { 'Retry-After': '30' });
    }
    opts.onError?.(err, c.req.method, c.req.path);
    return problem(500, 'the server failed to answer this request; the error is in its log');
  });
  return app;
}

export interface HttpListenSpec {
  readonly host: string;
  /** 0 picks a free port */
  readonly port: number;
  /** HTTPS (TLS from the first octet) */
  readonly tls?: boolean;
}

export interface TlsMaterial {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
}

/** The listening side: node servers bound to the configured addresses, handing requests to the app. */
interface Bound {
  readonly server: http.Server;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

export class HttpServer {
  readonly #servers: Bound[] = [];
  readonly #listener: ReturnType<typeof getRequestListener>;
  #tls: TlsMaterial | undefined;

  constructor(app: Hono<WebEnv>, tls?: TlsMaterial) {
    this.#listener = getRequestListener(app.fetch);
    this.#tls = tls;
  }

  /** Listens on every address; rejects (and listens on none of these) if one fails. */
  async listen(specs: readonly HttpListenSpec[]): Promise<{ host: string; port: number; tls: boolean }[]> {
    const started: Bound[] = [];
    try {
      for (const spec of specs) {
        const options = { maxHeaderSize: 16384, requestTimeout: 60_000, headersTimeout: 30_000, keepAliveTimeout: 5_000 };
        let server: http.Server;
        if (spec.tls) {
          if (!this.#tls) throw new Error('an HTTPS listener needs a TLS certificate');
          const s = https.createServer({ ...options, key: this.#tls.key, cert: this.#tls.cert }, this.#listener);
          s.on('tlsClientError', (_e, socket: Socket) => socket.destroy());
          server = s;
        } else {
          server = http.createServer(options, this.#listener);
        }
        await listenOn(server, { host: spec.host, port: spec.port });
        server.on('error', () => undefined); // accept errors (EMFILE …) must not crash the process
        started.push({ server, host: spec.host, port: boundPort(server, spec.port), tls: spec.tls ?? false });
      }
    } catch (err) {
      for (const s of started) s.server.close();
      throw err;
    }
    this.#servers.push(...started);
    return started.map(({ host, port, tls }) => ({ host, port, tls }));
  }

  addresses(): { host: string; port: number; tls: boolean }[] {
    return this.#servers.map(({ host, port, tls }) => ({ host, port, tls }));
  }

  /** A renewed certificate (reload): new HTTPS connections use it. */
  setTls(creds: TlsMaterial): void {
    this.#tls = creds;
    for (const s of this.#servers) if (s.server instanceof https.Server) s.server.setSecureContext({ key: creds.key, cert: creds.cert });
  }

  /**
   * Stops accepting, ends idle keep-alive connections at once, lets requests in progress
   * finish for up to `graceMs`, then closes what is left. (Long-lived answers such as
   * EventSource end on the signal their module was given, aborted before this.)
   */
  async close(graceMs = 5000): Promise<void> {
    const all = this.#servers.splice(0).map(({ server }) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      return closed.finally(() => clearTimeout(timer));
    });
    await Promise.all(all);
  }
}
