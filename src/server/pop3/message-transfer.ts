/**
 * @module message-transfer
 * RETR and TOP: one stored message sent dot-stuffed (all of it, or the header and the first n
 * body lines), at the pace the client reads it.
 * Standards: RFC 1939 §3 (multi-line responses: dot-stuffing), §7 (TOP), §3 (autologout while
 *   the client does not read).
 * Security: a client that stops reading is dropped after the autologout time; a message that
 *   fails half-way drops the connection, so the client cannot take a truncated message for a
 *   whole one (and no UPDATE runs).
 * Limitations: none known.
 */
import type { Readable } from 'node:stream';
import { Pop3DotStuffer, pop3Responses, type Pop3Response } from '../../protocol/pop3/index.js';

export interface TransferIo {
  /** opens the stored message */
  readonly open: () => Promise<Readable>;
  /** queues a response line */
  readonly send: (r: Pop3Response) => void;
  /** writes now; false if the client never takes more */
  readonly write: (data: Buffer) => Promise<boolean>;
  readonly closed: () => boolean;
  /** ends the connection without UPDATE */
  readonly drop: () => void;
}

/**
 * Sends a message of `size` octets, or its header and `bodyLines` body lines (TOP). A chunk of
 * the message is read only once the last one is written and the client has taken it (`write`
 * waits for the socket to drain): no stream between the store and the socket reads ahead, so
 * a transfer holds what the store read last, however slowly the client reads. Chunks held
 * longer (in a Transform's and a pipe's buffers) outlived scavenges and piled up in the old
 * generation until a full collection (issue 17, t-96).
 */
export async function transferMessage(io: TransferIo, size: number, bodyLines: number | undefined): Promise<void> {
  let src: Readable;
  try {
    src = await io.open();
  } catch {
    return io.send(pop3Responses.localError());
  }
  const stuffer = new Pop3DotStuffer(bodyLines === undefined ? {} : { bodyLines });
  const it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let next: IteratorResult<Buffer>;
  try {
    // Read the first chunk before answering, so an unreadable message still gets -ERR.
    next = await it.next();
  } catch {
    src.destroy();
    return io.send(pop3Responses.localError());
  }
  io.send(bodyLines === undefined ? pop3Responses.retrieving(size) : pop3Responses.topFollows());
  try {
    for (;;) {
      // TOP stops reading once its lines are out
      const last = next.done === true || stuffer.complete;
      const out = last ? stuffer.finish() : [stuffer.stuff(next.value)];
      for (const b of out) {
        // a client that stops reading is dropped after the autologout time (RFC 1939 §3)
        if (b && (!(await io.write(b)) || io.closed())) {
          src.destroy();
          io.drop();
          return;
        }
      }
      if (last) break;
      next = await it.next();
    }
    src.destroy();
  } catch {
    // The +OK is out: a half-sent message cannot be turned into an -ERR. Drop the connection
    // (no UPDATE), so the client knows the transfer failed.
    src.destroy();
    io.drop();
  }
}
