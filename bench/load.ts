/**
 * @module load
 * An SMTP load generator (like Postfix's smtp-source): N concurrent sessions send M messages of
 * S bytes to one server and report messages per second. Every reply is checked; a wrong or
 * missing reply counts the message as failed (it is never counted as sent).
 * Standards: RFC 5321 §3.3 (transaction), §4.2 (replies, multi-line), §4.5.2 (dot-stuffing: the
 *   generated body never starts a line with "."); RFC 2920 (PIPELINING: MAIL, RCPT and DATA in
 *   one write, replies read in order).
 * Security: only for loopback benchmarks; it trusts nothing the server says beyond reply codes.
 *   RFC 3207 (STARTTLS), RFC 4954 with RFC 4616 (AUTH PLAIN), for the signing scenario's
 *   authenticated submission.
 * Limitations: one recipient per message; no BDAT; the server's certificate is not checked
 *   (loopback, a test certificate).
 *
 * As a command: node dist/bench/load.js [-s sessions] [-m messages] [-l size] [-e] [-d]
 *   [-f from] [-t to] host:port   (-e = EHLO + PIPELINING, -d = reuse connections)
 */
import net from 'node:net';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';

export interface LoadOptions {
  host: string;
  port: number;
  /** concurrent sessions */
  sessions: number;
  /** messages in total */
  messages: number;
  /** body size in octets (approximate to the line, like smtp-source -l) */
  size: number;
  from: string;
  to: string;
  /** EHLO and PIPELINING (MAIL, RCPT, DATA in one write); otherwise HELO and lock-step */
  pipelining: boolean;
  /** keep each session open for many messages; otherwise one message per connection */
  reuse: boolean;
  /** give up on one reply after this long (ms) */
  replyTimeoutMs?: number;
  /** STARTTLS after EHLO, then EHLO again (needs `pipelining`: the EHLO path) */
  starttls?: boolean;
  /** AUTH PLAIN once per session after EHLO (and STARTTLS), as a submission client logs in */
  auth?: { user: string; password: string };
}

export interface LoadResult {
  sent: number;
  failed: number;
  /** wall time from the first connect to the last reply, ms */
  elapsedMs: number;
  /** sent / elapsed seconds */
  rate: number;
  /** the first few failure descriptions */
  errors: string[];
}

/** Builds one message: a small header and `size` octets of 72-column text, CRLF lines. */
export function buildMessage(from: string, to: string, size: number): Buffer {
  const head =
    `From: <${from}>\r\nTo: <${to}>\r\nSubject: correio bench\r\n` +
    `Message-ID: <bench@load.invalid>\r\nDate: Thu, 1 Jan 2026 00:00:00 +0000\r\n\r\n`;
  const line = 'La de da de da 1. La de da de da 2. La de da de da 3. La de da de da 4.';
  let body = '';
  while (body.length < size) body += line.slice(0, Math.max(1, Math.min(line.length, size - body.length - 2))) + '\r\n';
  return Buffer.from(head + body + '.\r\n', 'latin1');
}

class ReplyReader {
  private buf = '';
  private replies: { code: number; text: string }[] = [];
  private waiter: (() => void) | undefined;
  private ended: string | undefined;

  constructor(socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.parse();
    });
    socket.on('error', (e) => this.end(e.message));
    socket.on('close', () => this.end('connection closed'));
  }

  private end(why: string): void {
    this.ended ??= why;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** RFC 5321 §4.2.1: "250-" continues, "250 " ends a reply. */
  private parse(): void {
    let start = 0;
    let lines: string[] = [];
    for (;;) {
      const i = this.buf.indexOf('\n', start);
      if (i < 0) break;
      const line = this.buf.slice(start, i).replace(/\r$/, '');
      lines.push(line);
      start = i + 1;
      if (line.length < 4 || line[3] !== '-') {
        this.replies.push({ code: Number(line.slice(0, 3)) || 0, text: lines.join(' | ') });
        lines = [];
        this.buf = this.buf.slice(start);
        start = 0;
      }
    }
    if (this.replies.length > 0) this.wake();
  }

  async next(timeoutMs: number): Promise<{ code: number; text: string }> {
    for (;;) {
      const r = this.replies.shift();
      if (r) return r;
      if (this.ended !== undefined) throw new Error(this.ended);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        timer = setTimeout(() => {
          this.ended ??= `no reply in ${timeoutMs} ms`;
          resolve();
        }, timeoutMs);
      });
      clearTimeout(timer);
    }
  }
}

/** RFC 3207: the TLS client over an open session (after 220 to STARTTLS); the certificate is not checked. */
async function startTls(s: net.Socket, host: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({ socket: s, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: false }, () => {
      t.off('error', reject);
      resolve(t);
    });
    t.once('error', reject);
  });
}

