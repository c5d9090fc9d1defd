// The webmail's build (issue 16): Preact + TypeScript in src/web/webmail-ui, bundled by Vite into
// dist/webmail (index.html and hashed files under assets/), which correio serves at / and
// /webmail/assets/ (src/web/webmail/webmail-app.ts). Type checking is tsc's job
// (src/web/webmail-ui/tsconfig.json); Vite only transforms and bundles.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('./src/web/webmail-ui/', import.meta.url));

export default defineConfig({
  root,
  base: '/webmail/',
  logLevel: 'warn',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('./dist/webmail/', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // the page's CSP allows no inline script: no module-preload polyfill injected into the page
    modulePreload: { polyfill: false },
    // every file is served from this origin; nothing inlined as data: that CSP would refuse
    assetsInlineLimit: 0,
    sourcemap: true,
    reportCompressedSize: false,
  },
});
