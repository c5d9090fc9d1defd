/**
 * @module transfer-decoding
 * Content-Transfer-Encoding decoding: IMAP BINARY fetches and text search, JMAP body values and part blobs.
 * Standards: RFC 2045 §6.7 (quoted-printable: "=XX", soft line breaks "=" CRLF, white space
 *   at the end of a line deleted), §6.8 (base64:
 *   characters outside the alphabet are ignored), §6.2 (7bit, 8bit, binary: identity).
 * Security: malformed input never throws (a stray "=" is kept as is).
 * Limitations: none.
 */

/** The decoded octets, or undefined for an encoding we do not know. */
export function decodeTransfer(body: Buffer, cte: string): Buffer | undefined {
  const d = transferDecoder(cte);
  if (!d) return undefined;
  const a = d.push(body);
  const b = d.end();
  return b.length === 0 ? a : Buffer.concat([a, b]);
}

/** A decoder fed a body in chunks: what push and end give, joined, is decodeTransfer's answer. */
export interface TransferDecoder {
  push(chunk: Buffer): Buffer;
  end(): Buffer;
}

/** RFC 2045 §6.2: the encodings whose octets are the data (7bit, 8bit, binary; none given). */
export const identityEncodings: ReadonlySet<string> = new Set(['7bit', '8bit', 'binary', '']);

/** The decoder of an encoding, or undefined for one we do not know. */
export function transferDecoder(cte: string): TransferDecoder | undefined {
  if (identityEncodings.has(cte)) return { push: (b) => b, end: () => Buffer.alloc(0) };
  switch (cte) {
    case 'base64': {
      // base64 decodes in groups of 4 characters: the characters after the last whole group wait
      let rest = '';
      return {
        push(b) {
          const s = rest + b.toString('latin1').replace(/[^A-Za-z0-9+/]/g, '');
          const n = s.length - (s.length % 4);
          rest = s.slice(n);
          return Buffer.from(s.slice(0, n), 'base64');
        },
        end: () => Buffer.from(rest, 'base64'),
      };
    }
    case 'quoted-printable': {
      // each line decodes by itself (the rules look no further than its line end): the octets
      // after the last line end wait
      let rest: Buffer | undefined;
      return {
        push(b) {
          const all = rest ? Buffer.concat([rest, b]) : b;
          const lf = all.lastIndexOf(0x0a);
          rest = lf < 0 ? all : all.subarray(lf + 1);
          return lf < 0 ? Buffer.alloc(0) : decodeQp(all.subarray(0, lf + 1));
        },
        end: () => (rest ? decodeQp(rest) : Buffer.alloc(0)),
      };
    }
    default:
      return undefined;
  }
}

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function decodeQp(b: Buffer): Buffer {
  const out = Buffer.alloc(b.length);
  let o = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c === 0x20 || c === 0x09) {
      // RFC 2045 §6.7 (3): white space at the end of a line was added in transport: deleted
      let j = i;
      while (j < b.length && (b[j] === 0x20 || b[j] === 0x09)) j++;
      if (j === b.length || b[j] === 0x0a || (b[j] === 0x0d && b[j + 1] === 0x0a)) {
        i = j - 1;
        continue;
      }
    }
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    // soft line break: "=" then optional whitespace then CRLF or LF
    let j = i + 1;
    while (j < b.length && (b[j] === 0x20 || b[j] === 0x09)) j++;
    if (b[j] === 0x0d && b[j + 1] === 0x0a) {
      i = j + 1;
      continue;
    }
    if (b[j] === 0x0a) {
      i = j;
      continue;
    }
    const h = hex(b[i + 1] ?? -1);
    const l = hex(b[i + 2] ?? -1);
    if (h >= 0 && l >= 0) {
      out[o++] = h * 16 + l;
      i += 2;
    } else out[o++] = c;
  }
  return out.subarray(0, o);
}
