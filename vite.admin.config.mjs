// The admin console's build (issue 16): TypeScript in src/web/ui, bundled by Vite into one
// module, dist/ui/admin/console.js, which correio serves at /ui/admin/console.js
// (src/web/ui-files.ts) for the page at /admin. Type checking is tsc's job
// (src/web/ui/tsconfig.json, --noEmit); Vite only transforms and bundles. A fixed file name, not
// a hashed one: the page names it, and /ui serves only plain names.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./src/web/ui/', import.meta.url)),
  logLevel: 'warn',
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('./dist/ui/', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
    reportCompressedSize: false,
    rollupOptions: {
      input: fileURLToPath(new URL('./src/web/ui/admin/console.ts', import.meta.url)),
      output: { format: 'es', entryFileNames: 'admin/console.js', codeSplitting: false },
    },
  },
});
