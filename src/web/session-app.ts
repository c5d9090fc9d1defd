/**
 * @module session-app
 * Browser logins (`/api/session`, mounted public: it checks the password itself) and the
 * Content-Security-Policy report sink (`/api/csp-report`).
 * - `POST /api/session` with `{"address", "password"}` (JSON) or the same names as a form:
 *   checks the password as HTTP Basic does (same throttle, same plaintext rule), starts a
 *   session and sets its cookie; answers `{address, scopes, csrfToken, expiresAt}` (a form post
 *   is sent on to `/` with 303).
 * - `GET /api/session`: the session of the cookie, with its csrfToken (a reloaded page gets it
 *   back here); 401 without one.
 * - `DELETE /api/session`: logout — the session is deleted on the server and the cookie removed.
 * - `POST /api/csp-report`: browsers report CSP violations here (`report-uri`); the last
 *   reports are kept in memory and logged; `GET /api/csp-report` shows them to an admin.
 * Standards: RFC 6265 (cookies), RFC 9110 §15.4.4 (303 after a form post), W3C CSP Level 3
 *   §5 (violation reports, `application/csp-report`), W3C Reporting API (`application/reports+json`).
 * Security: a login from another origin is refused (login CSRF); the answer never carries
 *   the session secret outside the HttpOnly cookie; the CSRF token is derived from it
 *   (browser-session.ts). CSP reports are size-limited (by the server) and only kept, never
 *   shown to anyone but admins.
 * Limitations: sessions are per node (sessions.sqlite in data_dir).
 */
import { Hono, type Context } from 'hono';
import type { WebSessionStore } from '../core/index.js';
import type { HttpAuth, WebEnv, WebPrincipal } from './http-auth.js';
import { clearedSessionCookie, crossSiteRefusal, csrfRefusal, csrfTokenOf, sessionCookie, sessionSecretOf } from './browser-session.js';
import { connectionOf, problem } from './problem.js';

export interface SessionAppOptions {
  readonly auth: HttpAuth;
  readonly sessions: WebSessionStore;
  /** how long a session lasts, in ms ([http] session_lifetime, read at each login) */
  readonly lifetime: () => number;
  /** a CSP violation report arrived (logged by the caller) */
  readonly onCspReport?: (report: unknown) => void;
}

const keptReports = 100;

function answer(p: WebPrincipal, secret: string, expiresAt: number): Record<string, unknown> {
  return { address: p.address, scopes: [...p.scopes].sort(), csrfToken: csrfTokenOf(secret), expiresAt: new Date(expiresAt).toISOString() };
}

/** The login's address and password from a JSON or form body; a string naming the problem otherwise. */
async function credentialsOf(c: Context<WebEnv>): Promise<{ address: string; password: string; form: boolean } | string> {
  const type = (c.req.header('Content-Type') ?? '').toLowerCase();
  let body: Record<string, unknown>;
  const form = type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data');
  try {
    if (type.startsWith('application/json')) body = await c.req.json<Record<string, unknown>>();
    else if (form) body = await c.req.parseBody();
    else return 'send the login as application/json {"address", "password"} or as a form';
  } catch {
    return 'the login body is not valid JSON or form data';
  }
  const { address, password } = body ?? {};
  if (typeof address !== 'string' || address === '' || typeof password !== 'string' || password === '') return 'the login needs "address" (the full address) and "password"';
  return { address, password, form };
}

export function sessionApp(opts: SessionAppOptions): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.post('/', async (c) => {
    const refused = crossSiteRefusal(c) ?? opts.auth.plaintextRefusal(c);
    if (refused) return refused;
    const creds = await credentialsOf(c);
    if (typeof creds === 'string') return problem(400, creds);
    const conn = connectionOf(c);
    const who = await opts.auth.password(conn.ip, creds.address, creds.password);
    if (who instanceof Response) {
      // a 401 to a login is no invitation to HTTP Basic: no challenge for the browser to act on
      if (who.status === 401) return problem(401, 'wrong address or password');
      return who;
    }
    const lifetime = opts.lifetime();
    const { session, secret } = await opts.sessions.create(who.address, lifetime);
    c.header('Set-Cookie', sessionCookie(secret, Math.floor(lifetime / 1000), conn.secure));
    c.header('Cache-Control', 'no-store');
    if (creds.form) return c.redirect('/', 303);
    return c.json(answer(opts.auth.principal(who.address, 'session'), secret, session.expiresAt));
  });
  app.get('/', async (c) => {
    const secret = sessionSecretOf(c);
    const session = secret === undefined ? undefined : await opts.sessions.find(secret);
    if (secret === undefined || !session) return problem(401, 'no session: log in with POST /api/session');
    const who = await opts.auth.authenticate(c);
    if (who instanceof Response) return who;
    return c.json(answer(who, secret, session.expiresAt), 200, { 'Cache-Control': 'no-store' });
  });
  app.delete('/', async (c) => {
    const secret = sessionSecretOf(c);
    const refused = crossSiteRefusal(c) ?? (secret === undefined ? undefined : csrfRefusal(c, secret));
    if (refused) return refused;
    if (secret !== undefined) await opts.sessions.delete(secret);
    c.header('Set-Cookie', clearedSessionCookie(connectionOf(c).secure));
    return c.body(null, 204);
  });
  return app;
}

/** `/api/csp-report`: where pages report CSP violations (`report-uri`), shown to admins. */
export function cspReportApp(opts: Pick<SessionAppOptions, 'auth' | 'onCspReport'>): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  const reports: unknown[] = [];
  app.post('/', async (c) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      return problem(400, 'a CSP report is JSON (application/csp-report or application/reports+json)');
    }
    for (const r of Array.isArray(body) ? body : [body]) {
      reports.push(r);
      if (reports.length > keptReports) reports.shift();
      opts.onCspReport?.(r);
    }
    return c.body(null, 204);
  });
  app.get('/', opts.auth.require('admin'), (c) => c.json(reports));
  return app;
}
