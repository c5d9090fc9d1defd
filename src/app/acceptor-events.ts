/**
 * @module acceptor-events
 * The mail events an SMTP acceptor process publishes (`[smtp] processes`, issue 19), told to
 * the server: the acceptor collects them (collectEvents) and sends them with its next notice
 * (acceptor-process.ts, with the envelopes they are about, events first); the server publishes
 * each again on its own channels (republish), marked relayedEvent, so that its /metrics
 * (messages received, rejections, connections, AUTH failures, DNS lookups), the delivery
 * history (`correio trace`), the dashboard's activity and the admin log tail count the
 * acceptors' sessions as they count the server's own. The acceptor writes the mail-log lines
 * of its events itself; the server's mail log does not write them again (log/mail-log.ts).
 * Standards: none.
 * Security: the events as published (addresses and replies, never bodies or passwords); an
 *   Error travels as its message.
 * Limitations: events published in the acceptor's last moment (killed) may not reach the
 *   server: its counters can miss them, never mail.
 */
import diagnostics from 'node:diagnostics_channel';
import { channels, relayedEvent, relayedJson } from '../core/index.js';
import { eventText } from '../log/index.js';

/** The channels relayed: what an SMTP session and its intake publish. */
export const relayed = ['received', 'queued', 'rejected', 'connection', 'error', 'authFailure', 'dnsLookup'] as const;
type RelayedName = (typeof relayed)[number];

/**
 * One event: its channel's key in `channels`, its fields and (when JSON can write them) their
 * JSON text: the acceptor's mail log line's (log/event-text.ts), sent as it is (acceptor-notice.ts)
 * and written as it came by the server's history.
 */
export type RelayedEvent = [name: RelayedName, fields: Record<string, unknown>, json?: string];

/**
 * Subscribes to the relayed channels; `onEvent` gets each event as it can be sent over IPC (an
 * Error field as its message). Returns the unsubscribe.
 */
export function collectEvents(onEvent: (e: RelayedEvent) => void): () => void {
  const subs = relayed.map((name) => {
    const fn = (message: unknown): void => {
      if (typeof message !== 'object' || message === null) return;
      const given = message as Record<string, unknown>;
      const fields = given.error instanceof Error ? { ...given, error: given.error.message } : given;
      // the text the mail log wrote in this publish (log/event-text.ts), sent as it is
      onEvent([name, fields, eventText(fields)]);
    };
    diagnostics.subscribe(channels[name], fn);
    return () => diagnostics.unsubscribe(channels[name], fn);
  });
  return () => {
    for (const u of subs) u();
  };
}

/** each relayed channel, looked up once */
const channelOf = new Map(relayed.map((name) => [name, diagnostics.channel(channels[name])]));

/**
 * Publishes an acceptor's events on this process's channels, each marked relayedEvent (on the
 * decoded object itself: it is this call's, fresh from the notice, so no copy is made) and,
 * while it is published, carrying its JSON text as received (relayedJson: the history and
 * the log's tail keep it rather than serialising the object again, log/event-text.ts; cleared
 * after, so the object does not carry the text once published).
 */
export function republish(events: readonly RelayedEvent[] | undefined): void {
  for (const [name, fields, json] of events ?? []) {
    const ch = channelOf.get(name);
    if (ch === undefined || typeof fields !== 'object' || fields === null || !ch.hasSubscribers) continue;
    const f = fields as Record<PropertyKey, unknown>;
    f[relayedEvent] = true;
    if (json === undefined) ch.publish(fields);
    else {
      f[relayedJson] = json;
      ch.publish(fields);
      f[relayedJson] = undefined;
    }
  }
}
