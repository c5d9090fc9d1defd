// The admin console's build (issue 16): TypeScript in src/web/ui, bundled by Vite into one
// module, dist/ui/admin/console.js, which correio serves at /ui/admin/console.js
// (src/web/ui-files.ts) for the page at /admin. Type checking is tsc's job
// (src/web/ui/tsconfig.json, --noEmit); Vite only transforms and bundles. A fixed file name, not
// a hashed one: the page names it, and /ui serves only plain names. The options shared with the
// webmail's build are vite.shared.mjs's.
import { defineConfig } from 'vite';
import { appBuild, repoPath } from './vite.shared.mjs';

export default defineConfig(
  appBuild({
    root: './src/web/ui/',
    outDir: './dist/ui/',
    build: {
      rollupOptions: {
        input: repoPath('./src/web/ui/admin/console.ts'),
        output: { format: 'es', entryFileNames: 'admin/console.js', codeSplitting: false },
      },
    },
  }),
);
