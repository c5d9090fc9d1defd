/**
 * The layer rule of DESIGN.md §2: a folder imports core/ and folders of lower layers only;
 * folders of the same layer meet through core/ interfaces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { projectRoot } from './helpers/paths.js';

const layers: Record<string, number> = {
  core: 0,
  util: 1,
  address: 1,
  protocol: 2,
  config: 2,
  directory: 3,
  resolve: 3,
  queue: 3,
  mailbox: 3,
  dns: 3,
  client: 3,
  log: 3,
  intake: 4,
  policy: 4,
  transport: 4,
  delivery: 4,
  server: 5,
  web: 5,
  app: 6,
  admin: 4, // docs/design-changes.md: the operator's operations shared by the CLI and the admin API
  cli: 7, // docs/design-changes.md: the CLI sits above the composition root it starts
};

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** What the layer rule follows: static imports and re-exports, and dynamic import('…') (a module loaded lazily is still a dependency). */
const layerImports = /(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g;

test('every src folder is a known layer', () => {
  const src = join(projectRoot, 'src');
  for (const name of readdirSync(src)) {
    if (statSync(join(src, name)).isDirectory()) assert.ok(name in layers, `unknown folder src/${name}`);
  }
});

test('imports respect the layers', () => {
  const src = join(projectRoot, 'src');
  const violations: string[] = [];
  for (const file of walk(src, [])) {
    const from = relative(src, file).split('/')[0];
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(layerImports)) {
      const target = relative(src, resolve(dirname(file), m[1] ?? m[2])).split('/')[0];
      if (target === from) continue;
      const lf = layers[from];
      const lt = layers[target];
      if (lt === undefined || lf === undefined) {
        violations.push(`${relative(projectRoot, file)} imports outside src: ${m[1]}`);
      } else if (target !== 'core' && lt >= lf) {
        violations.push(`${relative(projectRoot, file)} (layer ${lf}) imports ${target} (layer ${lt})`);
      }
    }
    if (from === 'core') {
      for (const m of text.matchAll(/^import\s+(?!type\b)[^;]*from\s+['"]([^.'"][^'"]*)['"]/gm)) {
        violations.push(`${relative(projectRoot, file)}: core imports ${m[1]} at run time`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('the checker catches a same-layer import', () => {
  // guard against the regex silently matching nothing
  const sample = "import { x } from '../queue/index.js'; const y = await import('../dns/index.js');";
  const m = [...sample.matchAll(layerImports)];
  assert.deepEqual(m.map((x) => x[1] ?? x[2]), ['../queue/index.js', '../dns/index.js']);
});

/** The relative imports of one source file, resolved to source paths (type-only imports too). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
    out.push(resolve(dirname(file), m[1]).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** Every import cycle among `files` (each as a path list, first file repeated at the end). */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (!graph.has(g)) continue;
      const s = state.get(g);
      if (s === 'open') cycles.push([...stack.slice(stack.indexOf(g)), g]);
      else if (s === undefined) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return cycles;
}

// A file-level import cycle makes module initialisation order matter and hides which of two
// files owns a concept; folders' index.ts re-exports are files like any other here.
test('no file-level import cycles', () => {
  const src = join(projectRoot, 'src');
  const graph = new Map<string, string[]>();
  for (const file of walk(src, [])) graph.set(file, importsOf(file));
  const cycles = findCycles(graph).map((c) => c.map((f) => relative(projectRoot, f)).join(' -> '));
  assert.deepEqual(cycles, []);
});

test('the cycle finder finds a cycle', () => {
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  assert.deepEqual(findCycles(graph), [['a', 'b', 'c', 'a']]);
});
