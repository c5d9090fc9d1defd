/**
 * @module cpu-shares
 * How a run's CPU was spread: over correio's threads (BENCH_THREADS=1) and over the processes
 * of an MTA's tree (correio's server and acceptors, Postfix's daemons), as shares of one core.
 * Standards: none. Security: none. Limitations: see each function.
 */

/**
 * "main 92 %, other threads 31 % (4 busy: 11, 9, 6, 5 %)": the CPU of correio's JavaScript
 * thread and of its other threads (libuv's pool, V8's compiler and GC helpers, workers: Node
 * names them all "node") in the window, each as a share of one core.
 */
export function threadShares(pid: number, before: Map<string, number>, after: Map<string, number>, seconds: number): string {
  const pct = (c: number): string => ((c / seconds) * 100).toFixed(0);
  let main = 0;
  const others: number[] = [];
  for (const [key, cpu] of after) {
    const used = cpu - (before.get(key) ?? 0);
    if (key.endsWith(`/${pid}`)) main = used;
    else if (used > 0) others.push(used);
  }
  others.sort((a, b) => b - a);
  const sum = others.reduce((a, b) => a + b, 0);
  return `main ${pct(main)} %, other threads ${pct(sum)} % (${others.length} busy: ${others.slice(0, 6).map(pct).join(', ')} %)`;
}

/**
 * "server 97 %, acceptor 81 %" or "smtpd 64 % (×20), cleanup 31 %, …": each process's CPU in
 * the window as a share of one core, summed by name (correio's processes are all "node": the
 * root is the server, its children acceptors). Processes that ended during the window are not
 * counted here (their CPU is in the tree's total).
 */
export function processShares(root: number, before: Map<number, { name: string; cpu: number }>, after: Map<number, { name: string; cpu: number }>, seconds: number): string {
  const by = new Map<string, { cpu: number; n: number }>();
  for (const [pid, p] of after) {
    const label = p.name === 'node' ? (pid === root ? 'server' : 'acceptor') : p.name;
    const e = by.get(label) ?? { cpu: 0, n: 0 };
    e.cpu += p.cpu - (before.get(pid)?.cpu ?? 0);
    e.n++;
    by.set(label, e);
  }
  return [...by].sort((a, b) => b[1].cpu - a[1].cpu).filter(([, e]) => e.cpu > 0)
    .map(([l, e]) => `${l} ${((e.cpu / seconds) * 100).toFixed(0)} %${e.n > 1 ? ` (×${e.n})` : ''}`).join(', ');
}
