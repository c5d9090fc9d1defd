/**
 * @module counting-smtp-sink
 * A real SMTP server (loopback) that accepts every message and counts its connections: how
 * many are open now and the most that were open at once. It can hold the reply to the final
 * "." until released (`hold`), so a test can keep deliveries in flight as long as it needs.
 * Standards: RFC 5321 §4.1 (the commands it answers), §4.5.2 (the end of DATA).
 * Security: test only; loopback only.
 * Limitations: no extensions beyond PIPELINING-free ESMTP; one transaction at a time per
 *   connection (as a client sends them).
 */
import net from 'node:net';

export interface CountingSink {
  readonly port: number;
  /** connections open now */
  readonly open: number;
  /** the most connections that were open at once */
  readonly maxOpen: number;
  /** every message received whole: its Subject */
  readonly subjects: string[];
  /** while true, the reply to "." waits (the transaction stays in flight) */
  hold: boolean;
  /** resolves when `open` reaches `n` */
  untilOpen(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCountingSink(host = '127.0.0.1'): Promise<CountingSink> {
  const sockets = new Set<net.Socket>();
  const held: (() => void)[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const sink = {
    port: 0,
    open: 0,
    maxOpen: 0,
    subjects: [] as string[],
    hold: false,
    untilOpen: (n: number) =>
      new Promise<void>((resolve) => {
        if (sink.open >= n) resolve();
        else waiters.push({ n, resolve });
      }),
    close: async () => {
      clearInterval(tick);
      sink.hold = false;
      for (const r of held.splice(0)) r();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sink.open++;
    sink.maxOpen = Math.max(sink.maxOpen, sink.open);
    for (const w of waiters.filter((x) => sink.open >= x.n)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    sock.on('close', () => {
      sockets.delete(sock);
      sink.open--;
    });
    sock.on('error', () => sock.destroy());
    let buf = '';
    let data: string[] | undefined;
    const reply = (line: string): void => {
      if (!sock.destroyed) sock.write(`${line}\r\n`);
    };
    reply('220 sink.test ESMTP');
    sock.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (data) {
          if (line !== '.') {
            data.push(line);
            continue;
          }
          const subject = /^Subject: (.*)$/m.exec(data.join('\n'))?.[1] ?? '';
          data = undefined;
          const done = (): void => {
            if (sock.destroyed) return; // the client went before the reply: not received
            sink.subjects.push(subject);
            reply('250 2.0.0 queued');
          };
          if (sink.hold) held.push(done);
          else done();
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') reply('250-sink.test\r\n250 8BITMIME');
        else if (verb === 'HELO' || verb === 'MAIL' || verb === 'RCPT' || verb === 'RSET' || verb === 'NOOP') reply('250 2.0.0 ok');
        else if (verb === 'DATA') {
          data = [];
          reply('354 go on');
        } else if (verb === 'QUIT') {
          reply('221 2.0.0 bye');
          sock.end();
        } else reply('500 5.5.1 what');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  sink.port = (server.address() as net.AddressInfo).port;
  // released transactions: when hold turns false, the waiting replies go out
  const tick = setInterval(() => {
    if (!sink.hold) for (const r of held.splice(0)) r();
  }, 20);
  tick.unref();
  return sink;
}
