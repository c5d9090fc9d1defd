/**
 * @module test-raw-smtp
 * A plain SMTP session over a socket, written by hand (no client library): for tests that send
 * big bodies by DATA or BDAT in their own pieces and look at each reply (t-60, t-94).
 * Standards: RFC 5321 §4.2 (a reply ends at its line "NNN " + text).
 * Limitations: no TLS; from 127.0.0.1; a reply after the socket closed is ''.
 */
import net from 'node:net';

export interface RawSmtpSession {
  /** the EHLO reply (the greeting must have been 220) */
  readonly ehlo: string;
  /** one command line (CRLF added), its reply */
  cmd(line: string): Promise<string>;
  /** octets as they are (a DATA body with its ".", BDAT commands with their chunks), then one reply */
  send(data: Iterable<Buffer | string>): Promise<string>;
  close(): void;
}

/** Connects to 127.0.0.1:`port`, checks the 220 greeting and says EHLO `name`. */
export async function rawSmtpSession(port: number, name = 'client.localhost'): Promise<RawSmtpSession> {
  const sock = net.connect(port, '127.0.0.1');
  let buf = '';
  let waiter: (() => void) | undefined;
  sock.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    waiter?.();
  });
  sock.on('error', () => waiter?.());
  sock.on('close', () => waiter?.());
  const reply = async (): Promise<string> => {
    for (;;) {
      const m = /(?:^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(buf);
      if (m) {
        const r = buf.slice(0, m.index + m[0].length);
        buf = buf.slice(m.index + m[0].length);
        return r;
      }
      if (sock.destroyed) return '';
      await new Promise<void>((r) => (waiter = r));
    }
  };
  const write = async (data: Buffer | string): Promise<void> => {
    if (!sock.write(data)) await new Promise((r) => sock.once('drain', r));
  };
  const greeting = await reply();
  if (!greeting.startsWith('220')) {
    sock.destroy();
    throw new Error(`no 220 greeting: ${JSON.stringify(greeting)}`);
  }
  await write(`EHLO ${name}\r\n`);
  const ehlo = await reply();
  return {
    ehlo,
    cmd: async (line) => (await write(line + '\r\n'), reply()),
    send: async (data) => {
      for (const b of data) await write(b);
      return reply();
    },
    close: () => sock.destroy(),
  };
}
