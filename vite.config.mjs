// The webmail's build (issue 16): Preact + TypeScript in src/web/webmail-ui, bundled by Vite into
// dist/webmail (index.html and hashed files under assets/), which correio serves at / and
// /webmail/assets/ (src/web/webmail/webmail-app.ts). Type checking is tsc's job
// (src/web/webmail-ui/tsconfig.json); Vite only transforms and bundles. The options shared with
// the admin console's build are vite.shared.mjs's.
import { defineConfig } from 'vite';
import { appBuild } from './vite.shared.mjs';

export default defineConfig(
  appBuild({
    root: './src/web/webmail-ui/',
    outDir: './dist/webmail/',
    base: '/webmail/',
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  }),
);
