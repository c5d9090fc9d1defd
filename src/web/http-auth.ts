/**
 * @module http-auth
 * Who is asking: every request to a protected part of the web (JMAP, the admin API, HTTP
 * submission) carries HTTP Basic credentials (the account's address and password, as for
 * IMAP), a Bearer API token (`correio token create`), or a browser session's cookie (made by
 * `POST /api/session`, web/session-app.ts). The result is a principal: an address
 * and the scopes it holds (`jmap`, `submit`, `admin`); a mount asks for one scope.
 * A password login or session holds `jmap` and `submit`, and `admin` when the account is
 * listed in `[http] admins`; a token holds the scopes it was made with, `admin` only while its
 * owner is still listed; neither holds anything once the owner has left the directory.
 * Standards: RFC 9110 §11 (401 with WWW-Authenticate), RFC 7617 (Basic, UTF-8), RFC 6750
 *   (Bearer; 401 invalid_token, 403 insufficient_scope), RFC 6585 §4 (429), RFC 6265 (cookies).
 * Security: credentials are taken only over TLS or from loopback clients (`[http]
 *   plaintext_auth`); elsewhere the request is refused before anything is checked. Every
 *   failed password or token counts in the AuthThrottle shared with SMTP, POP3 and IMAP
 *   (429 once an address or account is at its limit) and is answered after `[auth]
 *   failure_delay`; a login held behind checks in flight past the throttle's wait, or whose
 *   check could not be made, is answered 503 with Retry-After and not counted
 *   (login-throttle.test.ts). A password found right is remembered (as a SHA-256 of address and
 *   password, never the password) for a minute, so a client sending Basic with every request
 *   does not pay an scrypt check each time. A state change (POST, PUT, DELETE…) from another
 *   origin is refused whatever its credentials; one authenticated by the session cookie must
 *   also carry the session's CSRF token (browser-session.ts). A 401 to a page's script offers
 *   no Basic challenge, so the browser shows no password dialog of its own.
 * Limitations: a changed password may still be accepted for up to a minute by this process.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context, MiddlewareHandler } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { CidrList } from '../address/index.js';
import type { DirectoryLookup, TokenScope, TokenStore, WebSessionStore } from '../core/index.js';
import type { AuthThrottle, LoginVerdict } from '../policy/auth-throttle.js';
import { connectionOf, problem } from './problem.js';
import { clearedSessionCookie, crossSiteRefusal, csrfRefusal, fromPageScript, sessionSecretOf } from './browser-session.js';

export interface WebPrincipal {
  /** the account, as the directory writes it */
  readonly address: string;
  readonly scopes: ReadonlySet<TokenScope>;
  readonly via: 'password' | 'token' | 'session';
  /** the token's id, when via a token */
  readonly tokenId?: string;
}

/** The hono environment of every web module: node:http bindings and the principal once known. */
export interface WebEnv {
  Bindings: HttpBindings;
  Variables: { principal: WebPrincipal };
}

/** What a mount asks of a request: a scope, any authenticated account, or nothing. */
export type WebAccess = TokenScope | 'account' | 'public';

export interface HttpAuthSettings {
  readonly plaintextAuth: 'never' | 'loopback' | 'always';
  /** accounts given the admin scope */
  readonly admins: readonly string[];
}

export interface HttpAuthOptions {
  readonly directory: Pick<DirectoryLookup, 'verifyPassword' | 'findUser'>;
  readonly tokens: Pick<TokenStore, 'verify'>;
  /** browser sessions (cookie); absent: none are accepted */
  readonly sessions?: Pick<WebSessionStore, 'find' | 'delete'>;
  readonly throttle: AuthThrottle;
  /** how long a refused password waits for its answer ([auth] failure_delay) */
  readonly failureDelayMs: number;
  /** seconds a throttled client is told to wait ([auth] failure_window) */
  readonly retryAfterSeconds: number;
  /** read at each request, so that a reload applies at once */
  readonly settings: () => HttpAuthSettings;
  readonly now?: () => number;
}

const loopback = new CidrList(['127.0.0.0/8', '::1/128']);
const cacheTtlMs = 60_000;
const cacheMax = 10_000;

