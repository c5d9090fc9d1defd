/**
 * @module scripted-smtp-peer
 * A scripted SMTP (or LMTP) server for tests of the delivery client: per command a reply or an
 * action (silence, dropping the connection), including mid-DATA; records every command and
 * every received message as raw bytes.
 * Standards: RFC 5321 §4.1 (commands), §4.5.2 (dot-unstuffing), RFC 2033 (LMTP), RFC 3207.
 * Security: test only; binds loopback only.
 * Limitations: minimal parsing: it does not check command sequences unless scripted to.
 */
import net from 'node:net';
import tls from 'node:tls';

/**
 * A reply ("250 2.0.0 OK"; lines joined with "\n" make a multi-line reply, the "-" continuation
 * is added), or an action: 'silent' (never answer), 'drop' (close the connection at once),
 * { reply, close: true } (answer, then close).
 */
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- the literals document the actions
export type PeerAction = string | 'silent' | 'drop' | { reply: string; close?: boolean };
export type PeerStep = 'GREETING' | 'EHLO' | 'HELO' | 'LHLO' | 'MAIL' | 'RCPT' | 'DATA' | 'DATA_BODY' | 'DOT' | 'RSET' | 'NOOP' | 'QUIT' | 'STARTTLS' | 'AUTH';
/** A fixed action, or a function of the command's argument and the session (for RCPT: the address). */
export type PeerScript = Partial<Record<PeerStep, PeerAction | ((arg: string, s: PeerSession) => PeerAction)>>;

export interface ReceivedMessage {
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  /** the content as the server sees it: dot-unstuffed, without the terminator */
  readonly data: Buffer;
  /** the raw bytes after 354, terminator included */
  readonly wire: Buffer;
  readonly secure: boolean;
}

export interface PeerSession {
  mailFrom?: string;
  mailCommand?: string;
  rcptTo: string[];
  secure: boolean;
  /** number of transactions completed on this connection */
  transactions: number;
}

