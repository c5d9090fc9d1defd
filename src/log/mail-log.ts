/**
 * @module mail-log
 * The mail log: one line per event (received, queued, delivered, deferred, bounced, rejected,
 * expired) and counters for metrics, fed by diagnostics_channel so that core code never imports
 * the logger.
 * Standards: none (operator convention: one greppable line per event, keyed by queue id).
 * Security: logs addresses and replies, never message bodies or passwords.
 * Limitations: metrics are per process; several nodes each expose their own.
 */
import diagnostics from 'node:diagnostics_channel';
import { Counter, Registry } from 'prom-client';
import { channels } from '../core/index.js';

export interface LineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface MailLog {
  readonly registry: Registry;
  stop(): void;
}

const eventNames = ['received', 'queued', 'delivered', 'deferred', 'bounced', 'expired', 'rejected', 'connection', 'error'] as const;

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
  for (const name of eventNames) {
    const channel = channels[name];
    const handler = (message: unknown): void => {
      events.inc({ event: name });
      if (name === 'connection') return;
      const obj = (typeof message === 'object' && message !== null ? message : { message });
      if (name === 'error') logger.error(obj, name);
      else if (name === 'deferred' || name === 'bounced' || name === 'expired' || name === 'rejected') logger.warn(obj, name);
      else logger.info(obj, name);
    };
    diagnostics.subscribe(channel, handler);
    unsubs.push(() => diagnostics.unsubscribe(channel, handler));
  }
  return {
    registry,
    stop: () => {
      for (const u of unsubs) u();
    },
  };
}
