/**
 * @module metrics-server
 * The HTTP face of monitoring (`[metrics] listen`): `GET /metrics` (Prometheus text format),
 * `GET /healthz` (200 while the process answers: for a liveness probe) and `GET /readyz` (200
 * while correio accepts mail, 503 while it starts or drains: for a load balancer).
 * Standards: RFC 9110 (GET/HEAD, 404, 405 with Allow); Prometheus exposition format 0.0.4.
 * Security: read-only, no request body is read; meant for loopback or a monitoring network
 *   (the default listens on 127.0.0.1). Request heads over 8 KB are refused by node:http.
 * Limitations: no TLS and no authentication: put it behind a firewall or a proxy.
 */
import http from 'node:http';
import type { Registry } from 'prom-client';
import { listenOn } from '../util/index.js';

export interface MetricsServerOptions {
  readonly registry: Registry;
  /** whether correio accepts mail now (listeners bound, not stopping) */
  readonly ready: () => boolean;
}

export class MetricsServer {
  readonly #servers: http.Server[] = [];

  constructor(private readonly options: MetricsServerOptions) {}

  /** Listens on every address; rejects (and listens on none) if one fails. */
  async listen(addresses: readonly { host: string; port: number }[]): Promise<{ host: string; port: number }[]> {
    const started: http.Server[] = [];
    try {
      for (const a of addresses) {
        const server = http.createServer({ maxHeaderSize: 8192 }, (req, res) => void this.#answer(req, res));
        server.requestTimeout = 10_000;
        await listenOn(server, { host: a.host, port: a.port });
        server.on('error', () => undefined);
        started.push(server);
      }
    } catch (err) {
      for (const s of started) s.close();
      throw err;
    }
    this.#servers.push(...started);
    return this.addresses();
  }

  addresses(): { host: string; port: number }[] {
    return this.#servers.flatMap((s) => {
      const a = s.address();
      return a && typeof a === 'object' ? [{ host: a.address, port: a.port }] : [];
    });
  }

  async #answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const send = (status: number, type: string, body: string, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    try {
      switch (path) {
        case '/metrics':
          return send(200, this.options.registry.contentType, await this.options.registry.metrics());
        case '/healthz':
          return send(200, 'text/plain; charset=utf-8', 'ok\n');
        case '/readyz':
          return this.options.ready() ? send(200, 'text/plain; charset=utf-8', 'ready\n') : send(503, 'text/plain; charset=utf-8', 'not ready\n');
        default:
          return send(404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
      }
    } catch (err) {
      return send(500, 'text/plain; charset=utf-8', `metrics unavailable: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }

  close(): Promise<void> {
    const all = this.#servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        }),
    );
    return Promise.all(all).then(() => undefined);
  }
}
