/**
 * @module dsn
 * Composes delivery status notifications: a multipart/report message with a plain-English
 * explanation, the machine-readable message/delivery-status, and the original message's
 * header block (or the whole message when RET=FULL), streamed from the spool. The two text
 * parts are written by dsn-parts.ts.
 * Standards: RFC 3464 §2 (DSN format: per-message and per-recipient fields), §2.1.2-§2.1.3
 *   (message/delivery-status is 7bit), RFC 6522 (multipart/report; obsoletes RFC 3462), RFC 3461
 *   §4.2-§4.4 (NOTIFY, RET, ENVID, ORCPT carried into the DSN), §6 (content returned), RFC 6533
 *   (message/global-delivery-status, message/global-headers, message/global, "utf-8" address
 *   type with \x{HEX} in 7-bit form), RFC 6532 §3.7 (message/global), RFC 3834 §5
 *   (Auto-Submitted: auto-replied), RFC 2046 §5.1.1 (boundaries), RFC 5322 §2.1.1 (line limits).
 * Security: the original is streamed, never held whole; only its header block (capped) is
 *   read into memory for RET=HDRS. Remote reply text is untrusted: control characters are
 *   removed and, outside SMTPUTF8, non-ASCII is replaced, so it cannot add fields or lines.
 *   The boundary is 144 random bits, so the returned message cannot end the report early.
 * Limitations: a BINARYMIME original is returned as headers only (message/rfc822 cannot carry
 *   binary over 8BITMIME); a 7BIT-declared original containing 8-bit octets is returned as is.
 */
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { foldHeader, headerBlockOf } from './header-block.js';
import { formatDate } from './trace-headers.js';
import { formatDeliveryStatus, formatHumanText, isAscii, type DsnInput } from './dsn-parts.js';
import { QpEncoder } from './transfer-encoders.js';

const subjects: Record<DsnInput['kind'], string> = {
  failure: 'Undelivered Mail Returned to Sender',
  delay: 'Delayed Mail (still being retried)',
  success: 'Successful Mail Delivery Report',
};

/** Whether the composed report may contain 8-bit octets (declare BODY=8BITMIME for it). */
export function dsnIsEightBit(input: Pick<DsnInput, 'smtpUtf8' | 'originalBody'>): boolean {
  return input.smtpUtf8 === true || (input.originalBody !== undefined && input.originalBody !== '7BIT');
}

// ---------------------------------------------------------------------------------------------
// the message

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

function has8bit(buf: Buffer): boolean {
  for (const b of buf) if (b > 0x7f) return true;
  return false;
}

/**
 * The whole DSN message, CRLF line ends, streamed. The original is opened (input.original())
 * only when the stream is read; a failure to open or read it errors the stream.
 */
