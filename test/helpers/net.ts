/**
 * @module test-net
 * Small socket helpers for tests: free ports, a line-oriented SMTP/POP3 client for transcripts.
 */
import net from 'node:net';

/** A free TCP port on host (binds port 0 and releases it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A raw line client: send bytes, read complete replies (multi-line SMTP replies are joined).
 */
export class LineClient {
  private buf = '';
  private waiters: (() => void)[] = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {
      this.closed = true;
      this.wake();
    });
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  static async connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, localAddress }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }
  write(data: string | Buffer): void {
    this.socket.write(data);
  }
  /** Next line (without CRLF), or undefined once closed and drained. */
  async readLine(timeoutMs = 10000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        return line;
      }
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for a line; have ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
  /** A whole SMTP reply (all lines of a multi-line reply), joined with "\n". */
  async readReply(timeoutMs = 10000): Promise<string | undefined> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.readLine(timeoutMs);
      if (l === undefined) return lines.length ? lines.join('\n') : undefined;
      lines.push(l);
      if (!/^\d{3}-/.test(l)) return lines.join('\n');
    }
  }
  async command(line: string): Promise<string | undefined> {
    this.write(line + '\r\n');
    return this.readReply();
  }
  close(): void {
    this.socket.destroy();
  }
}
