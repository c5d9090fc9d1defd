/**
 * @module counting-smtp-sink
 * A real SMTP server (loopback) that accepts every message and counts its connections: how
 * many are open now and the most that were open at once; and its transactions in flight (from
 * MAIL to the reply to the final "."), now and at most at once. It can hold the reply to the
 * final "." until released (`hold`), so a test can keep deliveries in flight as long as it needs.
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
  /**
   * connections with a transaction in flight now: from MAIL to the reply to the final "." (or
   * RSET, or the connection's end). Unlike `open`, a connection whose client has its reply and
   * is only closing (QUIT on its way) no longer counts.
   */
  readonly busy: number;
  /** the most transactions that were in flight at once */
  readonly maxBusy: number;
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
    busy: 0,
    maxBusy: 0,
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
    // this connection's transaction in flight (counted in busy)
    let inTransaction = false;
    const endTransaction = (): void => {
      if (!inTransaction) return;
      inTransaction = false;
      sink.busy--;
    };
    sock.on('close', () => {
      sockets.delete(sock);
      sink.open--;
      endTransaction();
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
            // over before the client can know it: its next step (QUIT, the slot given back) comes after
            endTransaction();
            reply('250 2.0.0 queued');
          };
          if (sink.hold) held.push(done);
          else done();
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO') reply('250-sink.test\r\n250 8BITMIME');
        else if (verb === 'MAIL') {
          if (!inTransaction) {
            inTransaction = true;
            sink.busy++;
            sink.maxBusy = Math.max(sink.maxBusy, sink.busy);
          }
          reply('250 2.0.0 ok');
        } else if (verb === 'RSET') {
          endTransaction();
          reply('250 2.0.0 ok');
        } else if (verb === 'HELO' || verb === 'RCPT' || verb === 'NOOP') reply('250 2.0.0 ok');
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
