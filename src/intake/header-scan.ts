/**
 * @module header-scan
 * Reads a message's header block from the front of a body stream, bounded in size, so intake
 * can decide what to prepend (Received, Delivered-To, Message-ID, Date) before the first byte
 * is written to the spool. The rest of the stream is left unread for piping.
 * Standards: RFC 5322 §2.2 (header fields), §2.2.3 (folding).
 * Security: the header block is capped (maxHeaderBytes); past it, scanning stops and the bytes
 *   are passed through unexamined, so a hostile client cannot make intake buffer a message.
 * Limitations: header names are matched case-insensitively on unfolded lines only.
 */
import type { Readable } from 'node:stream';

export interface HeaderScan {
  /** the bytes read so far (header block and possibly the start of the body) */
  readonly head: Buffer;
  /** unfolded header fields found in the header block, in order */
  readonly fields: readonly { name: string; value: string }[];
  /** whether the end of the header block was seen within the cap */
  readonly complete: boolean;
  /** whether the stream ended while reading */
  readonly ended: boolean;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Reads from `body` until the end of the header block, the cap, or the end of the stream. */
export async function scanHeader(body: Readable, maxHeaderBytes = 256 * 1024): Promise<HeaderScan> {
  const chunks: Buffer[] = [];
  let total = 0;
  let end = -1;
  let ended = false;
  // A message that starts with CRLF has an empty header block (RFC 5322 §2.1).
  for (;;) {
    const chunk = await readChunk(body);
    if (chunk === null) {
      ended = true;
      break;
    }
    chunks.push(chunk);
    total += chunk.length;
    const head = Buffer.concat(chunks, total);
    if (head.length >= 2 && head[0] === 0x0d && head[1] === 0x0a) {
      end = 0;
      break;
    }
    const i = head.indexOf(CRLFCRLF, Math.max(0, total - chunk.length - 3));
    if (i >= 0) {
      end = i + 2;
      break;
    }
    if (total >= maxHeaderBytes) break;
  }
  const head = Buffer.concat(chunks, total);
  const headerText = head.subarray(0, end >= 0 ? end : head.length).toString('latin1');
  return { head, fields: parseFields(headerText), complete: end >= 0 || ended, ended };
}

function readChunk(stream: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const direct = stream.read() as Buffer | string | null;
    if (direct !== null) {
      resolve(typeof direct === 'string' ? Buffer.from(direct, 'latin1') : direct);
      return;
    }
    if (stream.readableEnded) {
      resolve(null);
      return;
    }
    const cleanup = (): void => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onReadable = (): void => {
      const c = stream.read() as Buffer | string | null;
      if (c === null) return;
      cleanup();
      resolve(typeof c === 'string' ? Buffer.from(c, 'latin1') : c);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(null);
    };
    const onClose = (): void => {
      cleanup();
      if (stream.readableEnded) resolve(null);
      else reject(new Error('message stream closed before its end'));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/** Unfolded `name: value` pairs from a header block (CRLF lines). */
export function parseFields(text: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const line of text.split('\r\n')) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && out.length > 0) {
      out[out.length - 1].value += ' ' + line.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
  }
  return out;
}
