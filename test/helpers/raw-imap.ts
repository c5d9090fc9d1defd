/**
 * @module raw-imap
 * A raw IMAP client on a real socket for tests that compare responses octet for octet: each
 * command's whole answer (untagged lines with their literals, and the tagged line) as one Buffer.
 * Security: test only; loopback.
 * Limitations: one command at a time; literals ({n} and BINARY's ~{n}) are read by their count.
 */
import net from 'node:net';

export class RawImap {
  /** octets received and not yet given out: #store[0, #len) (grown by doubling: answers can be 64 MB) */
  #store = Buffer.alloc(64 * 1024);
  #len = 0;
  #wake: (() => void) | undefined;
  #closed = false;
  #n = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (b: Buffer) => {
      if (this.#len + b.length > this.#store.length) {
        const store = Buffer.allocUnsafe(Math.max(2 * this.#store.length, this.#len + b.length));
        this.#store.copy(store, 0, 0, this.#len);
        this.#store = store;
      }
      b.copy(this.#store, this.#len);
      this.#len += b.length;
      this.#wake?.();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake?.();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number): Promise<RawImap> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const c = new RawImap(socket);
    await c.#answer('*');
    return c;
  }

  /** Sends `command` with a fresh tag; its answer, up to and with the tagged line. */
  async run(command: string): Promise<Buffer> {
    const tag = `r${++this.#n}`;
    this.socket.write(`${tag} ${command}\r\n`);
    return this.#answer(tag);
  }

  /** Reads responses until one starting with `tag ` (for the greeting, `*`: the first one). */
  async #answer(tag: string): Promise<Buffer> {
    /** the start of the response being read, and how far it was read */
    let p = 0;
    let q = 0;
    for (;;) {
      const buf = this.#store.subarray(0, this.#len);
      const crlf = buf.indexOf('\r\n', q);
      if (crlf >= 0) {
        const m = /~?\{(\d+)\}$/.exec(buf.toString('latin1', Math.max(q, crlf - 24), crlf));
        const after = crlf + 2 + (m ? Number(m[1]) : 0);
        if (after <= buf.length) {
          q = after;
          if (m) continue;
          const tagged = tag === '*' || buf.toString('latin1', p, p + tag.length + 1) === `${tag} `;
          p = q;
          if (!tagged) continue;
          const out = Buffer.from(buf.subarray(0, p));
          buf.copy(this.#store, 0, p);
          this.#len -= p;
          return out;
        }
      }
      if (this.#closed) throw new Error(`connection closed before ${tag} answered`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