export function composeDsn(input: DsnInput): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    const global = input.smtpUtf8 === true;
    const eightBitOk = dsnIsEightBit(input);
    const boundary = `=_correio_${randomBytes(18).toString('base64url')}`;
    const full = input.ret === 'FULL' && input.originalBody !== 'BINARYMIME';

    // RET=HDRS: the header block is small and capped; read it first so its encoding is known.
    let headers: Buffer | undefined;
    if (!full) headers = await readAll(headerBlockOf(await input.original()));

    const text = formatHumanText(input, full ? 'full' : 'headers');
    const status = formatDeliveryStatus(input);
    const textIsAscii = isAscii(text);
    const statusIsAscii = isAscii(status);
    const headersAre8bit = headers !== undefined && has8bit(headers);

    const top: string[] = [
      foldHeader('From', `Mail Delivery System <${input.from}>`),
      foldHeader('To', `<${input.to}>`),
      foldHeader('Subject', subjects[input.kind]),
      foldHeader('Date', formatDate(input.date, input.zoneOffset)),
      foldHeader('Message-ID', input.messageId.startsWith('<') ? input.messageId : `<${input.messageId}>`),
    ];
    const orig = input.originalMessageId?.trim();
    if (orig && /^<[^<>\s]+>$/.test(orig) && isAscii(orig)) {
      top.push(foldHeader('In-Reply-To', orig), foldHeader('References', orig));
    }
    top.push(
      // RFC 3834 §5: a report about a message is an automatic response to it
      'Auto-Submitted: auto-replied',
      'MIME-Version: 1.0',
      foldHeader(
        'Content-Type',
        `multipart/report; report-type=delivery-status; boundary="${boundary}"`,
      ),
      `Content-Transfer-Encoding: ${eightBitOk ? '8bit' : '7bit'}`,
    );
    let head = top.join('\r\n') + '\r\n\r\nThis is a MIME-encapsulated message.\r\n';

    // part 1: text/plain
    head += `\r\n--${boundary}\r\nContent-Description: Notification\r\n`;
    if (textIsAscii) {
      head += 'Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n' + text;
    } else if (eightBitOk) {
      head += 'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n' + text;
    } else {
      head +=
        'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
        encodeQuotedPrintable(Buffer.from(text.replace(/\r\n$/, ''), 'utf8')) +
        '\r\n';
    }

    // part 2: message/delivery-status (RFC 3464 §2.1.2: 7bit; RFC 6533 §6.2: the global form)
    head += `\r\n--${boundary}\r\nContent-Description: Delivery report\r\n`;
    head += global
      ? `Content-Type: message/global-delivery-status\r\nContent-Transfer-Encoding: ${statusIsAscii ? '7bit' : '8bit'}\r\n`
      : 'Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: 7bit\r\n';
    head += '\r\n' + status;

    // part 3: the original, or its header block
    head += `\r\n--${boundary}\r\n`;
    if (full) {
      head += global
        ? 'Content-Description: Undelivered message\r\nContent-Type: message/global\r\n'
        : 'Content-Description: Undelivered message\r\nContent-Type: message/rfc822\r\n';
      head += `Content-Transfer-Encoding: ${eightBitOk ? '8bit' : '7bit'}\r\n\r\n`;
      yield Buffer.from(head, 'utf8');
      const original = await input.original();
      for await (const chunk of original) {
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, 'utf8');
      }
    } else {
      const hdrs = headers ?? Buffer.alloc(0);
      head += 'Content-Description: Message headers\r\n';
      head += global ? 'Content-Type: message/global-headers\r\n' : 'Content-Type: text/rfc822-headers\r\n';
      if (!headersAre8bit) {
        head += 'Content-Transfer-Encoding: 7bit\r\n\r\n';
        yield Buffer.from(head, 'utf8');
        yield hdrs;
      } else if (eightBitOk) {
        head += 'Content-Transfer-Encoding: 8bit\r\n\r\n';
        yield Buffer.from(head, 'utf8');
        yield hdrs;
      } else {
        // 8-bit octets in a 7-bit report: RFC 2045 §6.7 keeps them, encoded (a text type)
        head += 'Content-Transfer-Encoding: quoted-printable\r\n\r\n';
        yield Buffer.from(head, 'utf8');
        yield Buffer.from(encodeQuotedPrintable(hdrs), 'latin1');
      }
    }
    yield Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  }
  return Readable.from(gen(), { objectMode: false });
}

/**
 * Quoted-printable (RFC 2045 §6.7) of raw bytes through the one encoder (transfer-encoders.ts):
 * CRLF stays a line break, everything else is data.
 */
function encodeQuotedPrintable(buf: Buffer): string {
  let out = '';
  const qp = new QpEncoder((b) => (out += typeof b === 'string' ? b : b.toString('latin1')));
  let start = 0;
  for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n', start)) {
    qp.feed(buf.subarray(start, i));
    qp.lineBreak();
    start = i + 2;
  }
  qp.feed(buf.subarray(start));
  qp.end();
  return out;
}
