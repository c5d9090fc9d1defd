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
 * Security: every route runs behind the HTTP server's check that the caller holds the admin
 *   scope (an account in `[http] admins`, or an API token with that scope): the mount requires
 *   it (app/web-services.ts), or `authorize` when given; nothing here trusts the client. Errors name the caller's input only; an unexpected failure is logged by the
 *   server and answered "internal error" without details.
 * Limitations: users cannot be disabled (the directory has no such state yet) and there are
 *   no quotas.
 */
import { Hono, type Context } from 'hono';
import type { WebEnv } from './http-auth.js';
import { MailError } from '../core/index.js';
import { DirectoryInputError } from '../directory/index.js';
import { AdminError } from '../admin/index.js';
import type { AdminApiDeps } from './admin-request.js';
import { directoryRoutes } from './admin-directory-routes.js';
import { queueRoutes } from './admin-queue-routes.js';
import { systemRoutes } from './admin-system-routes.js';
import { adminOpenApi } from './admin-openapi.js';

export type { AdminApiDeps, AdminCheckFinding } from './admin-request.js';

export const ADMIN_API_BASE = '/api/admin/v1';

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
export function adminApi(deps: AdminApiDeps): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  if (deps.authorize) app.use('*', deps.authorize);
  app.get('/openapi.json', (c) => c.json(adminOpenApi));
  directoryRoutes(app, deps);
  queueRoutes(app, deps);
  systemRoutes(app, deps);
  // a route of its own (not notFound): a parent app's notFound would answer for a mounted app
  app.all('*', (c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => errorAnswer(err, c, deps));
  return app;
}
