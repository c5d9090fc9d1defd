/**
 * @module whole-message
 * Helpers for the intake steps that need the whole message: the end-of-data message checks
 * (SPF/DKIM/DMARC, policy/trust), ARC sealing of forwarded mail, and DKIM signing where the
 * store cannot prepend (MessageDraft.prepend). They need the body before the fields they add
 * can be written at the top, so a streamed body is collected (bounded by the message size
 * limit) before the draft is written; a body that arrived whole (the common SMTP case, up to
 * 64 KB) is used as it is, with no copy. Signing on a store that prepends streams instead
 * (intake-service.ts).
 * Standards: RFC 5322 §2.2, §2.2.3 (a field and its continuation lines).
 * Security: collection stops with 552 5.3.4 past the size limit, so at most one message's limit
 *   is held per transaction.
 * Limitations: a streamed message is held in memory while it is checked or sealed (mailauth's
 *   verifiers and sealer take the whole message).
 */
import type { Readable } from 'node:stream';
import { MailError, replies } from '../core/index.js';

/** Reads `body` whole; 552 5.3.4 once it passes `limit` octets (the stream is then destroyed). */
export async function collect(body: Readable, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) {
      body.destroy();
      throw new MailError(replies.messageTooBig(), 'MAIL_ERR_SIZE');
    }
    parts.push(b);
  }
  return Buffer.concat(parts, size);
}

/**
 * The raw header block without the fields `drop` names (by lower-case name and unfolded,
 * trimmed value); each field keeps its continuation lines. The block is returned as is when
 * nothing is dropped.
 */
export function dropFields(header: Buffer, drop: (name: string, value: string) => boolean): Buffer {
  const fields: { start: number; end: number }[] = [];
  let pos = 0;
  while (pos < header.length) {
    let lf = header.indexOf(0x0a, pos);
    lf = lf < 0 ? header.length : lf + 1;
    const first = header[pos];
    // RFC 5322 §2.2.3: a line starting with WSP continues the field before it
    if ((first === 0x20 || first === 0x09) && fields.length > 0) fields[fields.length - 1].end = lf;
    else fields.push({ start: pos, end: lf });
    pos = lf;
  }
  const kept: Buffer[] = [];
  let dropped = false;
  for (const f of fields) {
    const text = header.subarray(f.start, f.end).toString('latin1');
    const colon = text.indexOf(':');
    const name = colon > 0 ? text.slice(0, colon).trim().toLowerCase() : '';
    const value = colon > 0 ? text.slice(colon + 1).replace(/\r?\n[ \t]/g, ' ').trim() : '';
    if (name !== '' && drop(name, value)) dropped = true;
    else kept.push(header.subarray(f.start, f.end));
  }
  return dropped ? Buffer.concat(kept) : header;
}
