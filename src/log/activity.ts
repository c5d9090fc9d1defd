/**
 * @module activity
 * Mail activity per minute for the admin console's dashboard: messages received, and recipients
 * delivered, deferred and bounced (expired ones count as bounced: both go back to the sender),
 * for the last hour, counted from the diagnostics_channel events core code publishes.
 * `MinuteCounts` is the pure part (the clock is passed in); `startActivity` subscribes it.
 * Standards: none (the figures are Postfix's "received / delivered / deferred / bounced", per
 *   minute as pflogsumm's hourly table, finer).
 * Security: counts only; no addresses are kept.
 * Limitations: per process and in memory: a restart starts from zero (Prometheus on
 *   `[metrics] listen` keeps history).
 */
import diagnostics from 'node:diagnostics_channel';
import { channels } from '../core/index.js';

export const activityKinds = ['received', 'delivered', 'deferred', 'bounced'] as const;
export type ActivityKind = (typeof activityKinds)[number];

/** One minute's counts; `minute` is its start, ISO 8601 in UTC. */
export type ActivityMinute = { readonly minute: string } & Readonly<Record<ActivityKind, number>>;

const MINUTE = 60_000;

/** Counts per whole minute, keeping the last `keep` minutes. */
export class MinuteCounts {
  private readonly minutes = new Map<number, Record<ActivityKind, number>>();

  constructor(readonly keep = 60) {}

  add(kind: ActivityKind, at: number): void {
    const m = Math.floor(at / MINUTE);
    let c = this.minutes.get(m);
    if (!c) {
      c = { received: 0, delivered: 0, deferred: 0, bounced: 0 };
      this.minutes.set(m, c);
      for (const old of this.minutes.keys()) if (old <= m - this.keep) this.minutes.delete(old);
    }
    c[kind]++;
  }

  /** The last `count` minutes up to the one holding `now`, oldest first, zeros where nothing happened. */
  series(now: number, count: number): ActivityMinute[] {
    const n = Math.max(1, Math.min(count, this.keep));
    const last = Math.floor(now / MINUTE);
    const out: ActivityMinute[] = [];
    for (let m = last - n + 1; m <= last; m++) {
      const c = this.minutes.get(m);
      out.push({ minute: new Date(m * MINUTE).toISOString(), received: c?.received ?? 0, delivered: c?.delivered ?? 0, deferred: c?.deferred ?? 0, bounced: c?.bounced ?? 0 });
    }
    return out;
  }
}

export interface Activity {
  /** the last `minutes` minutes (1–60), oldest first */
  series(minutes: number): ActivityMinute[];
  stop(): void;
}

/** Counts the running server's events until stopped. */
export function startActivity(now: () => number = Date.now): Activity {
  const counts = new MinuteCounts();
  const subscriptions: [string, (message: unknown) => void][] = [
    [channels.received, () => counts.add('received', now())],
    [channels.delivered, () => counts.add('delivered', now())],
    [channels.deferred, () => counts.add('deferred', now())],
    [channels.bounced, () => counts.add('bounced', now())],
    [channels.expired, () => counts.add('bounced', now())],
  ];
  for (const [name, fn] of subscriptions) diagnostics.subscribe(name, fn);
  return {
    series: (minutes) => counts.series(now(), minutes),
    stop: () => {
      for (const [name, fn] of subscriptions) diagnostics.unsubscribe(name, fn);
    },
  };
}
