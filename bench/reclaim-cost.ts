/**
 * @module reclaim-cost
 * What util/reclaim-memory.ts's MemoryReclaimer costs a process streaming a big body (an SMTP
 * body past 64 KB, an IMAP APPEND literal: one collection every 2 MB), beside a live heap the
 * size a server keeps (its queue, an IMAP folder's index). Each way streams the same octets in
 * 64 KB buffers (as socket reads come) and reports the loop's wall time, the CPU time of the
 * loop and the second after it (what V8 finishes after the loop: sweeping, a collection it runs
 * as a task), and RSS:
 *   - none: no collection asked for (V8's own heuristics);
 *   - full: `gc()` with no options every 2 MB, a full synchronous collection (what the reclaimer
 *     did until session 22, while its header said "young generation");
 *   - minor: a young-generation collection every 2 MB;
 *   - reclaimer: MemoryReclaimer as it is (every 2 MB a young-generation collection, or a full
 *     one once an eighth of the heap in use, and at least 4 MB, was streamed since the last).
 * Each way runs in a fresh child process so one's heap does not weigh on the next.
 *
 *   node dist/bench/reclaim-cost.js [live MB, comma separated: 20,200] [streamed MB: 120]
 * Standards: none. Security: none. Limitations: the live heap is small objects made in one
 *   go, not a server's; a full collection's cost grows with what is live, so the figures are
 *   for these sizes only.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import v8 from 'node:v8';
import { MemoryReclaimer, type GcFunction } from '../src/util/reclaim-memory.js';

const ways = ['none', 'full', 'minor', 'reclaimer'] as const;
type Way = (typeof ways)[number];
const chunk = 64 * 1024;
const every = 2 * 1024 * 1024;

/** In the child: make the live heap, stream `streamedMb` in 64 KB buffers the `way` way, print one JSON line. */
async function child(way: Way, liveMb: number, streamedMb: number): Promise<void> {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as GcFunction;
  const live: { a: number; b: string; c: number[] }[] = [];
  for (let i = 0; i < (liveMb * 1024 * 1024) / 120; i++) live.push({ a: i, b: `x${i}`, c: [i] });
  gc();
  const reclaimer = new MemoryReclaimer(every);
  let since = 0;
  let sum = 0;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let n = 0; n < streamedMb * 1024 * 1024; n += chunk) {
    const b = Buffer.allocUnsafe(chunk);
    b[0] = n & 0xff;
    sum += b[0];
    if (way === 'reclaimer') reclaimer.account(chunk);
    else if (way !== 'none' && (since += chunk) >= every) {
      since = 0;
      if (way === 'full') gc();
      else gc({ type: 'minor' });
    }
  }
  const wallMs = performance.now() - wall0;
  // V8's work left after the loop (concurrent sweeping, a collection posted as a task) counts too
  await new Promise((r) => setTimeout(r, 1000));
  const cpu = process.cpuUsage(cpu0);
  const out = {
    way,
    liveMb,
    heapMb: v8.getHeapStatistics().used_heap_size / 1048576,
    wallMs,
    userMs: cpu.user / 1000,
    systemMs: cpu.system / 1000,
    rssMb: process.memoryUsage().rss / 1048576,
    kept: live.length + sum,
  };
  console.log(JSON.stringify(out));
}

async function main(): Promise<void> {
  const [role, ...rest] = process.argv.slice(2);
  if (role === 'child') {
    await child(rest[0] as Way, Number(rest[1]), Number(rest[2]));
    return;
  }
  const lives = (role ?? '20,200').split(',').map(Number);
  const streamedMb = Number(rest[0] ?? 120);
  console.log(`${streamedMb} MB streamed in 64 KB buffers, a collection asked for every 2 MB ('none': never)`);
  console.log('| live heap | way | wall ms | CPU user ms | CPU system ms | RSS MB |');
  console.log('|---|---|---|---|---|---|');
  for (const liveMb of lives) {
    for (const way of ways) {
      const line = execFileSync(process.execPath, [fileURLToPath(import.meta.url), 'child', way, String(liveMb), String(streamedMb)], { encoding: 'utf8' });
      const r = JSON.parse(line.trim().split('\n').pop() ?? '{}') as { heapMb: number; wallMs: number; userMs: number; systemMs: number; rssMb: number };
      console.log(`| ${r.heapMb.toFixed(0)} MB | ${way} | ${r.wallMs.toFixed(0)} | ${r.userMs.toFixed(0)} | ${r.systemMs.toFixed(0)} | ${r.rssMb.toFixed(0)} |`);
    }
  }
}

await main();
