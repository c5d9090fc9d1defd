/**
 * @module test-net
 * Small socket helpers for tests: free ports, a line-oriented SMTP/POP3 client for transcripts,
 * plain or TLS (STARTTLS/STLS upgrade and implicit TLS).
 */
import net from 'node:net';
import tls from 'node:tls';

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

/** TLS client options for LineClient.startTls and LineClient.connectTls (ca, servername, …). */
export type LineClientTlsOptions = Omit<tls.ConnectionOptions, 'socket' | 'host' | 'port'>;

/**
 * A raw line client over a plain or TLS socket: send bytes, read lines, complete SMTP replies
 * (multi-line replies are joined) and POP3 multi-line responses. It can start TLS in the middle
 * of a session (SMTP STARTTLS, RFC 3207; POP3 STLS, RFC 2595 §4) or from the first byte
 * (implicit TLS, RFC 8314 §3.3).
 */
export class LineClient {
  private buf = '';
  private waiters: (() => void)[] = [];
  private sock: net.Socket;
  closed = false;
  private readonly onData = (d: Buffer | string): void => {
    this.buf += typeof d === 'string' ? d : d.toString('latin1');
    this.wake();
  };
  private readonly onEnd = (): void => {
    this.closed = true;
    this.wake();
  };
  /** Reads from an already connected socket (plain or TLS). */
  constructor(socket: net.Socket) {
    this.sock = socket;
    this.attach(socket);
  }
  /** The current socket: the TLS one once startTls has run. */
  get socket(): net.Socket {
    return this.sock;
  }
  get encrypted(): boolean {
    return this.sock instanceof tls.TLSSocket;
  }
  private attach(s: net.Socket): void {
    s.on('data', this.onData);
    s.on('close', this.onEnd);
    s.on('error', this.onEnd);
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  static async connect<T extends LineClient>(this: new (socket: net.Socket) => T, port: number, host = '127.0.0.1', localAddress?: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, localAddress }, () => resolve(new this(s)));
      s.once('error', reject);
    });
  }
  /** Implicit TLS (RFC 8314 §3.3): TLS from the first byte, then lines as over a plain socket. */
  static async connectTls<T extends LineClient>(this: new (socket: net.Socket) => T, port: number, host = '127.0.0.1', opts: LineClientTlsOptions & { localAddress?: string } = {}): Promise<T> {
    const { localAddress, ...tlsOpts } = opts;
    const raw = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port, host, localAddress }, () => resolve(s));
      s.once('error', reject);
    });
    return new this(await handshake(raw, tlsOpts));
  }
  /**
   * The TLS handshake over the current socket, after the caller's STARTTLS/STLS got its positive
   * answer. What was already received in clear and not yet read stays buffered and is read
   * first, so a server that answered injected commands before TLS is still caught.
   */
  async startTls(opts: LineClientTlsOptions = {}): Promise<void> {
    const raw = this.sock;
    raw.off('data', this.onData);
    raw.off('close', this.onEnd);
    const t = await handshake(raw, opts);
    this.sock = t;
    this.attach(t);
  }
  write(data: string | Buffer): void {
    this.sock.write(data);
  }
  /** What is buffered but not yet read as a line. */
  pending(): string {
    return this.buf;
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
  /**
   * A POP3 multi-line response body up to the "." line (RFC 1939 §3), un-stuffed, each line
   * with its CRLF; throws if the connection closes first.
   */
  async readMultiline(timeoutMs = 10000): Promise<string> {
    let out = '';
    for (;;) {
      const l = await this.readLine(timeoutMs);
      if (l === undefined) throw new Error('connection closed inside a multi-line response');
      if (l === '.') return out;
      out += (l.startsWith('.') ? l.slice(1) : l) + '\r\n';
    }
  }
  /** IMAP: the lines up to and including the tagged one (RFC 9051 §2.2.2), fewer if the connection closes. */
  async readTagged(tag: string, timeoutMs = 10000): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const l = await this.readLine(timeoutMs);
      if (l === undefined) return out;
      out.push(l);
      if (l.startsWith(`${tag} `)) return out;
    }
  }
  /** Sends a line and reads the SMTP reply to it. */
  async command(line: string, timeoutMs?: number): Promise<string | undefined> {
    this.write(line + '\r\n');
    return this.readReply(timeoutMs);
  }
  close(): void {
    this.sock.destroy();
  }
}

async function handshake(socket: net.Socket, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({ ...opts, socket }, () => resolve(t));
    t.once('error', reject);
  });
}
