/**
 * @module admin-api
 * The admin REST API under /api/admin/v1 (issue 16): JSON over HTTP for scripts (API tokens)
 * and the admin console. Every operation goes through the functions the `correio` commands
 * use (admin/, app/'s config check, the QueueControl the control socket serves), so the API
 * and the CLI accept, refuse and change the same things. The routes are in
 * admin-directory-routes.ts, admin-queue-routes.ts and admin-system-routes.ts; the OpenAPI 3.1
 * document that describes them (admin-openapi.ts) is served at /api/admin/v1/openapi.json.
 * Standards: RFC 9110 (status codes: 400 bad input, 404 unknown entry, 503 a temporary
 *   failure), RFC 8259 (JSON), OpenAPI 3.1.
 * Security: every route runs behind `authorize`, the HTTP server's check that the caller is a
 *   directory admin or holds an API token with the admin scope; nothing here trusts the
 *   client. Errors name the caller's input only; an unexpected failure is logged by the
 *   server and answered "internal error" without details.
 * Limitations: users cannot be disabled (the directory has no such state yet) and there are
 *   no quotas; DKIM keys are listed, not generated (`correio dkim keygen`).
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { MailError, type Directory, type QueueControl, type QueueStore } from '../core/index.js';
import type { Config } from '../config/index.js';
import { DirectoryInputError } from '../directory/index.js';
import type { Explanation } from '../resolve/index.js';
import { AdminError } from '../admin/index.js';
import { directoryRoutes } from './admin-directory-routes.js';
import { queueRoutes } from './admin-queue-routes.js';
import { systemRoutes } from './admin-system-routes.js';
import { adminOpenApi } from './admin-openapi.js';

/** One finding of the config check (app/config-check.ts). */
export interface AdminCheckFinding {
  readonly level: 'error' | 'warning';
  readonly message: string;
}

/** What the admin API works on; app/ wires the running server's parts. */
export interface AdminApiDeps {
  readonly directory: Directory;
  /** the spool, read for listings and traces */
  readonly queue: QueueStore;
  /** the queue runner's actions (the same the control socket serves) */
  readonly control: QueueControl;
  /** the configuration now in force */
  readonly config: () => Config;
  /** `correio resolve`: the expansion of an address by the server's resolver */
  readonly explain: (address: string) => Promise<Explanation>;
  /** `correio check` */
  readonly checkConfig: () => Promise<readonly AdminCheckFinding[]>;
  /** the last lines of the mail log, newest last (absent: the log tail answers 404) */
  readonly logTail?: (lines: number) => readonly string[];
  /** admits admins only; answers 401/403 itself otherwise */
  readonly authorize: MiddlewareHandler;
  /** where relative alias targets (/file, :include:) are read from; default: data_dir */
  readonly baseDir?: string;
  /** an unexpected error (logged by the caller) */
  readonly onError?: (err: unknown) => void;
}

export const ADMIN_API_BASE = '/api/admin/v1';

/** A JSON object body, or AdminError. */
export async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new AdminError('the request body must be a JSON object');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new AdminError('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** A string field of a body: required unless `optional`. */
export function stringField(body: Record<string, unknown>, key: string, optional: true): string | undefined;
export function stringField(body: Record<string, unknown>, key: string, optional?: false): string;
export function stringField(body: Record<string, unknown>, key: string, optional = false): string | undefined {
  const v = body[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string') throw new AdminError(`"${key}" must be a string${optional ? ' when given' : ''}`);
  return v;
}

/** An array-of-strings field of a body (required, non-empty). */
export function stringsField(body: Record<string, unknown>, key: string): string[] {
  const v = body[key];
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) throw new AdminError(`"${key}" must be a non-empty array of strings`);
  return v;
}

function errorAnswer(err: unknown, c: Context, deps: AdminApiDeps): Response {
  if (err instanceof AdminError) return c.json({ error: err.message }, err.kind === 'not-found' ? 404 : 400);
  if (err instanceof DirectoryInputError) return c.json({ error: err.message }, 400);
  if (err instanceof MailError) {
    // a lookup that failed for now (4xx) versus input the mail rules refuse (5xx: e.g. 501 5.1.3)
    if (err.temporary) return c.json({ error: `temporarily unavailable: ${err.message}` }, 503);
    return c.json({ error: err.message }, 400);
  }
  deps.onError?.(err);
  return c.json({ error: 'internal error' }, 500);
}

/** The admin API as a hono app, to be mounted at ADMIN_API_BASE. */
export function adminApi(deps: AdminApiDeps): Hono {
  const app = new Hono();
  app.use('*', deps.authorize);
  app.get('/openapi.json', (c) => c.json(adminOpenApi));
  directoryRoutes(app, deps);
  queueRoutes(app, deps);
  systemRoutes(app, deps);
  // a route of its own (not notFound): a parent app's notFound would answer for a mounted app
  app.all('*', (c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => errorAnswer(err, c, deps));
  return app;
}
