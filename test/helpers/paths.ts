/**
 * @module test-paths
 * Where tests find the project, its fixtures and the shared outside corpora.
 * Tests run from dist/ (compiled), so paths are computed from the project root, not the file.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`project root not found above ${start}`);
    dir = up;
  }
}

export const projectRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
export const fixturesDir = join(projectRoot, 'test', 'fixtures');
/** ../shared/corpora from the project root (DESIGN.md §6) */
export const corporaDir = resolve(projectRoot, '..', 'shared', 'corpora');

/** Returns a skip reason when the shared corpora are absent (a user's fresh clone), else false. */
export function corporaSkip(rel = ''): string | false {
  const p = join(corporaDir, rel);
  return existsSync(p) ? false : `outside corpus not present: ${p} (../shared/corpora is absent)`;
}
