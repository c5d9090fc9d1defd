/**
 * @module event-source
 * JMAP push over EventSource (RFC 8620 §7.3): `GET /jmap/eventsource?types=…&closeafter=…&
 * ping=…` stays open and sends a `state` event (a StateChange object) whenever the account's
 * Mailbox or Email state changes — a delivery, a change over IMAP or POP3, or one made over
 * JMAP — and a `ping` event every `ping` seconds when asked.
 * Standards: RFC 8620 §7.1 (StateChange), §7.3 (EventSource: types, closeafter=state|no,
 *   ping in seconds, at least 30 if given); W3C Server-Sent Events.
 * Security: the account's own folders only; the stream ends when the server stops.
 * Limitations: changes are noticed through file-system watches of the folders that existed
 *   when the stream opened, and a check every 30 seconds for the rest.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { WebEnv } from '../http-auth.js';
import { problem } from '../problem.js';
import type { AccountSession } from './jmap-account.js';

export async function eventSource(c: Context<WebEnv>, account: AccountSession, closing: AbortSignal): Promise<Response> {
  const typesArg = c.req.query('types') ?? '*';
  const types = typesArg === '*' ? ['Mailbox', 'Email', 'Thread'] : typesArg.split(',');
  const closeAfter = c.req.query('closeafter') ?? 'no';
  const pingArg = c.req.query('ping') ?? '0';
  if (!/^\d+$/.test(pingArg) || !['state', 'no'].includes(closeAfter)) return problem(400, 'ping must be a number of seconds and closeafter "state" or "no"');
  const ping = Number(pingArg) === 0 ? 0 : Math.max(30, Number(pingArg));
  const initial = await account.view();
  let last = { Mailbox: initial.mailboxState, Email: initial.emailState };
  return streamSSE(c, async (stream) => {
    let wake: (() => void) | undefined;
    const nudge = (): void => wake?.();
    const stops = initial.mailboxes.map((m) => account.folders.watch(account.user, m.folder, nudge));
    const ended = new Promise<void>((resolve) => {
      stream.onAbort(resolve);
      if (closing.aborted) resolve();
      closing.addEventListener('abort', () => resolve(), { once: true });
    });
    let done = false;
    void ended.then(() => {
      done = true;
      nudge();
    });
    let nextPing = ping > 0 ? Date.now() + ping * 1000 : Infinity;
    try {
      while (!done) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(30_000, Math.max(0, nextPing - Date.now()))).unref();
        });
        if (done) break;
        account.changed();
        const v = await account.view();
        const now = { Mailbox: v.mailboxState, Email: v.emailState };
        if (now.Mailbox !== last.Mailbox || now.Email !== last.Email) {
          const changed: Record<string, string> = {};
          if (types.includes('Mailbox') && now.Mailbox !== last.Mailbox) changed.Mailbox = now.Mailbox;
          if (types.includes('Email') && now.Email !== last.Email) changed.Email = now.Email;
          if (types.includes('Thread') && now.Email !== last.Email) changed.Thread = now.Email;
          last = now;
          if (Object.keys(changed).length > 0) {
            await stream.writeSSE({ event: 'state', data: JSON.stringify({ '@type': 'StateChange', changed: { [account.accountId]: changed } }) });
            if (closeAfter === 'state') break;
          }
        }
        if (Date.now() >= nextPing) {
          await stream.writeSSE({ event: 'ping', data: JSON.stringify({ interval: ping }) });
          nextPing = Date.now() + ping * 1000;
        }
      }
    } finally {
      for (const stop of stops) stop();
    }
  });
}
