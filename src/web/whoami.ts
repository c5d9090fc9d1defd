/**
 * @module whoami
 * `GET /api/me`: who the credentials of a request belong to and what they may do, for a front
 * end checking a login and for scripts checking a token.
 * Standards: RFC 8259 (JSON).
 * Security: answers only an authenticated request (mounted with access "account"), about itself.
 * Limitations: none.
 */
import { Hono } from 'hono';
import type { WebEnv } from './http-auth.js';

export function whoamiApp(): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.get('/', (c) => {
    const p = c.get('principal');
    return c.json({ address: p.address, scopes: [...p.scopes].sort(), via: p.via, ...(p.tokenId !== undefined && { tokenId: p.tokenId }) });
  });
  return app;
}
