/**
 * @module queue-gauges-cpu
 * `node dist/bench/queue-gauges-cpu.js [N]`: the CPU a /metrics scrape spends on the queue
 * gauges with N envelopes (default 1,000,000) restored parked from a saved schedule, 99 %
 * deferred and 1 % held (issue 19): QueueScheduler.stateCounts() (correio_queue_size) and
 * oldestArrivals() (correio_queue_oldest_age_seconds), three rounds each. CPU time, unlike wall
 * time, hardly moves with the load of a shared box.
 * Standards: none.
 * Security: none (memory only).
 * Limitations: the scheduler alone, without the HTTP answer around it.
 */
import { QueueScheduler, RetryScheduler } from '../src/queue/index.js';
import { uniqueId } from '../src/util/index.js';

const n = Number(process.argv[2] ?? 1_000_000);
const q = new QueueScheduler({ policy: new RetryScheduler({ retryMin: 300_000, retryMax: 3_600_000, maxQueueLifetime: 3 * 86_400_000 }), parkAfterMs: 300_000 });
const t0 = Date.now();
q.restore(Array.from({ length: n }, (_, i) => ({ id: `${uniqueId(t0 - i)}-1`, at: t0 + 3_600_000, state: i % 100 === 0 ? ('held' as const) : ('deferred' as const) })));

/** ms of CPU (user + system) per call of `f`, over `calls` calls */
function cpuMs(f: () => unknown, calls: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) f();
  const d = process.cpuUsage(start);
  return (d.user + d.system) / calls / 1000;
}

for (let round = 1; round <= 3; round++) {
  const counts = cpuMs(() => q.stateCounts(), 1000);
  const ages = cpuMs(() => q.oldestArrivals(), 20);
  console.log(`round ${round}: stateCounts ${(counts * 1000).toFixed(2)} µs CPU a call, oldestArrivals ${ages.toFixed(2)} ms CPU a call`);
}
console.log(`counts ${JSON.stringify(q.stateCounts())}, RSS ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
