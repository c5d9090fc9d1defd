/**
 * @module t-20-smtp-tls-client
 * A raw SMTP client for the t-2x scenarios that can do what LineClient cannot: STARTTLS in the
 * middle of a session and implicit TLS (RFC 8314), from a chosen loopback source address. Also
 * runs `C:`/`S:` transcripts (test/helpers/dialog.ts syntax) over such a session, where
 * `C: STARTTLS!` sends STARTTLS, expects 220 and upgrades.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDialog } from '../helpers/dialog.js';
import { fixturesDir } from '../helpers/paths.js';

export const tlsKeyFile = join(fixturesDir, 'tls', 'localhost.key');
export const tlsCertFile = join(fixturesDir, 'tls', 'localhost.crt');
const ca = readFileSync(tlsCertFile);

export class SmtpTestClient {
  private buf = '';
  private waiters: (() => void)[] = [];
  private ended = false;
  private constructor(private socket: net.Socket) {
    this.listen(socket);
  }

  static async connect(port: number, opts: { host?: string; localAddress?: string; implicitTls?: boolean } = {}): Promise<SmtpTestClient> {
    const host = opts.host ?? '127.0.0.1';
    const raw = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port, host, localAddress: opts.localAddress }, () => resolve(s));
      s.once('error', reject);
    });
    if (!opts.implicitTls) return new SmtpTestClient(raw);
    // RFC 8314 §3.3: TLS from the first byte
    return new Promise((resolve, reject) => {
      const s = tls.connect({ socket: raw, ca, servername: 'localhost' }, () => resolve(new SmtpTestClient(s)));
      s.once('error', reject);
    });
  }

  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  private listen(s: net.Socket): void {
    s.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.wake();
    });
    s.on('close', () => {
      this.ended = true;
      this.wake();
    });
    s.on('error', () => undefined);
  }
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  private async wait(timeoutMs: number): Promise<void> {
    await new Promise<void>((r) => {
      const t = setTimeout(r, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  /** The next line without CRLF, or undefined once the server closed. */
  async readLine(timeoutMs = 10000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        return line;
      }
      if (this.ended) return undefined;
      if (Date.now() > deadline) throw new Error(`timeout waiting for a line; have ${JSON.stringify(this.buf)}`);
      await this.wait(deadline - Date.now());
    }
  }

  /** A whole reply, lines joined with "\n"; undefined when the server closed first. */
  async readReply(timeoutMs = 10000): Promise<string | undefined> {
    const lines: string[] = [];
    for (;;) {
      const l = await this.readLine(timeoutMs);
      if (l === undefined) return lines.length ? lines.join('\n') : undefined;
      lines.push(l);
      if (!/^\d{3}-/.test(l)) return lines.join('\n');
    }
  }

  write(data: string): void {
    this.socket.write(data);
  }

  async command(line: string, timeoutMs?: number): Promise<string | undefined> {
    this.write(line + '\r\n');
    return this.readReply(timeoutMs);
  }

  /** STARTTLS (RFC 3207): expects 220, then the TLS handshake against the test certificate. */
  async startTls(): Promise<void> {
    const r = await this.command('STARTTLS');
    assert.match(r ?? '<closed>', /^220 /);
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const t = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: raw, ca, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    });
    this.socket = t;
    this.buf = '';
    this.listen(t);
  }

  /** AUTH PLAIN with an initial response (RFC 4954, RFC 4616); returns the reply. */
  async authPlain(user: string, password: string): Promise<string | undefined> {
    return this.command(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`, 20000);
  }

  /**
   * Sends a message with DATA (dot-stuffed here; "\n" line ends become CRLF). Returns the
   * replies to MAIL, each RCPT and the end of data (undefined when DATA was not reached).
   */
  async send(from: string, to: readonly string[], body: string): Promise<{ mail: string; rcpt: string[]; final?: string }> {
    const mail = (await this.command(`MAIL FROM:<${from}>`)) ?? '<closed>';
    const rcpt: string[] = [];
    if (!mail.startsWith('250')) return { mail, rcpt };
    for (const r of to) rcpt.push((await this.command(`RCPT TO:<${r}>`)) ?? '<closed>');
    if (!rcpt.some((r) => r.startsWith('250'))) {
      await this.command('RSET');
      return { mail, rcpt };
    }
    const d = await this.command('DATA');
    assert.match(d ?? '<closed>', /^354 /);
    const text = body.replace(/\r?\n/g, '\r\n').replace(/(^|\r\n)\./g, '$1..');
    const final = await this.command(text + (text.endsWith('\r\n') ? '' : '\r\n') + '.', 20000);
    return { mail, rcpt, final };
  }

  /**
   * Runs a transcript: `C:` lines are sent (`C: STARTTLS!` upgrades), `S:` lines must equal the
   * next server line, `S~` lines must match it as an anchored regular expression.
   */
  async transcript(text: string): Promise<void> {
    for (const step of parseDialog(text)) {
      if (step.kind === 'C') {
        if (step.text === 'STARTTLS!') await this.startTls();
        else this.write(step.text + '\r\n');
        continue;
      }
      const got = await this.readLine();
      if (step.kind === 'S') assert.equal(got, step.text, `transcript line ${step.line}`);
      else assert.match(got ?? '<closed>', new RegExp(`^(?:${step.text})$`), `transcript line ${step.line}`);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