async function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Runs the load; resolves when every message was sent or failed. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const message = buildMessage(o.from, o.to, o.size);
  const timeout = o.replyTimeoutMs ?? 60_000;
  const mailRcpt = `MAIL FROM:<${o.from}>\r\nRCPT TO:<${o.to}>\r\n`;
  let next = 0;
  let sent = 0;
  let failed = 0;
  const errors: string[] = [];
  const fail = (what: string): void => {
    failed++;
    if (errors.length < 5) errors.push(what);
  };
  const take = (): boolean => (next < o.messages ? (next++, true) : false);

  const expect = async (r: ReplyReader, code: number, step: string): Promise<void> => {
    const reply = await r.next(timeout);
    if (reply.code !== code) throw new Error(`${step}: expected ${code}, got "${reply.text}"`);
  };

  /** One transaction on an open, greeted session; throws on any unexpected reply. */
  const transaction = async (s: net.Socket, r: ReplyReader): Promise<void> => {
    if (o.pipelining) {
      s.write(mailRcpt + 'DATA\r\n');
      await expect(r, 250, 'MAIL');
      await expect(r, 250, 'RCPT');
      await expect(r, 354, 'DATA');
    } else {
      s.write(`MAIL FROM:<${o.from}>\r\n`);
      await expect(r, 250, 'MAIL');
      s.write(`RCPT TO:<${o.to}>\r\n`);
      await expect(r, 250, 'RCPT');
      s.write('DATA\r\n');
      await expect(r, 354, 'DATA');
    }
    s.write(message);
    await expect(r, 250, 'end of data');
  };

  const session = async (): Promise<boolean> => {
    if (!take()) return false;
    let s: net.Socket | undefined;
    let inFlight = true; // the message taken but not yet counted
    try {
      s = await connect(o.host, o.port);
      let r = new ReplyReader(s);
      await expect(r, 220, 'greeting');
      s.write(o.pipelining ? 'EHLO load.localhost\r\n' : 'HELO load.localhost\r\n');
      await expect(r, 250, o.pipelining ? 'EHLO' : 'HELO');
      if (o.starttls) {
        s.write('STARTTLS\r\n');
        await expect(r, 220, 'STARTTLS');
        s.removeAllListeners('data');
        s = await startTls(s, o.host);
        r = new ReplyReader(s);
        s.write('EHLO load.localhost\r\n');
        await expect(r, 250, 'EHLO after STARTTLS');
      }
      if (o.auth) {
        s.write(`AUTH PLAIN ${Buffer.from(`\0${o.auth.user}\0${o.auth.password}`).toString('base64')}\r\n`);
        await expect(r, 235, 'AUTH');
      }
      for (;;) {
        await transaction(s, r);
        sent++;
        inFlight = false;
        if (!o.reuse || !take()) break;
        inFlight = true;
      }
      s.write('QUIT\r\n');
      await expect(r, 221, 'QUIT');
      s.end();
    } catch (e) {
      if (inFlight) fail((e as Error).message);
      else if (errors.length < 5) errors.push(`after the message: ${(e as Error).message}`);
      s?.destroy();
    }
    return true;
  };

  const worker = async (): Promise<void> => {
    while (await session()) {
      /* next connection */
    }
  };

  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, o.sessions) }, () => worker()));
  const elapsedMs = performance.now() - t0;
  return { sent, failed, elapsedMs, rate: sent / (elapsedMs / 1000), errors };
}

function parseArgs(argv: string[]): LoadOptions {
  const o: LoadOptions = {
    host: '127.0.0.1', port: 25, sessions: 20, messages: 5000, size: 5120,
    from: 'a@example.com', to: 'b@localhost', pipelining: false, reuse: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '-s') o.sessions = Number(val());
    else if (a === '-m') o.messages = Number(val());
    else if (a === '-l') o.size = Number(val());
    else if (a === '-f') o.from = val();
    else if (a === '-t') o.to = val();
    else if (a === '-e') o.pipelining = true;
    else if (a === '-d') o.reuse = true;
    else if (/^[^-].*:\d+$/.test(a)) {
      const i2 = a.lastIndexOf(':');
      o.host = a.slice(0, i2);
      o.port = Number(a.slice(i2 + 1));
    } else throw new Error(`unknown argument ${a}`);
  }
  for (const [k, v] of [['-s', o.sessions], ['-m', o.messages], ['-l', o.size]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer`);
  }
  return o;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const r = await runLoad(parseArgs(process.argv.slice(2)));
    console.log(`sent ${r.sent}, failed ${r.failed}, ${(r.elapsedMs / 1000).toFixed(2)} s, ${r.rate.toFixed(0)} msg/s`);
    for (const e of r.errors) console.log(`  error: ${e}`);
    process.exitCode = r.failed > 0 ? 1 : 0;
  } catch (e) {
    console.error(`load: ${(e as Error).message}`);
    process.exitCode = 64;
  }
}
