/**
 * @module transaction-commands
 * The POP3 commands of the TRANSACTION state over the session's maildrop snapshot: STAT, LIST,
 * UIDL, RETR, TOP, DELE, NOOP and RSET. The session (pop3-session.ts) owns the states, login,
 * QUIT and the connection; it hands these commands here once logged in.
 * Standards: RFC 1939 §5 (TRANSACTION state; DELE only marks, RSET unmarks), §7 (UIDL, TOP).
 * Security: a message number is checked against the snapshot (maildrop-snapshot.ts: no such
 *   message, or marked deleted) before anything is read or marked.
 * Limitations: none.
 */
import { pop3Responses, type Pop3Command, type Pop3Response } from '../../protocol/pop3/index.js';
import type { MaildropSnapshot, SnapshotMessage } from './maildrop-snapshot.js';

/** What a TRANSACTION command needs of its session besides the maildrop. */
export interface TransactionSession {
  /** queues a response */
  send(r: Pop3Response): void;
  /** sends a message (RETR), or its header and `bodyLines` lines of its body (TOP) */
  sendMessage(m: SnapshotMessage, bodyLines: number | undefined): Promise<void>;
}

/** Runs one command in the TRANSACTION state (RFC 1939 §5) on the session's `maildrop`. */
export async function transactionCommand(c: Pop3Command, maildrop: MaildropSnapshot, s: TransactionSession): Promise<void> {
  switch (c.verb) {
    case 'STAT': {
      const live = maildrop.live();
      return s.send(pop3Responses.stat(live.count, live.size));
    }
    case 'LIST': {
      if (c.msg !== undefined) {
        const m = maildrop.pick(c.msg);
        return 'key' in m ? s.send(pop3Responses.scanListing(c.msg, m.size)) : s.send(m);
      }
      const live = maildrop.live();
      return s.send(pop3Responses.scanListings(live.count, live.size, maildrop.listing('size')));
    }
    case 'UIDL': {
      if (c.msg !== undefined) {
        const m = maildrop.pick(c.msg);
        return 'key' in m ? s.send(pop3Responses.uidListing(c.msg, m.uid)) : s.send(m);
      }
      return s.send(pop3Responses.uidListings(maildrop.listing('uid')));
    }
    case 'RETR':
    case 'TOP': {
      const m = maildrop.pick(c.msg);
      if (!('key' in m)) return s.send(m);
      return s.sendMessage(m, c.verb === 'TOP' ? c.lines : undefined);
    }
    case 'DELE': {
      const m = maildrop.pick(c.msg);
      if (!('key' in m)) return s.send(m);
      m.deleted = true;
      return s.send(pop3Responses.deleted(c.msg));
    }
    case 'NOOP':
      return s.send(pop3Responses.noop());
    case 'RSET': {
      maildrop.reset();
      return s.send(pop3Responses.reset(maildrop.count, maildrop.size));
    }
    default:
      // USER, PASS, AUTH, STLS after login
      return s.send(pop3Responses.badState());
  }
}
