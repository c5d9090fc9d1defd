/**
 * @module webmail-app
 * The webmail's HTTP side (issue 16): the page at `/` and its bundled files under
 * `/webmail/assets/` (built by Vite from src/web/webmail-ui into dist/webmail), and the one
 * endpoint the webmail needs besides JMAP: `GET /webmail/api/frame/{emailId}[?images=remote]`,
 * the message's body as a sanitised document for its sandboxed frame (message-frame.ts).
 * Standards: RFC 9110 (GET, 404), W3C CSP Level 3, RFC 8620 (the account's mail, as JMAP).
 * Security: the page's CSP allows scripts, styles and fetches from this origin only (no inline
 *   script, no eval), the frame's one stylesheet by its hash, no plugins, no <base>, no
 *   framing of the page, no frame of any URL (the message's frame is srcdoc, which frame-src
 *   does not govern); images may come from anywhere so that a message's remote images can
 *   show in its frame once the user asks (until then the sanitiser holds them back; the app
 *   itself loads none). An asset name is checked against a strict pattern before any file is
 *   opened. The frame endpoint is mounted with the `jmap` scope and reads the caller's own
 *   account only (an Email id of another account is not found).
 * Limitations: no compression of the files.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Hono } from 'hono';
import type { WebEnv } from '../http-auth.js';
import { problem } from '../problem.js';
import { AccountSession, type JmapServices } from '../jmap/jmap-account.js';
import { MessageCache } from '../jmap/email-read.js';
import { frameStyleSource, messageFrame } from './message-frame.js';
import { appPageCsp } from '../ui-files.js';

/** dist/webmail, whether this module runs compiled (dist/src/web/webmail) or from source (tsx). */
const webmailRoot = fileURLToPath(new URL(import.meta.url.includes('/dist/src/') ? '../../../webmail/' : '../../../dist/webmail/', import.meta.url));

/** The webmail page's Content-Security-Policy. */
export const webmailCsp = appPageCsp({ style: frameStyleSource, img: 'blob: https: http:' });

const contentTypes: Record<string, string> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  woff2: 'font/woff2',
};

const notBuilt = (what: string): Response => problem(404, `${what} is not built: run npm run build (it writes dist/webmail)`);

/** `/`: the webmail's page. */
export function webmailPageApp(root: string = webmailRoot): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.get('/', async (c) => {
    let html: string;
    try {
      html = await readFile(join(root, 'index.html'), 'utf8');
    } catch {
      return notBuilt('the webmail');
    }
    return c.html(html, 200, { 'Content-Security-Policy': webmailCsp, 'Cache-Control': 'no-cache' });
  });
  return app;
}

/** `/webmail/assets/…`: the bundled files (hashed names: cached for good). */
export function webmailAssetsApp(root: string = webmailRoot): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.get('/assets/:file', async (c) => {
    const file = c.req.param('file');
    const ext = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.([a-z0-9]+)$/.exec(file)?.[1];
    if (ext === undefined || !(ext in contentTypes)) return problem(404, `no such file: /webmail/assets/${file}`);
    let body: Buffer;
    try {
      body = await readFile(join(root, 'assets', file));
    } catch {
      return notBuilt(`/webmail/assets/${file}`);
    }
    return c.body(new Uint8Array(body), 200, {
      'Content-Type': contentTypes[ext],
      'Content-Security-Policy': webmailCsp,
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
  });
  return app;
}

/** `/webmail/api` (jmap scope): the reading frame's document of one Email of the caller. */
export function webmailApiApp(services: JmapServices): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.get('/frame/:emailId', async (c) => {
    const account = new AccountSession(c.get('principal').address, services);
    const id = c.req.param('emailId');
    const e = (await account.view()).emailById.get(id);
    if (!e) return problem(404, `no email ${id} in this account`);
    const { parsed } = await new MessageCache(account).load(e);
    return c.json(messageFrame(parsed, c.req.query('images') === 'remote'));
  });
  return app;
}