/** The challenges of a 401 (RFC 9110 §11.6.1): both schemes are accepted. */
const challenges = ['Basic realm="correio", charset="UTF-8"', 'Bearer realm="correio"'];

export class HttpAuth {
  readonly #opts: HttpAuthOptions;
  readonly #now: () => number;
  /** SHA-256(address NUL password) → the canonical address and when the entry ends */
  readonly #verified = new Map<string, { address: string; until: number }>();

  constructor(opts: HttpAuthOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Middleware: sets `principal`, or answers 401/403/429 itself. */
  require(access: Exclude<WebAccess, 'public'>): MiddlewareHandler<WebEnv> {
    return async (c, next) => {
      const cross = crossSiteRefusal(c);
      if (cross) return cross;
      const who = await this.authenticate(c);
      if (who instanceof Response) return who;
      if (access !== 'account' && !who.scopes.has(access)) {
        return problem(403, `${who.address} does not hold the "${access}" scope here`, {}, {
          'WWW-Authenticate': `Bearer realm="correio", error="insufficient_scope", scope="${access}"`,
        });
      }
      c.set('principal', who);
      await next();
    };
  }

  /** The principal of a request, or the refusal to answer with. */
  async authenticate(c: Context<WebEnv>): Promise<WebPrincipal | Response> {
    const header = c.req.header('Authorization');
    if (header === undefined || header.trim() === '') {
      const secret = sessionSecretOf(c);
      if (secret !== undefined && this.#opts.sessions) return this.#session(c, secret);
      return unauthorized('credentials required: HTTP Basic (address and password), a Bearer token, or a session (POST /api/session)', undefined, fromPageScript(c));
    }
    const plain = this.plaintextRefusal(c);
    if (plain) return plain;
    const conn = connectionOf(c);
    const sp = header.indexOf(' ');
    const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
    const value = sp < 0 ? '' : header.slice(sp + 1).trim();
    if (scheme === 'basic') return this.#basic(value, conn.ip);
    if (scheme === 'bearer') return this.#bearer(value, conn.ip);
    return unauthorized(`unknown authentication scheme "${scheme}": use Basic or Bearer`);
  }

  /** Credentials over plain HTTP where `[http] plaintext_auth` forbids them: the refusal (403). */
  plaintextRefusal(c: Context<WebEnv>): Response | undefined {
    const conn = connectionOf(c);
    const { plaintextAuth } = this.#opts.settings();
    if (conn.secure || plaintextAuth === 'always' || (plaintextAuth === 'loopback' && loopback.contains(conn.ip))) return undefined;
    return problem(403, 'credentials are accepted only over HTTPS here ([http] listen_tls); this connection is not encrypted');
  }

  async #basic(value: string, ip: string): Promise<WebPrincipal | Response> {
    // RFC 7617 §2: base64 of user-id ":" password, the user-id holding no colon
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (!/^[A-Za-z0-9+/]+=*$/.test(value) || colon < 1) return unauthorized('malformed Basic credentials: expected base64 of "address:password"');
    return this.password(ip, decoded.slice(0, colon), decoded.slice(colon + 1));
  }

  /**
   * An address and password (HTTP Basic, or the login form): the principal, or the refusal —
   * through the shared throttle, with the failure delay.
   */
  async password(ip: string, user: string, password: string): Promise<WebPrincipal | Response> {
    const key = createHash('sha256').update(user).update('\0').update(password).digest('base64');
    const now = this.#now();
    const hit = this.#verified.get(key);
    // a blocked address is refused even its remembered logins, as every protocol refuses it
    if (hit && hit.until > now && !this.#opts.throttle.addressBlocked(ip)) return this.principal(hit.address, 'password');
    let address = user;
    const verdict = await this.#opts.throttle.check(ip, user, async () => {
      if (!(await this.#opts.directory.verifyPassword(user, password))) return false;
      address = (await this.#opts.directory.findUser(user))?.address ?? user;
      return true;
    });
    if (verdict.kind !== 'ok') return this.#refusal(verdict, 'wrong address or password');
    if (this.#verified.size >= cacheMax) this.#verified.delete(this.#verified.keys().next().value as string);
    this.#verified.set(key, { address, until: now + cacheTtlMs });
    return this.principal(address, 'password');
  }

  /** A session cookie: its owner's principal; a state change must carry the CSRF token. */
  async #session(c: Context<WebEnv>, secret: string): Promise<WebPrincipal | Response> {
    const plain = this.plaintextRefusal(c);
    if (plain) return plain;
    const secure = connectionOf(c).secure;
    const found = await this.#opts.sessions?.find(secret);
    const user = found && (await this.#opts.directory.findUser(found.owner));
    // a disabled account's sessions end with it (docs/quota.md)
    const owner = user && !user.disabled ? user.address : undefined;
    if (owner === undefined) {
      if (found) await this.#opts.sessions?.delete(secret);
      const r = unauthorized('the session has ended (logged out, expired, or its account is gone or disabled): log in again (POST /api/session)', undefined, true);
      r.headers.append('Set-Cookie', clearedSessionCookie(secure));
      return r;
    }
    const csrf = csrfRefusal(c, secret);
    if (csrf) return csrf;
    return this.principal(owner, 'session');
  }

  async #bearer(value: string, ip: string): Promise<WebPrincipal | Response> {
    let found: Awaited<ReturnType<TokenStore['verify']>>;
    let owner: string | undefined;
    // a token's id part is what the throttle counts as its "account" (it names no address)
    const account = `token:${/^correio_([0-9a-f]{12})_/.exec(value)?.[1] ?? 'malformed'}`;
    const verdict = await this.#opts.throttle.check(ip, account, async () => {
      found = await this.#opts.tokens.verify(value);
      if (!found) return false;
      const user = await this.#opts.directory.findUser(found.owner);
      // a disabled account's tokens stop working with it (docs/quota.md)
      owner = user?.disabled ? undefined : user?.address;
      return owner !== undefined;
    });
    if (verdict.kind !== 'ok' || !found || owner === undefined) {
      return this.#refusal(verdict, found ? `the token's owner ${found.owner} is no longer in the directory or is disabled` : 'unknown or revoked token', 'invalid_token');
    }
    const admin = this.#isAdmin(owner);
    const scopes = new Set(found.scopes.filter((s) => s !== 'admin' || admin));
    return { address: owner, scopes, via: 'token', tokenId: found.id };
  }

  async #refusal(verdict: LoginVerdict, wrong: string, bearerError?: string): Promise<Response> {
    switch (verdict.kind) {
      case 'failed':
        await sleep(this.#opts.failureDelayMs);
        return unauthorized(wrong, bearerError);
      case 'refused':
        return problem(429, `too many failed logins from this ${verdict.why === 'address' ? 'address' : 'account'}; try again later`, {}, {
          'Retry-After': String(this.#opts.retryAfterSeconds),
        });
      case 'error':
        return problem(503, 'the directory is not available now; try again later', {}, { 'Retry-After': '30' });
      case 'busy':
        return problem(503, 'too many logins in progress from this address or for this account; try again later', {}, { 'Retry-After': '30' });
      case 'ok':
        return unauthorized(wrong, bearerError);
    }
  }

  /** The principal of an account logged in by password or session. */
  principal(address: string, via: 'password' | 'session'): WebPrincipal {
    const scopes = new Set<TokenScope>(['jmap', 'submit']);
    if (this.#isAdmin(address)) scopes.add('admin');
    return { address, scopes, via };
  }

  #isAdmin(address: string): boolean {
    const a = address.toLowerCase();
    return this.#opts.settings().admins.some((x) => x.toLowerCase() === a);
  }
}

function unauthorized(detail: string, bearerError?: string, noBasic = false): Response {
  const headers = new Headers({ 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store' });
  if (!noBasic) headers.append('WWW-Authenticate', challenges[0]);
  headers.append('WWW-Authenticate', bearerError ? `${challenges[1]}, error="${bearerError}"` : challenges[1]);
  return new Response(JSON.stringify({ type: 'about:blank', status: 401, title: 'Unauthorized', detail }), { status: 401, headers });
}
