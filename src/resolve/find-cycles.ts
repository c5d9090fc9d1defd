/**
 * @module find-cycles
 * Alias and role cycles in the directory, found ahead of time for `correio check` (seed §2.1:
 * conflicting aliases make mail go round). The resolver already stops every cycle at run time;
 * this shows the operator where they are.
 * Standards: none (graph search: Tarjan's strongly connected components).
 * Security: reads the directory only.
 * Limitations: cycles through `:include:` files and through other sites cannot be seen here
 *   (the Received count and Delivered-To catch those at run time); mailing lists are left out,
 *   since the list transport drops a copy that already went through the list.
 */
import type { Alias, DirectoryAdmin, DirectoryLookup } from '../core/index.js';
import { parseTargetString } from './target-syntax.js';

export interface AliasCycle {
  /** the names in the cycle, in the order followed, lower case */
  readonly names: string[];
  /** names in the cycle that are also mailboxes: mail stops there (the sendmail rule) */
  readonly mailboxes: string[];
}

/**
 * Finds cycles among aliases (directory and aliases file; bare file names count in every local
 * domain) and roles. A name that maps to itself and is also a mailbox (`bob: bob, bob@elsewhere`)
 * is the usual idiom and not reported.
 */
export async function findCycles(
  directory: Pick<DirectoryLookup, 'listDomains' | 'findUser'> & Pick<DirectoryAdmin, 'listAliases' | 'listRoles'>,
  fileAliases?: ReadonlyMap<string, Alias>): Promise<AliasCycle[]> {
  const domains = (await directory.listDomains()).map((d) => d.toLowerCase());
  const edges = new Map<string, Set<string>>();
  const addEdges = (name: string, targets: readonly string[]): void => {
    const at = name.lastIndexOf('@');
    if (at === 0) return; // a catch-all has no name to come back to
    const names = at < 0 ? domains.map((d) => `${name}@${d}`) : [name];
    for (const n of names) {
      const domain = n.slice(n.lastIndexOf('@') + 1);
      const set = edges.get(n) ?? new Set<string>();
      edges.set(n, set);
      for (const raw of targets) {
        const t = parseTargetString(raw);
        if (t.kind === 'address') set.add(`${t.address.local}@${t.address.domain}`.toLowerCase());
        else if (t.kind === 'local') set.add(`${t.local}@${domain}`.toLowerCase());
      }
    }
  };
  for (const a of fileAliases?.values() ?? []) addEdges(a.name.toLowerCase(), a.targets);
  // Directory aliases take precedence over the file's: their edges replace.
  for (const a of await directory.listAliases()) {
    edges.delete(a.name.toLowerCase());
    addEdges(a.name.toLowerCase(), a.targets);
  }
  for (const r of await directory.listRoles()) if (!edges.has(r.address.toLowerCase())) addEdges(r.address.toLowerCase(), [r.holder]);

  // Tarjan's algorithm, iterative enough for directories of any realistic size.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const sccs: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      sccs.push(scc.reverse());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!idx.has(v)) strong(v);

  const out: AliasCycle[] = [];
  for (const scc of sccs) {
    const selfLoop = scc.length === 1 && (edges.get(scc[0])?.has(scc[0]) ?? false);
    if (scc.length < 2 && !selfLoop) continue;
    const mailboxes: string[] = [];
    for (const n of scc) {
      const at = n.lastIndexOf('@');
      if (await directory.findUser({ local: n.slice(0, at), domain: n.slice(at + 1) })) mailboxes.push(n);
    }
    if (selfLoop && mailboxes.length > 0) continue;
    out.push({ names: orderCycle(scc, edges), mailboxes });
  }
  return out;
}

/** Orders a strongly connected component along its edges, starting from its smallest name. */
function orderCycle(scc: string[], edges: Map<string, Set<string>>): string[] {
  const members = new Set(scc);
  const start = [...scc].sort()[0];
  const order = [start];
  const seen = new Set(order);
  let cur = start;
  for (;;) {
    const next = [...(edges.get(cur) ?? [])].filter((n) => members.has(n) && !seen.has(n)).sort()[0];
    if (next === undefined) break;
    order.push(next);
    seen.add(next);
    cur = next;
  }
  for (const n of scc) if (!seen.has(n)) order.push(n);
  return order;
}
