/**
 * @module event-text
 * One JSON text per published mail event, shared by the subscribers that write it: the mail
 * log's line, its tail ring, the delivery history and an acceptor's notice each used to
 * serialise the same event again (issue 11: three times per history event, ~5 KB allocated per
 * accepted message). diagnostics_channel calls an event's subscribers one after the other in
 * the publish, so the text of the last event asked for is all that needs keeping.
 * Standards: none (RFC 8259 JSON, as JSON.stringify writes it).
 * Security: the text holds what the event holds (addresses, replies; never bodies or passwords).
 * Limitations: relies on publishers not changing an event once published (core/events.ts); the
 *   last event stays reachable until the next one is asked for.
 */
import { relayedJson } from '../core/index.js';

let lastEvent: object | undefined;
let lastText: string | undefined;

/**
 * `JSON.stringify(event)`, made once however many subscribers ask for it during its publish:
 * an acceptor's event as it came (core/events.ts relayedJson), otherwise serialised here.
 * Undefined when JSON cannot write it (a cycle, a BigInt) or writes nothing.
 */
export function eventText(event: object): string | undefined {
  if (event === lastEvent) return lastText;
  const given = (event as { [relayedJson]?: unknown })[relayedJson];
  let text: string | undefined;
  if (typeof given === 'string') text = given;
  else {
    try {
      text = JSON.stringify(event);
    } catch {
      text = undefined;
    }
  }
  lastEvent = event;
  lastText = text;
  return text;
}
