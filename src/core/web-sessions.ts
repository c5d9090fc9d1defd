/**
 * @module web-sessions
 * Browser sessions of the web (the webmail and admin console): a random secret carried in a
 * cookie, stored hashed, owned by one account, ending at a fixed time or at logout. The web's
 * authentication (web/http-auth.ts) checks them; `POST /api/session` makes them.
 * Standards: RFC 6265 (cookies).
 * Security: only a hash of each secret is stored; the secret is given to the browser once, in
 *   an HttpOnly cookie.
 * Limitations: none.
 */

export interface WebSession {
  /** the account the session acts as (canonical address) */
  readonly owner: string;
  /** ms since the epoch */
  readonly createdAt: number;
  /** ms since the epoch; the session is unknown from then on */
  readonly expiresAt: number;
}

export interface WebSessionStore {
  /** starts a session for `lifetimeMs`; `secret` is what the cookie carries and is not kept */
  create(owner: string, lifetimeMs: number): Promise<{ session: WebSession; secret: string }>;
  /** the live session a secret belongs to, or undefined (unknown, ended or expired) */
  find(secret: string): Promise<WebSession | undefined>;
  /** ends a session (logout); false when there was none */
  delete(secret: string): Promise<boolean>;
  close(): Promise<void>;
}
