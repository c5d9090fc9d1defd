/**
 * @module idle-command
 * IDLE: the selected mailbox's updates are sent as they happen until the client says DONE.
 * Standards: RFC 2177 (IDLE), RFC 9051 §6.3.13 (IDLE), §5.4 (an IDLE session is not idle:
 *   clients re-issue IDLE within 29 minutes).
 * Security: the only line accepted during IDLE is DONE; anything else ends it with BAD.
 * Limitations: changes by other processes are seen through the store's watch and a periodic
 *   check (`idlePollMs`).
 */
import { CLOSED, INTERRUPTED, LONG, TIMEOUT, type LineConnection } from '../connection/index.js';
import { maxLine } from './command-reader.js';
import { ExchangeEnded } from './session-auth.js';
import type { SelectedMailbox } from './selected-mailbox.js';
import { bad, ok, type ImapSessionContext, type TaggedResult } from './session-types.js';

export interface IdleHost {
  readonly conn: LineConnection;
  readonly ctx: ImapSessionContext;
  readonly user: string;
  selected: SelectedMailbox | undefined;
  /** while true, a change told by the hub interrupts the wait for DONE */
  idling: boolean;
}

export async function idle(host: IdleHost): Promise<TaggedResult | undefined> {
  const { conn, ctx } = host;
  const sel = host.selected;
  conn.queue('+ idling\r\n');
  host.idling = true;
  const stopWatch = sel ? ctx.folders.watch(host.user, sel.folder, () => ((sel.dirty = true), conn.interrupt())) : undefined;
  const poll = setInterval(() => conn.interrupt(), ctx.idlePollMs);
  try {
    for (;;) {
      if (sel && host.selected === sel) {
        for (const line of await sel.refresh(true)) conn.queue(`${line}\r\n`);
      }
      conn.flush();
      // RFC 9051 §5.4: an IDLE session is not idle; clients re-issue IDLE within 29 minutes
      const line = await conn.readLine(maxLine, 24 * 3600_000);
      if (line === INTERRUPTED) continue;
      if (line === CLOSED || line === TIMEOUT) throw new ExchangeEnded();
      if (line === LONG) return bad('Expected DONE');
      return line.toString('latin1').toUpperCase() === 'DONE' ? ok('IDLE terminated') : bad('Expected DONE');
    }
  } finally {
    host.idling = false;
    clearInterval(poll);
    stopWatch?.();
  }
}
