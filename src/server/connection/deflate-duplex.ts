/**
 * @module deflate-duplex
 * A stream that speaks raw DEFLATE over another: what the session writes is compressed and
 * flushed to a byte boundary at once, what arrives is inflated.
 * Standards: RFC 4978 §4 (IMAP COMPRESS=DEFLATE: raw DEFLATE, RFC 1951, no zlib header; each
 *   response flushed with Z_SYNC_FLUSH so the client can read it whole).
 * Security: inflated input goes through the session's own bounds (line and literal limits,
 *   backpressure by pausing), so a small compressed input cannot make it hold more than it
 *   would hold uncompressed; corrupt input closes the connection. Output waits for the stream
 *   under it to drain, so a client that stops reading holds the session's writes back.
 * Limitations: none.
 */
import { Duplex } from 'node:stream';
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';

export class DeflateDuplex extends Duplex {
  private readonly inflate: InflateRaw;
  private readonly deflate: DeflateRaw;

  /** `pending`: octets that arrived already (compressed) before the switch. */
  constructor(
    /** the stream the compressed octets travel on */
    readonly raw: Duplex,
    pending: Buffer,
  ) {
    super();
    this.inflate = createInflateRaw();
    this.deflate = createDeflateRaw();
    this.inflate.on('data', (d: Buffer) => {
      if (!this.push(d)) this.raw.pause();
    });
    this.inflate.on('end', () => this.push(null));
    this.inflate.on('error', (err) => this.destroy(err));
    this.deflate.on('data', (d: Buffer) => this.raw.write(d));
    this.deflate.on('error', (err) => this.destroy(err));
    raw.on('data', (d: Buffer) => this.inflate.write(d));
    raw.on('end', () => this.inflate.end());
    raw.on('close', () => this.destroy());
    raw.on('error', (err) => this.destroy(err));
    if (pending.length > 0) this.inflate.write(pending);
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.deflate.write(chunk);
    // a write is done once the stream under it can take more: a client that reads slowly holds
    // back the session's writes (a streamed FETCH) as it does without compression
    this.deflate.flush(constants.Z_SYNC_FLUSH, () => {
      if (!this.raw.writableNeedDrain || this.raw.destroyed) return cb();
      const done = (): void => {
        this.raw.removeListener('drain', done);
        this.raw.removeListener('close', done);
        cb();
      };
      this.raw.on('drain', done);
      this.raw.on('close', done);
    });
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.deflate.end(() => {
      this.raw.end();
      cb();
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inflate.destroy();
    this.deflate.destroy();
    this.raw.destroy();
    cb(err);
  }
}
