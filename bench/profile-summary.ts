/**
 * @module profile-summary
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per area
 * (a correio src/ folder, a node_modules package, node internals, GC, idle) and the top functions.
 * Standards: the Chrome DevTools Protocol Profiler.Profile shape (nodes, samples, timeDeltas).
 * Security: reads a file we wrote.
 * Limitations: self time only (no inclusive time); areas are guessed from script URLs.
 */
import fsp from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  areas: { area: string; ms: number; share: number }[];
  functions: { name: string; area: string; ms: number; share: number }[];
}

/** Which part of the program a script URL belongs to. */
export function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'native (program)';
    return `native ${functionName || '(anonymous)'}`;
  }
  if (url.startsWith('node:')) return `node ${url.slice(5).split('/')[0]}`;
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `npm ${nm[1]}`;
  const src = /\/dist\/src\/([^/]+)\/(?:([^/]+)\/)?/.exec(url);
  if (src) return `correio ${src[1]}${src[1] === 'server' || src[1] === 'protocol' ? `/${src[2] ?? ''}` : ''}`;
  return url.split('/').slice(-2).join('/');
}

export async function summarizeProfile(file: string, top = 12): Promise<ProfileSummary> {
  const p = JSON.parse(await fsp.readFile(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, { area: string; ms: number }>();
  let total = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const area = areaOf(url, functionName);
    if (area === 'idle') continue;
    total += ms;
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const name = `${functionName || '(anonymous)'} ${url ? `${url.split('/').slice(-2).join('/')}:${lineNumber + 1}` : ''}`.trim();
    const f = fns.get(name) ?? { area, ms: 0 };
    f.ms += ms;
    fns.set(name, f);
  }
  const share = (ms: number): number => (total > 0 ? ms / total : 0);
  return {
    totalMs: total,
    areas: [...areas].sort((a, b) => b[1] - a[1]).slice(0, top).map(([area, ms]) => ({ area, ms, share: share(ms) })),
    functions: [...fns].sort((a, b) => b[1].ms - a[1].ms).slice(0, top).map(([name, f]) => ({ name, area: f.area, ms: f.ms, share: share(f.ms) })),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(5)} %`;
  return [
    `  busy CPU in the profile: ${(s.totalMs / 1000).toFixed(2)} s`,
    '  by area (self time):',
    ...s.areas.map((a) => `    ${pct(a.share)}  ${a.area}`),
    '  top functions (self time):',
    ...s.functions.map((f) => `    ${pct(f.share)}  ${f.name}  [${f.area}]`),
  ].join('\n');
}
