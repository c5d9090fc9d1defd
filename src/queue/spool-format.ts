/**
 * @module spool-format
 * How the files backend encodes a message and its envelopes (spool format 2). A message file
 * msg/<id> is the body, then a trailer, then a 32-octet footer:
 *
 *   [0, B)            the body (CRLF, not dot-stuffed)
 *   [B, B+T)          the trailer: {"v":1,"messageId":…,"envelopes":[…]} as JSON (UTF-8)
 *   [B+T, B+T+32)     the footer: "CRQSPOOL", u32 format (2), u64 B, u32 T, u32 CRC-32 of the
 *                     trailer, u32 CRC-32 of the footer's first 28 octets (all big-endian)
 *
 * The same envelope list, as JSON, is an env override (env/<id>.json) and a segment record's
 * trailer (segment-log.ts). Each envelope is stored whole, as JSON.stringify writes it: fields
 * this code does not know (a newer Envelope) are kept as they are; only the fields a list needs
 * to be found (id, messageId, recipient, route) are checked when one is read.
 * Standards: RFC 8259 (JSON); CRC-32 as zlib computes it (ISO 3309).
 * Security: lengths in a footer are checked against the file's size and a CRC before they are
 *   used; a list whose message id is not the one expected is refused (CorruptItem).
 * Limitations: a field whose value is undefined is not written (JSON has no undefined).
 */
import { crc32 } from 'node:zlib';
import { isQueueId, type Envelope, type MessageId } from '../core/index.js';

/** The spool format this code reads and writes (the footer's version). */
export const spoolFormat = 2;
export const footerSize = 32;
const footerMagic = Buffer.from('CRQSPOOL', 'latin1');

/** A message's envelope list, as stored in a trailer, an env override or a segment record. */
export interface EnvelopeFile {
  v: 1;
  messageId: MessageId;
  envelopes: Envelope[];
}

/** A spool item that does not check out (bad footer, trailer or env file): moved to corrupt/. */
export class CorruptItem extends SyntaxError {}

export function envelopeFile(messageId: MessageId, envelopes: readonly Envelope[]): EnvelopeFile {
  return { v: 1, messageId, envelopes: envelopes as Envelope[] };
}

/** The stored form of an envelope list (trailer, env override, record trailer). */
export function encodeEnvelopeFile(file: EnvelopeFile): Buffer {
  return Buffer.from(JSON.stringify(file));
}

/** Parses an envelope list that must belong to `expectedId`; throws CorruptItem otherwise. */
export function parseEnvelopeFile(text: string, expectedId: MessageId): EnvelopeFile {
  let data: Partial<EnvelopeFile>;
  try {
    data = JSON.parse(text) as Partial<EnvelopeFile>;
  } catch {
    throw new CorruptItem(`${expectedId}: envelopes are not JSON`);
  }
  if (
    data?.v !== 1 || data.messageId !== expectedId || !Array.isArray(data.envelopes) || data.envelopes.length === 0 ||
    !data.envelopes.every((e) => typeof e?.id === 'string' && e.messageId === expectedId && typeof e.recipient === 'object' && typeof e.route === 'object')
  ) {
    throw new CorruptItem(`${expectedId}: not a correio envelope list`);
  }
  return data as EnvelopeFile;
}

/** A segment record's envelope list (the id comes from the list itself). */
export function parseRecordTrailer(text: string): EnvelopeFile {
  let id: unknown;
  try {
    id = (JSON.parse(text) as Partial<EnvelopeFile> | null)?.messageId;
  } catch {
    throw new CorruptItem('a segment record whose envelopes are not JSON');
  }
  if (typeof id !== 'string' || !isQueueId(id)) throw new CorruptItem('a segment record without a message id');
  return parseEnvelopeFile(text, id);
}

/** The footer for a body of `bodyLength` octets followed by `trailer`. */
export function makeFooter(bodyLength: number, trailer: Buffer): Buffer {
  const f = Buffer.alloc(footerSize);
  footerMagic.copy(f, 0);
  f.writeUInt32BE(spoolFormat, 8);
  f.writeBigUInt64BE(BigInt(bodyLength), 12);
  f.writeUInt32BE(trailer.length, 20);
  f.writeUInt32BE(crc32(trailer), 24);
  f.writeUInt32BE(crc32(f.subarray(0, 28)), 28);
  return f;
}

export interface Footer {
  bodyLength: number;
  trailerLength: number;
  trailerCrc: number;
}

/** Checks a footer against itself and the size of its file; throws CorruptItem. */
export function parseFooter(f: Buffer, fileSize: number, id: MessageId): Footer {
  if (f.length !== footerSize || !f.subarray(0, 8).equals(footerMagic)) {
    throw new CorruptItem(`${id}: no spool footer (not a format ${spoolFormat} message file)`);
  }
  if (f.readUInt32BE(28) !== crc32(f.subarray(0, 28))) throw new CorruptItem(`${id}: footer checksum mismatch`);
  const version = f.readUInt32BE(8);
  if (version !== spoolFormat) throw new CorruptItem(`${id}: spool format ${version}, expected ${spoolFormat}`);
  const body = f.readBigUInt64BE(12);
  const trailerLength = f.readUInt32BE(20);
  if (body + BigInt(trailerLength) + BigInt(footerSize) !== BigInt(fileSize)) {
    throw new CorruptItem(`${id}: footer lengths do not match the file size`);
  }
  return { bodyLength: Number(body), trailerLength, trailerCrc: f.readUInt32BE(24) };
}

/** Checks a trailer read from a message file against its footer's CRC and parses it. */
export function parseTrailer(trailer: Buffer, footer: Footer, id: MessageId): EnvelopeFile {
  if (crc32(trailer) !== footer.trailerCrc) throw new CorruptItem(`${id}: trailer checksum mismatch`);
  return parseEnvelopeFile(trailer.toString('utf8'), id);
}