export interface ScriptedPeerOptions {
  host?: string;
  port?: number;
  hostname?: string;
  /** EHLO keywords; default PIPELINING, SIZE 10485760, 8BITMIME, ENHANCEDSTATUSCODES, DSN, SMTPUTF8 */
  extensions?: string[];
  script?: PeerScript;
  lmtp?: boolean;
  /** key and cert to offer STARTTLS */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface ScriptedPeer {
  readonly host: string;
  readonly port: number;
  readonly messages: ReceivedMessage[];
  /** every command line received, across connections */
  readonly commands: string[];
  /** number of connections accepted */
  connections: number;
  script: PeerScript;
  close(): Promise<void>;
}

export const defaultPeerExtensions = ['PIPELINING', 'SIZE 10485760', '8BITMIME', 'ENHANCEDSTATUSCODES', 'DSN', 'SMTPUTF8'];

function formatReply(text: string): string {
  const lines = text.split('\n');
  return lines.map((l, i) => (i < lines.length - 1 ? l.replace(/^(\d{3}) ?/, '$1-') : l)).join('\r\n') + '\r\n';
}

export async function startScriptedPeer(options: ScriptedPeerOptions = {}): Promise<ScriptedPeer> {
  const host = options.host ?? '127.0.0.1';
  const name = options.hostname ?? 'peer.test';
  const sockets = new Set<net.Socket>();
  const peer: ScriptedPeer = {
    host,
    port: 0,
    messages: [],
    commands: [],
    connections: 0,
    script: options.script ?? {},
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const server = net.createServer((raw) => {
    peer.connections++;
    handle(raw, false);
  });

  function handle(sock: net.Socket, secure: boolean): void {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    const session: PeerSession = { rcptTo: [], secure, transactions: 0 };
    let buf = Buffer.alloc(0);
    let inData = false;
    let silent = false;
    let dataBodyChecked = false;
    let handedOver = false;

    const act = (step: PeerStep, arg: string, dflt: string): boolean => {
      const s = peer.script[step];
      const a = s === undefined ? dflt : typeof s === 'function' ? s(arg, session) : s;
      if (a === 'silent') {
        silent = true;
        return false;
      }
      if (a === 'drop') {
        sock.destroy();
        return false;
      }
      const text = typeof a === 'string' ? a : a.reply;
      sock.write(formatReply(text));
      if (typeof a === 'object' && a.close) {
        sock.end();
        return false;
      }
      return /^[23]/.test(text);
    };

    const onLine = (line: string): void => {
      peer.commands.push(line);
      const m = /^(\S+)\s*(.*)$/.exec(line);
      const verb = (m?.[1] ?? '').toUpperCase();
      const arg = m?.[2] ?? '';
      switch (verb) {
        case 'EHLO':
        case 'LHLO': {
          const ext = [...(options.extensions ?? defaultPeerExtensions)];
          if (options.tls && !session.secure) ext.push('STARTTLS');
          act(verb, arg, [`250 ${name} greets ${arg}`, ...ext.map((e) => `250 ${e}`)].join('\n'));
          break;
        }
        case 'HELO':
          act('HELO', arg, `250 ${name}`);
          break;
        case 'STARTTLS': {
          if (!options.tls || session.secure) {
            act('STARTTLS', arg, '502 5.5.1 Command not implemented');
            break;
          }
          if (!act('STARTTLS', arg, '220 2.0.0 Ready to start TLS')) break;
          sock.removeAllListeners('data');
          handedOver = true;
          const t = new tls.TLSSocket(sock, { isServer: true, key: options.tls.key, cert: options.tls.cert });
          handle(t, true);
          return;
        }
        case 'MAIL': {
          const from = /^FROM:\s*<([^>]*)>/i.exec(arg)?.[1];
          if (from === undefined) {
            act('MAIL', arg, '501 5.5.4 Syntax error');
            break;
          }
          if (act('MAIL', arg, '250 2.1.0 OK')) {
            session.mailFrom = from;
            session.mailCommand = line;
            session.rcptTo = [];
          }
          break;
        }
        case 'RCPT': {
          const to = /^TO:\s*<([^>]*)>/i.exec(arg)?.[1] ?? '';
          if (session.mailFrom === undefined) {
            sock.write('503 5.5.1 Bad sequence of commands\r\n');
            break;
          }
          if (act('RCPT', to, '250 2.1.5 OK')) session.rcptTo.push(to);
          break;
        }
        case 'DATA':
          if (session.mailFrom === undefined || session.rcptTo.length === 0) {
            sock.write('503 5.5.1 Bad sequence of commands\r\n');
            break;
          }
          if (act('DATA', arg, '354 Start mail input; end with <CRLF>.<CRLF>')) {
            inData = true;
            dataBodyChecked = false;
          }
          break;
        case 'RSET':
          session.mailFrom = undefined;
          session.rcptTo = [];
          act('RSET', arg, '250 2.0.0 OK');
          break;
        case 'NOOP':
          act('NOOP', arg, '250 2.0.0 OK');
          break;
        case 'AUTH':
          act('AUTH', arg, '235 2.7.0 Authentication successful');
          break;
        case 'QUIT':
          act('QUIT', arg, `221 2.0.0 ${name} Service closing transmission channel`);
          sock.end();
          break;
        default:
          sock.write('500 5.5.1 Command unrecognized\r\n');
      }
    };

    const onDataEnd = (wire: Buffer): void => {
      inData = false;
      const content = wire.subarray(0, wire.length - 3); // minus ".\r\n"
      const data = Buffer.from(content.toString('latin1').replace(/(^|\r\n)\.\./g, '$1.'), 'latin1');
      const mailFrom = session.mailFrom ?? '';
      const rcptTo = [...session.rcptTo];
      const msg: ReceivedMessage = { mailFrom, rcptTo, data, wire, secure: session.secure };
      session.mailFrom = undefined;
      session.rcptTo = [];
      if (options.lmtp) {
        let any = false;
        for (const r of rcptTo) {
          if (act('DOT', r, '250 2.0.0 OK delivered')) any = true;
          if (sock.destroyed || silent) break;
        }
        if (any) peer.messages.push(msg);
      } else if (act('DOT', '', '250 2.0.0 OK: queued')) {
        peer.messages.push(msg);
      }
      session.transactions++;
    };

    sock.on('data', (chunk: Buffer) => {
      if (silent) return;
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (silent || sock.destroyed) return;
        if (inData) {
          if (!dataBodyChecked && buf.length > 0) {
            dataBodyChecked = true;
            const s = peer.script.DATA_BODY;
            if (s !== undefined) {
              const a = typeof s === 'function' ? s('', session) : s;
              if (a === 'drop') return void sock.destroy();
              if (a === 'silent') return void (silent = true);
            }
          }
          // the terminator: "." on a line by itself, possibly as the very first line
          let end = -1;
          if (buf.subarray(0, 3).toString('latin1') === '.\r\n') end = 0;
          else {
            const i = buf.indexOf('\r\n.\r\n');
            if (i >= 0) end = i + 2;
          }
          if (end < 0) return;
          const wire = buf.subarray(0, end + 3);
          buf = buf.subarray(end + 3);
          onDataEnd(Buffer.from(wire));
          continue;
        }
        const i = buf.indexOf('\r\n');
        if (i < 0) return;
        const line = buf.subarray(0, i).toString('latin1');
        buf = buf.subarray(i + 2);
        onLine(line);
        if (handedOver) return; // the TLS socket reads from here on
      }
    });
    // RFC 3207 §4.2: no new greeting after STARTTLS; the client sends EHLO again
    if (!secure) act('GREETING', '', `220 ${name} ESMTP Simple Mail Transfer Service Ready`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  (peer as { port: number }).port = typeof addr === 'object' && addr ? addr.port : 0;
  return peer;
}
