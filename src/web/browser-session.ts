/**
 * @module browser-session
 * The browser's side of a login session: the session cookie, the CSRF token derived from it,
 * and the checks a state-changing request must pass before credentials are even looked at.
 * Standards: RFC 6265 §4.1 (Set-Cookie: HttpOnly, Secure, Path, Max-Age), RFC 6265bis
 *   (SameSite=Strict); RFC 6454 (Origin); W3C Fetch Metadata (Sec-Fetch-Site, Sec-Fetch-Mode);
 *   OWASP CSRF prevention (a synchronizer token in a custom header, plus origin checks).
 * Security: the cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page
 *   sends it), Secure over TLS, Path=/. The CSRF token is a hash of the session secret with its
 *   own label, so the server keeps no second secret and the token never reveals the cookie; a
 *   script of this origin learns it at login or from GET /api/session and sends it back in
 *   `X-CSRF-Token`. A request with an unsafe method coming from another origin (its `Origin`
 *   header, or `Sec-Fetch-Site` other than same-origin) is refused whatever its credentials,
 *   which also stops a browser's remembered Basic password being used by another site.
 * Limitations: no CORS: pages of other origins cannot call the APIs from a browser.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { problem } from './problem.js';

/** The cookie's name. */
export const sessionCookieName = 'correio_session';

/** The header a cookie-authenticated state change must carry. */
export const csrfHeader = 'X-CSRF-Token';

/** RFC 9110 §9.2.1: methods that change nothing need no CSRF token. */
export function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** The session secret the request's cookie carries, if any. */
export function sessionSecretOf(c: Context): string | undefined {
  const v = getCookie(c, sessionCookieName);
  return v === undefined || v === '' ? undefined : v;
}

/** The CSRF token of a session (derived, never stored). */
export function csrfTokenOf(secret: string): string {
  return createHash('sha256').update('correio csrf\0').update(secret).digest('base64url');
}

/** The Set-Cookie value that gives the browser its session. */
export function sessionCookie(secret: string, maxAgeSeconds: number, secure: boolean): string {
  return `${sessionCookieName}=${secret}; Path=/; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The Set-Cookie value that removes it (logout, an ended session). */
export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

/** This server's origin as the client addressed it (scheme and Host). */
function ownOrigin(c: Context): string {
  return new URL(c.req.url).origin;
}

/**
 * A request with an unsafe method from another origin: the refusal (403), else undefined.
 * Browsers send Origin with every POST/PUT/DELETE from a page and Sec-Fetch-Site with every
 * request; scripts (curl, JMAP clients) send neither and pass.
 */
export function crossSiteRefusal(c: Context): Response | undefined {
  if (isSafeMethod(c.req.method)) return undefined;
  const site = c.req.header('Sec-Fetch-Site');
  if (site !== undefined && site !== 'same-origin') return problem(403, `a ${c.req.method} request from another site (Sec-Fetch-Site: ${site}) is refused: send it from a page of this server`);
  const origin = c.req.header('Origin');
  if (origin !== undefined && origin !== ownOrigin(c)) return problem(403, `a ${c.req.method} request from another origin (${origin}) is refused: send it from a page of ${ownOrigin(c)}`);
  return undefined;
}

/** A cookie-authenticated state change without the session's CSRF token: the refusal (403). */
export function csrfRefusal(c: Context, secret: string): Response | undefined {
  if (isSafeMethod(c.req.method)) return undefined;
  const sent = c.req.header(csrfHeader);
  const want = Buffer.from(csrfTokenOf(secret));
  if (sent !== undefined && Buffer.byteLength(sent) === want.length && timingSafeEqual(Buffer.from(sent), want)) return undefined;
  return problem(403, `${sent === undefined ? 'missing' : 'wrong'} ${csrfHeader} header: a ${c.req.method} with the session cookie must carry the csrfToken given at login (GET /api/session)`);
}

/** A script in a browser page (fetch/XHR) rather than a navigation: a Basic challenge would pop up the browser's password dialog. */
export function fromPageScript(c: Context): boolean {
  const mode = c.req.header('Sec-Fetch-Mode');
  return c.req.header('Sec-Fetch-Site') !== undefined && mode !== undefined && mode !== 'navigate';
}
