/**
 * @module mail-log
 * The mail log: one line per event (received, queued, delivered, deferred, bounced, rejected,
 * expired) and counters for metrics, fed by diagnostics_channel so that core code never imports
 * the logger.
 * Standards: none (operator convention: one greppable line per event, keyed by queue id).
 * Security: logs addresses and replies, never message bodies or passwords.
 * Limitations: metrics and the in-memory tail are per process; several nodes each expose their own.
 *   An acceptor process's events reach the server's counters and tail relayed (relayedEvent);
 *   their lines are the acceptor's own.
 */
import diagnostics from 'node:diagnostics_channel';
import { Counter, Registry } from 'prom-client';
import { channels, relayedEvent, relayedJson } from '../core/index.js';
import { TailRing } from './tail-ring.js';

export interface LineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface MailLog {
  readonly registry: Registry;
  /** the last `lines` events (at most TAIL_LINES), oldest first, one JSON line each (the admin API's log tail) */
  tail(lines: number): string[];
  stop(): void;
}

/** Events the mail log keeps in memory for its tail. */
export const TAIL_LINES = 1000;

const eventNames = ['received', 'queued', 'delivered', 'deferred', 'bounced', 'expired', 'rejected', 'connection', 'error', 'admin'] as const;

/** Subscribes to every correio channel; logs each event and counts it. */
export function startMailLog(logger: LineLogger): MailLog {
  const registry = new Registry();
  const events = new Counter({
    name: 'correio_events_total',
    help: 'Mail events by kind (received, queued, delivered, deferred, bounced, expired, rejected)',
    labelNames: ['event'],
    registers: [registry],
  });
  const unsubs: (() => void)[] = [];
  // the last TAIL_LINES events, so the console can show recent activity without reading the
  // log files (which may be journald's); kept as JSON text outside the heap (tail-ring.ts)
  const ring = new TailRing(TAIL_LINES);
  for (const name of eventNames) {
    const channel = channels[name];
    const handler = (message: unknown): void => {
      events.inc({ event: name });
      if (name === 'connection') return;
      const raw = typeof message === 'object' && message !== null ? (message as Record<string, unknown>) : { message };
      // an Error serialises as {} in JSON: the log carries its message (docs/logging.md)
      const obj = raw.error instanceof Error ? { ...raw, error: raw.error.message } : raw;
      // an acceptor's event comes with its text (core/events.ts relayedJson): not serialised again
      const given = (raw as { [relayedJson]?: unknown })[relayedJson];
      ring.add(Date.now(), name, obj, typeof given === 'string' && obj === raw ? given : undefined);
      // an acceptor process's event, logged there already (core/events.ts relayedEvent)
      if (relayedEvent in raw) return;
      if (name === 'error') logger.error(obj, name);
      else if (name === 'deferred' || name === 'bounced' || name === 'expired' || name === 'rejected') logger.warn(obj, name);
      else logger.info(obj, name);
    };
    diagnostics.subscribe(channel, handler);
    unsubs.push(() => diagnostics.unsubscribe(channel, handler));
  }
  return {
    registry,
    tail: (lines) => ring.tail(lines),
    stop: () => {
      for (const u of unsubs) u();
    },
  };
}
