/**
 * @module ui-files
 * The front ends' files: the admin console's page (/admin) and its browser module (/ui/…,
 * from dist/ui: `npm run build` type-checks src/web/ui with its own tsconfig and Vite bundles
 * it into dist/ui/admin/console.js, vite.admin.config.mjs).
 * The page is a shell: a stylesheet, one module script, and a body the script fills.
 * Standards: RFC 9110 (GET, HEAD, 404), W3C CSP Level 3, WHATWG HTML.
 * Security: every page carries a strict Content-Security-Policy: scripts and styles from this
 *   origin only (no inline script, no eval), fetches to this origin only, no frames, no
 *   plugins, no <base>, no form posts elsewhere. A module path is checked against a strict
 *   pattern (letters, digits, hyphens, one folder level, .js) before any file is opened, so no
 *   request can name a file outside dist/ui. The files are public (no secret is in them); the
 *   data they show comes from the authenticated APIs.
 * Limitations: no compression.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Hono } from 'hono';
import type { WebEnv } from './http-auth.js';
import { consoleCss } from './ui-styles.js';

/** dist/ui, whether this module runs compiled (dist/src/web) or from source (src/web, tsx). */
const uiRoot = fileURLToPath(new URL(import.meta.url.includes('/dist/src/') ? '../../ui/' : '../../dist/ui/', import.meta.url));

/** What every front-end page allows: its own origin's scripts, styles, fetches and images. */
/**
 * The Content-Security-Policy of an app page (the console, the webmail): only this origin's
 * scripts, styles and fetches, no plugins, no framing, reports to /api/csp-report; `style` and
 * `img` add sources to those two directives.
 */
export function appPageCsp(extra: { style?: string; img?: string } = {}): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self'${extra.style ? ` ${extra.style}` : ''}`,
    "connect-src 'self'",
    `img-src 'self' data:${extra.img ? ` ${extra.img}` : ''}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    'report-uri /api/csp-report',
  ].join('; ');
}

export const pageCsp = appPageCsp();

function page(title: string, script: string, css: string): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    `<link rel="stylesheet" href="${css}">`,
    `<script type="module" src="${script}"></script>`,
    '</head>',
    '<body><noscript>This page needs JavaScript.</noscript></body>',
    '</html>',
    '',
  ].join('\n');
}

const headers = { 'Content-Security-Policy': pageCsp, 'Cache-Control': 'no-cache' };

/** /admin: the admin console's page and stylesheet. */
export function adminConsoleApp(): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  const html = page('correio admin', '/ui/admin/console.js', '/admin/console.css');
  app.get('/', (c) => c.html(html, 200, headers));
  app.get('/console.css', (c) => c.body(consoleCss, 200, { ...headers, 'Content-Type': 'text/css; charset=utf-8' }));
  return app;
}

/** /ui: the compiled browser modules. */
export function uiModulesApp(root: string = uiRoot): Hono<WebEnv> {
  const app = new Hono<WebEnv>();
  app.get('/:folder/:file', async (c) => {
    const folder = c.req.param('folder');
    const file = c.req.param('file');
    if (!/^[a-z][a-z0-9-]*$/.test(folder) || !/^[a-z][a-z0-9-]*\.js$/.test(file)) return c.json({ error: 'no such file' }, 404);
    let body: Buffer;
    try {
      body = await readFile(join(root, folder, file));
    } catch {
      return c.json({ error: `no such file: /ui/${folder}/${file} (is dist/ui built? npm run build)` }, 404);
    }
    return c.body(new Uint8Array(body), 200, { ...headers, 'Content-Type': 'text/javascript; charset=utf-8' });
  });
  return app;
}
