/**
 * @module t-20-smtp-tls-client
 * A raw SMTP client for the t-2x scenarios: LineClient (lines, replies, TLS) plus the SMTP steps
 * they share: STARTTLS with the test certificate, AUTH PLAIN, a whole DATA transaction. Also runs
 * `C:`/`S:` transcripts (test/helpers/dialog.ts syntax) over such a session, where
 * `C: STARTTLS!` sends STARTTLS, expects 220 and upgrades.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDialog } from '../helpers/dialog.js';
import { LineClient, type LineClientTlsOptions } from '../helpers/net.js';
import { fixturesDir } from '../helpers/paths.js';

export const tlsKeyFile = join(fixturesDir, 'tls', 'localhost.key');
export const tlsCertFile = join(fixturesDir, 'tls', 'localhost.crt');
const ca = readFileSync(tlsCertFile);

/** Trusts the test certificate (test/fixtures/tls), for startTls and connectTls. */
export const testTls: LineClientTlsOptions = { ca, servername: 'localhost' };

export class SmtpTestClient extends LineClient {
  /** A session to port, from localAddress; with implicitTls, TLS from the first byte (RFC 8314 §3.3). */
  static async open(port: number, opts: { host?: string; localAddress?: string; implicitTls?: boolean } = {}): Promise<SmtpTestClient> {
    const host = opts.host ?? '127.0.0.1';
    if (opts.implicitTls) return SmtpTestClient.connectTls(port, host, { ...testTls, localAddress: opts.localAddress });
    return SmtpTestClient.connect(port, host, opts.localAddress);
  }

  /** STARTTLS (RFC 3207): expects 220, then the TLS handshake against the test certificate. */
  async smtpStartTls(): Promise<void> {
    const r = await this.command('STARTTLS');
    assert.match(r ?? '<closed>', /^220 /);
    await this.startTls(testTls);
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
        if (step.text === 'STARTTLS!') await this.smtpStartTls();
        else this.write(step.text + '\r\n');
        continue;
      }
      const got = await this.readLine();
      if (step.kind === 'S') assert.equal(got, step.text, `transcript line ${step.line}`);
      else assert.match(got ?? '<closed>', new RegExp(`^(?:${step.text})$`), `transcript line ${step.line}`);
    }
  }

}
