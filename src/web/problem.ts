/**
 * @module problem
 * Error answers of the web's JSON APIs as problem details, and what every handler knows about
 * the connection a request came on (client address, TLS).
 * Standards: RFC 9457 (problem details, `application/problem+json`); RFC 8620 §3.6.1 (JMAP's
 *   request-level errors are problem details too).
 * Security: a detail names what was wrong with the request, never a stack or a path on disk.
 * Limitations: none.
 */
import type { TLSSocket } from 'node:tls';
import type { Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** A JSON problem-details response; `type` defaults to "about:blank" (RFC 9457 §4.2.1). */
export function problem(status: ContentfulStatusCode, detail: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Response {
  const body = { type: 'about:blank', status, title: titles[status] ?? 'Error', detail, ...extra };
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...headers },
  });
}

const titles: Partial<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface ConnectionInfo {
  /** the client's address, IPv4-mapped IPv6 written as IPv4 */
  readonly ip: string;
  /** TLS from the first octet (an `[http] listen_tls` listener) */
  readonly secure: boolean;
}

/** The connection a request arrived on (node:http bindings of @hono/node-server). */
export function connectionOf(c: Pick<Context<{ Bindings: HttpBindings }>, 'env'>): ConnectionInfo {
  const socket = c.env.incoming.socket;
  const raw = socket.remoteAddress ?? '';
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  return { ip: m ? m[1] : raw, secure: (socket as Partial<TLSSocket>).encrypted === true };
}
