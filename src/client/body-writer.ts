/**
 * @module body-writer
 * The DATA body of the SMTP client (smtp-client.ts): read from the spool piece by piece,
 * dot-stuffed piece by piece and written with the socket's backpressure (a full socket is waited
 * for before the next piece is read), so a big message is never held whole; pieces that need
 * stuffing share one buffer (dot-stuffer.ts). Corked, a small body and its terminator leave in
 * one writev.
 * Standards: RFC 5321 §4.5.2 (transparency), §4.1.1.4 (a transaction completes only on
 *   <CRLF>.<CRLF>), §4.5.3.2.5 (data block timeout).
 * Security: after a partial body the final "." is never sent: the session is dropped, so the
 *   server discards the transaction instead of taking a cut message.
 * Limitations: none.
 */
import type net from 'node:net';
import type { Readable } from 'node:stream';
import { nextChunk } from '../util/index.js';
import { DotStuffer } from './dot-stuffer.js';
import { SmtpClientError } from './smtp-client-types.js';

/** What the body writer needs of its session. */
export interface BodySession {
  /** false once the connection was closed, dropped or broken */
  readonly usable: boolean;
  /** drops the connection at once */
  close(): void;
}

/**
 * Writes a transaction's body after the 354: opened by `open`, dot-stuffed and ended with
 * <CRLF>.<CRLF>; the octets written (after stuffing). Any failure (the body cannot be read, the
 * socket closed or stuck for `dataBlockMs`) closes the session and throws SmtpClientError.
 */
export async function writeBody(
  socket: net.Socket,
  open: () => Readable | Promise<Readable>,
  session: BodySession,
  dataBlockMs: number,
): Promise<number> {
  const stuffer = new DotStuffer();
  let body: Readable;
  try {
    body = await open();
  } catch (err) {
    session.close();
    throw new SmtpClientError('body', `cannot open message: ${(err as Error).message}`, undefined, { cause: err });
  }
  let bodyError: unknown;
  body.once('error', (err) => (bodyError ??= err));
  // Corked, the body's chunks and the terminator leave in one writev (one segment train)
  // instead of one write each; uncorked only to wait for the socket to drain.
  socket.cork();
  try {
    // no stream pipeline: the stuffer is called directly (one piece in, one piece out);
    // read() rather than an async iterator: a body held in memory is read with no wait
    for (let chunk = await nextChunk(body); chunk !== null; chunk = await nextChunk(body)) {
      if (!session.usable) throw new SmtpClientError('closed', 'connection closed during DATA');
      const out = stuffer.stuff(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk);
      if (!socket.write(out)) {
        socket.uncork();
        await drain(socket, session, dataBlockMs);
        // written out: the stuffer's buffer serves the next piece (a big body through one buffer)
        stuffer.drained();
        socket.cork();
      }
    }
    if (!session.usable) throw new SmtpClientError('closed', 'connection closed during DATA');
    socket.write(stuffer.finish());
    socket.uncork();
  } catch (err) {
    socket.uncork();
    body.destroy();
    // Never send the final "." after a partial body: drop the session so the server
    // discards the transaction (RFC 5321 §4.1.1.4 completes only on <CRLF>.<CRLF>).
    session.close();
    if (err instanceof SmtpClientError) throw err;
    throw new SmtpClientError('body', `reading the message failed: ${((bodyError ?? err) as Error).message}`, undefined, {
      cause: bodyError ?? err,
    });
  }
  return stuffer.bytesOut;
}

/** Waits for the socket to drain; a close or `dataBlockMs` without a drain fails (and closes the session). */
async function drain(s: net.Socket, session: BodySession, dataBlockMs: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      done();
      session.close();
      reject(new SmtpClientError('timeout', 'timeout sending data block'));
    }, dataBlockMs);
    const onDrain = (): void => {
      done();
      resolve();
    };
    const onClose = (): void => {
      done();
      reject(new SmtpClientError('closed', 'connection closed during DATA'));
    };
    const done = (): void => {
      clearTimeout(timer);
      s.off('drain', onDrain);
      s.off('close', onClose);
    };
    s.on('drain', onDrain);
    s.on('close', onClose);
  });
}
