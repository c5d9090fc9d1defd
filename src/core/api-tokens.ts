/**
 * @module api-tokens
 * API tokens for HTTP clients (scripts, JMAP clients, HTTP submission): a secret given out
 * once, stored hashed, owned by one account and limited to scopes. The web's authentication
 * (web/http-auth.ts) checks them; `correio token create|list|revoke` manages them.
 * Standards: RFC 6750 (the Bearer scheme that carries them).
 * Security: only a hash of each secret is stored; the secret is shown once, at creation.
 * Limitations: none.
 */

/** What a token may be used for: JMAP (mail), HTTP submission, the admin API. */
export type TokenScope = 'jmap' | 'submit' | 'admin';
export const tokenScopes: readonly TokenScope[] = ['jmap', 'submit', 'admin'];

export function isTokenScope(s: string): s is TokenScope {
  return (tokenScopes as readonly string[]).includes(s);
}

export interface ApiToken {
  /** public handle, for listing and revoking (not a secret) */
  readonly id: string;
  /** the account the token acts as (canonical address) */
  readonly owner: string;
  readonly scopes: readonly TokenScope[];
  /** what the operator wrote about it, if anything */
  readonly label?: string;
  /** ms since the epoch */
  readonly createdAt: number;
  /** ms since the epoch, to about a minute; absent when never used */
  readonly lastUsedAt?: number;
}

export interface TokenStore {
  /** makes a token; `secret` is what the client sends and is not kept */
  create(owner: string, scopes: readonly TokenScope[], label?: string): Promise<{ token: ApiToken; secret: string }>;
  /** the token a secret belongs to (and notes its use), or undefined */
  verify(secret: string): Promise<ApiToken | undefined>;
  /** every token, or one owner's */
  list(owner?: string): Promise<ApiToken[]>;
  /** false when there was no such token */
  revoke(id: string): Promise<boolean>;
  close(): Promise<void>;
}
