/**
 * @module mail-log
 * The mail log: one line per event (received, queued, delivered, deferred, bounced, rejected,
 * expired) and counters for metrics, fed by diagnostics_channel so that core code never imports
 * the logger.
 * Standards: none (operator convention: one greppable line per event, keyed by queue id).
 * Security: logs addresses and replies, never message bodies or passwords.
 * Limitations: metrics and the in-memory tail are per process; several nodes each expose their own.
 *   An acceptor process's events reach the server's counters and tail relayed (relayedEvent);
 *   their lines are the acceptor's own, and its own mail log keeps neither (`keep: false`).
 */
import diagnostics from 'node:diagnostics_channel';
import { symbols } from 'pino';
import { Counter, Registry } from 'prom-client';
import { channels, relayedEvent } from '../core/index.js';
import { eventText } from './event-text.js';
import { TailRing } from './tail-ring.js';

export interface LineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  /** pino's: with them and an output, the mail log writes its events' lines itself (pinoLineWriter) */
  isLevelEnabled?(level: string): boolean;
  readonly levels?: { readonly values: Readonly<Record<string, number>> };
}

/** Where the logger writes its lines (the BatchedOutput it was made with). */
export interface LineOutput {
  write(line: string): unknown;
}

type Level = 'info' | 'warn' | 'error';

/**
 * Writes an event's line as pino writes `logger[level](fields, msg)` (the level, the time, the
 * logger's bindings, the fields, msg), from the fields' JSON text already made (event-text.ts)
 * rather than serialising each field again as pino does. Undefined when `logger` is not pino's.
 * The fields' text is pino's: both skip undefined and function values and write non-finite
 * numbers as null; events carry no `err` (pino's serializer) and this logger has no formatters.
 */
function pinoLineWriter(logger: LineLogger, output: LineOutput): ((level: Level, fields: string, msg: string) => boolean) | undefined {
  const levels = logger.levels;
  // the bindings' text pino writes after the time (`,"hostname":…`; bindings() leaves hostname out)
  const chindings = (logger as { [symbols.chindingsSym]?: unknown })[symbols.chindingsSym];
  if (logger.isLevelEnabled === undefined || levels === undefined || typeof chindings !== 'string') return undefined;
  const head = (l: Level): string => `{"level":${levels.values[l]},"time":`;
  const heads: Record<Level, string> = { info: head('info'), warn: head('warn'), error: head('error') };
  const enabled = logger.isLevelEnabled.bind(logger);
  return (level, fields, msg) => {
    if (!enabled(level)) return true;
    if (fields.charCodeAt(0) !== 0x7b) return false;
    const rest = fields.length > 2 ? `${chindings},${fields.slice(1, -1)}` : chindings;
    output.write(`${heads[level]}${Date.now()}${rest},"msg":${JSON.stringify(msg)}}\n`);
    return true;
  };
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

/** What a mail log keeps besides its lines. */
export interface MailLogOptions {
  /**
   * false: lines only, no counters and no tail (an acceptor process: it serves neither /metrics
   * nor the admin API, and the server counts and keeps its events, relayed: app/acceptor-events.ts).
   * Default true.
   */
  readonly keep?: boolean;
}

/**
 * Subscribes to every correio channel; logs each event and (unless `keep` is false) counts it
 * and keeps it in the tail. With `output` (where the pino `logger` writes), an event's line is
 * written there from its one JSON text.
 */
export function startMailLog(logger: LineLogger, output?: LineOutput, { keep = true }: MailLogOptions = {}): MailLog {
  const registry = new Registry();
  const events = keep
    ? new Counter({
      name: 'correio_events_total',
      help: 'Mail events by kind (received, queued, delivered, deferred, bounced, expired, rejected)',
      labelNames: ['event'],
      registers: [registry],
    })
    : undefined;
  const unsubs: (() => void)[] = [];
  // the last TAIL_LINES events, so the console can show recent activity without reading the
  // log files (which may be journald's); kept as JSON text outside the heap (tail-ring.ts)
  const ring = keep ? new TailRing(TAIL_LINES) : undefined;
  const writeLine = output && pinoLineWriter(logger, output);
  for (const name of eventNames) {
    // a connection is only counted
    if (name === 'connection' && !keep) continue;
    const channel = channels[name];
    const handler = (message: unknown): void => {
      events?.inc({ event: name });
      if (name === 'connection') return;
      const raw = typeof message === 'object' && message !== null ? (message as Record<string, unknown>) : { message };
      // an Error serialises as {} in JSON: the log carries its message (docs/logging.md)
      const obj = raw.error instanceof Error ? { ...raw, error: raw.error.message } : raw;
      // one text for the line, the ring and the history (event-text.ts; an acceptor's as it came)
      const text = eventText(obj);
      ring?.add(Date.now(), name, obj, text);
      // an acceptor process's event, logged there already (core/events.ts relayedEvent)
      if (relayedEvent in raw) return;
      const level: Level = name === 'error' ? 'error' : name === 'deferred' || name === 'bounced' || name === 'expired' || name === 'rejected' ? 'warn' : 'info';
      if (writeLine === undefined || text === undefined || !writeLine(level, text, name)) logger[level](obj, name);
    };
    diagnostics.subscribe(channel, handler);
    unsubs.push(() => diagnostics.unsubscribe(channel, handler));
  }
  return {
    registry,
    tail: (lines) => ring?.tail(lines) ?? [],
    stop: () => {
      for (const u of unsubs) u();
    },
  };
}
