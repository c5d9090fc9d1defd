/**
 * @module report-timer
 * The daily reports sent by `correio serve` itself (`[reports] send_tls`, `send_dmarc`): once a
 * day at `send_at` (UTC) the reports of the day before go out exactly as `correio tls-report
 * send` and `correio dmarc-report send` send them (daily-reports.ts); a server started after
 * that time sends the day before's at once (a restart or a stopped night loses nothing, and the
 * store's "sent" marks keep anything from going twice).
 * Standards: RFC 8460 §4.1 (a report covers one UTC day; sent daily), RFC 7489 §7.2 (the
 *   aggregate reports' default interval is a day).
 * Security: the same paths as the commands; a failing run is logged and tried at the next.
 * Limitations: the settings are read at each run (a reload that turns a kind off takes effect
 *   at the next run; a changed `send_at` at the one after); one run at a time.
 */
import type { Config } from '../config/index.js';
import type { Clock } from '../core/index.js';
import type { Backends } from './backends.js';
import { sendDmarcReports, sendTlsReports } from './daily-reports.js';

const DAY = 86_400_000;

/** The first instant after `now` whose UTC time of day is `minutes` after midnight. */
export function nextRunAt(now: number, minutes: number): number {
  const today = Math.floor(now / DAY) * DAY + minutes * 60_000;
  return today > now ? today : today + DAY;
}

/** "YYYY-MM-DD" of the UTC day before the one `now` falls in. */
export function previousDay(now: number): string {
  return new Date(Math.floor(now / DAY) * DAY - DAY).toISOString().slice(0, 10);
}

export interface ReportTimerOptions {
  /** the live configuration (it may change on reload) */
  readonly config: () => Config;
  readonly backends: Backends;
  readonly clock: Clock;
  /** one line of what a run did */
  readonly log: (kind: 'tls' | 'dmarc', line: string) => void;
  /** timers; tests give their own (default setTimeout) */
  readonly setTimer?: (fn: () => void, ms: number) => { clear(): void };
}

export class ReportTimer {
  private timer: { clear(): void } | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: ReportTimerOptions) {}

  /** Schedules the next run; runs at once for the day before when today's time has passed. */
  start(): void {
    const c = this.o.config();
    if (!c.reports.sendTls && !c.reports.sendDmarc) return;
    const now = this.o.clock.now();
    if (now >= Math.floor(now / DAY) * DAY + c.reports.sendAt * 60_000) void this.run();
    else this.schedule();
  }

  /** Sends the enabled reports of the day before `clock.now()`, then schedules the next run. */
  run(): Promise<void> {
    this.running ??= this.sendDue().finally(() => {
      this.running = undefined;
      this.schedule();
    });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.clear();
    await this.running;
  }

  private schedule(): void {
    this.timer?.clear();
    const c = this.o.config();
    if (this.stopped || (!c.reports.sendTls && !c.reports.sendDmarc)) return;
    const now = this.o.clock.now();
    const set = this.o.setTimer ?? ((fn: () => void, ms: number) => {
      const t = setTimeout(fn, ms);
      t.unref();
      return { clear: () => clearTimeout(t) };
    });
    this.timer = set(() => void this.run(), nextRunAt(now, c.reports.sendAt) - now);
  }

  private async sendDue(): Promise<void> {
    const c = this.o.config();
    const day = previousDay(this.o.clock.now());
    const kinds = [...(c.reports.sendTls ? [['tls', sendTlsReports] as const] : []), ...(c.reports.sendDmarc ? [['dmarc', sendDmarcReports] as const] : [])];
    for (const [kind, send] of kinds) {
      try {
        for (const line of await send(c, this.o.backends, day)) this.o.log(kind, line);
      } catch (err) {
        this.o.log(kind, `the reports for ${day} failed: ${(err as Error).message}; tried again at the next run`);
      }
    }
  }
}
