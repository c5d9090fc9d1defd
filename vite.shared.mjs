// What the webmail's and the admin console's Vite builds share (issue 16): a bundle of one
// folder of src/web into one folder of dist/, served by correio from its own origin under a
// strict Content-Security-Policy. Each config (vite.config.mjs, vite.admin.config.mjs) adds
// only what is its own.
import { fileURLToPath } from 'node:url';

/** A path of this repository (relative to this file), absolute. */
export const repoPath = (p) => fileURLToPath(new URL(p, import.meta.url));

/**
 * Vite's options for bundling `root` into `outDir` (both relative to the repository); `build`
 * options are added to the shared ones, any other option beside them.
 */
export function appBuild({ root, outDir, build = {}, ...rest }) {
  return {
    root: repoPath(root),
    logLevel: 'warn',
    publicDir: false,
    ...rest,
    build: {
      outDir: repoPath(outDir),
      emptyOutDir: true,
      target: 'es2022',
      // the pages' CSP allows no inline script: no module-preload polyfill injected into a page
      modulePreload: { polyfill: false },
      // every file is served from this origin; nothing inlined as data: that CSP would refuse
      assetsInlineLimit: 0,
      sourcemap: true,
      reportCompressedSize: false,
      ...build,
    },
  };
}
