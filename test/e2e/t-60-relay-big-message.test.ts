/**
 * t-60 (relay of a big message, issue 19): a 20 MB message relayed to a next hop is streamed
 * from the spool to the socket, dot-stuffed on the way, with the socket's backpressure: the
 * delivering process (the server of the default two processes: its acceptor takes the message
 * in) is not made to hold the message, nor a stuffed copy of it. A real SMTP sink on 127.0.0.1
 * (written here: it un-stuffs the data and hashes it as it arrives, keeping nothing) must get
 * the message octet for octet, leading dots and all; the server's resident memory is sampled
 * from /proc from an idle baseline until the sink has the message. The server runs with a 1 MB
 * young generation (`--max-semi-space-size=1`, as t-60's other big-message tests) so that the
 * garbage of a streamed transfer does not hide whether the message is held whole. The message
 * has dotted lines throughout, so every piece is stuffed: each piece used to get a fresh buffer
 * of twice its size, and those piled up until a collection (nothing else allocates in the
 * server meanwhile): the server grew by 14.0 MB here (18.2 MB with only the stuffer's fast path
 * for clean pieces); through one reused buffer (dot-stuffer.ts drained()), by 5.9-6.5 MB, the
 * file stream's own 64 KB pieces. With `[smtp] processes = 1` (the server also takes the
 * message in) 21.2 MB before, 12.5 MB after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { rssDuring, startSmallHeapSite } from '../helpers/process-stats.js';
import { rawSmtpSession } from '../helpers/raw-smtp.js';

const MB = 1024 * 1024;
/** the first line of the messages sent */
const FIRST = 'From: ana@sender.test';

interface Received {
  /** the message from the sender's first line on (dots un-stuffed, CRLF kept), hashed as it came */
  sha256: string;
  octets: number;
  /** the lines before it: what correio added on top (its trace field) */
  added: string;
}

/**
 * A real SMTP sink (PIPELINING, 8BITMIME, SIZE): it un-stuffs each DATA as it arrives (RFC 5321
 * §4.5.2) and keeps only the hash and length of what follows the first line equal to `first`
 * (the lines before it as text); `next()` resolves with the next message received.
 */
async function startHashingSink(first: string): Promise<{ port: number; next(): Promise<Received>; close(): Promise<void> }> {
  const got: Received[] = [];
  const waiters: ((r: Received) => void)[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.write('220 sink.test ESMTP\r\n');
    let pending: Buffer = Buffer.alloc(0);
    let data: { hash: ReturnType<typeof createHash>; octets: number; added: string; started: boolean } | undefined;
    sock.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let at = 0;
      for (let lf = pending.indexOf(0x0a, at); lf >= 0; lf = pending.indexOf(0x0a, at)) {
        const line = pending.subarray(at, lf + 1);
        at = lf + 1;
        if (data) {
          if (line.length === 3 && line[0] === 0x2e) {
            const r = { sha256: data.hash.digest('hex'), octets: data.octets, added: data.added };
            data = undefined;
            sock.write('250 2.0.0 Ok: kept\r\n');
            const w = waiters.shift();
            if (w) w(r);
            else got.push(r);
            continue;
          }
          const text = line[0] === 0x2e ? line.subarray(1) : line;
          data.started ||= text.toString('latin1') === `${first}\r\n`;
          if (!data.started) {
            data.added += text.toString('latin1');
            continue;
          }
          data.hash.update(text);
          data.octets += text.length;
          continue;
        }
        const cmd = line.toString('latin1').trim().toUpperCase();
        if (cmd.startsWith('EHLO')) sock.write('250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600\r\n');
        else if (cmd === 'DATA') {
          data = { hash: createHash('sha256'), octets: 0, added: '', started: false };
          sock.write('354 go ahead\r\n');
        } else if (cmd === 'QUIT') sock.end('221 2.0.0 Bye\r\n');
        else sock.write('250 2.0.0 Ok\r\n');
      }
      pending = pending.subarray(at);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    next: () => new Promise<Received>((resolve) => {
      const r = got.shift();
      if (r) resolve(r);
      else waiters.push(resolve);
    }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A message of about `size` octets whose lines include ones that start with "." (stuffed on the wire). */
function bigMessage(size: number): Buffer[] {
  const head = Buffer.from(`${FIRST}\r\nTo: bia@far.test\r\nSubject: planilha grande\r\nMessage-ID: <big@sender.test>\r\n\r\n`);
  const block = Buffer.from(`${'dados '.repeat(11)}x\r\n.ponto no inicio\r\n..dois pontos\r\n`.repeat(512));
  const parts = [head];
  for (let n = head.length; n < size; n += block.length) parts.push(block);
  parts.push(Buffer.from('fim\r\n'));
  return parts;
}

/** The DATA form of `parts`: leading dots doubled (the parts' lines never straddle two parts), then the end. */
function stuffed(parts: readonly Buffer[]): Buffer[] {
  return [...parts.map((p) => Buffer.from(p.toString('latin1').replace(/(^|\r\n)\./g, '$1..'), 'latin1')), Buffer.from('.\r\n')];
}

test('a 20 MB message relayed to a next hop: streamed with backpressure, the server grows by less than 12 MB, and the next hop gets it octet for octet', { skip: existsSync('/proc/self/status') ? false : 'needs /proc (Linux)' }, async (t) => {
  const sink = await startHashingSink(FIRST);
  const site = await startSmallHeapSite({
    domains: ['localhost'],
    tables: `[delivery.routes]\n"far.test" = "smtp:[127.0.0.1]:${sink.port}"\n`,
  });
  try {
    const pid = site.child!.pid!;
    const send = async (parts: readonly Buffer[]): Promise<void> => {
      const s = await rawSmtpSession(site.port, 'sender.test');
      try {
        assert.match(await s.cmd('MAIL FROM:<ana@sender.test>'), /^250/);
        assert.match(await s.cmd('RCPT TO:<bia@far.test>'), /^250/);
        assert.match(await s.cmd('DATA'), /^354/);
        assert.match(await s.send(stuffed(parts)), /^250/);
        await s.cmd('QUIT');
      } finally {
        s.close();
      }
    };
    // a small one first: every code path of a relay loaded before the baseline
    const small = [Buffer.from(`${FIRST}\r\nSubject: first\r\n\r\n.small\r\n`)];
    await send(small);
    const first = await sink.next();
    assert.equal(first.octets, small[0].length);
    assert.equal(first.sha256, createHash('sha256').update(small[0]).digest('hex'));

    const parts = bigMessage(20 * MB);
    const want = createHash('sha256');
    for (const p of parts) want.update(p);
    const size = parts.reduce((n, p) => n + p.length, 0);
    let received: Received | undefined;
    const { baseline, peak } = await rssDuring(pid, async () => {
      await send(parts);
      received = await sink.next();
    });
    const growth = peak - baseline;
    t.diagnostic(`server RSS baseline ${(baseline / MB).toFixed(1)} MB, peak ${(peak / MB).toFixed(1)} MB, growth ${(growth / MB).toFixed(1)} MB`);
    // the next hop has it whole: the sender's octets, after correio's trace field
    assert.ok(received);
    assert.equal(received.octets, size);
    assert.equal(received.sha256, want.digest('hex'));
    assert.match(received.added, /^Received: from sender\.test /);
    assert.ok(growth < 12 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB`);
  } finally {
    await site.destroy();
    await sink.close();
  }
});

