/**
 * Issue 12 items 2 and 5 over real sockets: a client that pipelines without reading replies
 * makes the server stop reading (its unsent replies stay bounded); a command line or a DATA
 * body trickled one octet at a time is cut off with 421 4.4.2, because the timeouts count
 * whole lines and the whole DATA phase, not the gaps between octets. Bounded in count and
 * time; no timing is asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { SmtpServer, type SmtpServerOptions } from './index.js';
import { RecordingIntake } from '../../../test/helpers/recording-intake.js';
import { LineClient } from '../../../test/helpers/net.js';

async function withServer(opts: Partial<SmtpServerOptions>, f: (port: number, server: SmtpServer) => Promise<void>): Promise<void> {
  const intake = await RecordingIntake.create();
  const server = new SmtpServer({ intake, hostname: 'mx.test', closeTimeoutMs: 100, ...opts });
  await server.listen([{ host: '127.0.0.1', port: 0, mode: 'mx' }]);
  try {
    await f(server.addresses()[0].port, server);
  } finally {
    await server.close();
    await intake.cleanup();
  }
}

/** Sends `text` one octet every `gapMs` until the server answers or closes; at most `max` octets. */
async function trickle(c: LineClient, text: string, gapMs: number): Promise<number> {
  let sent = 0;
  for (const ch of text) {
    if (c.pending() !== '' || c.closed) break;
    c.write(ch);
    sent++;
    await sleep(gapMs);
  }
  return sent;
}

void test('a client pipelining EHLO without reading: the server stops reading its input', async () => {
  await withServer({}, async (port, server) => {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.on('error', () => undefined);
    sock.pause(); // never read a reply
    const chunk = Buffer.from('EHLO a\r\n'.repeat(8192)); // 64 KB of commands, ~1.7 MB of replies
    const total = 24 * 1024 * 1024;
    let written = 0;
    let stalled = false;
    while (written < total) {
      written += chunk.length;
      if (!sock.write(chunk)) {
        // the server reads on while it can answer; once it stops, 'drain' never comes
        const drained = await Promise.race([new Promise((r) => sock.once('drain', () => r(true))), sleep(3000).then(() => false)]);
        if (!drained) {
          stalled = true;
          break;
        }
      }
    }
    assert.ok(stalled, `the server read all ${written} octets of pipelined commands without its replies being read`);
    assert.ok(sock.writableLength > 0, 'commands wait in the client, not in the server');
    // the session is still there and ends when the client goes
    assert.equal(server.connections, 1);
    sock.destroy();
    for (let i = 0; i < 100 && server.connections > 0; i++) await sleep(20);
    assert.equal(server.connections, 0);
  });
});

void test('a command line trickled one octet at a time is closed with 421 4.4.2', async () => {
  await withServer({ commandTimeoutMs: 400 }, async (port) => {
    const c = await LineClient.connect(port);
    assert.match((await c.readReply())!, /^220 /);
    assert.match((await c.command('EHLO client.test'))!, /^250/);
    // 80 octets at one per 50 ms would take 4 s; each octet used to restart the timer
    const sent = await trickle(c, `NOOP ${'x'.repeat(75)}`, 50);
    assert.ok(sent < 80, 'cut off before the line was complete');
    assert.equal(await c.readReply(), '421 4.4.2 mx.test Timeout exceeded, closing connection');
    assert.equal(await c.readReply(), undefined);
  });
});

void test('a DATA body trickled one octet at a time is closed with 421 4.4.2', async () => {
  await withServer({ dataTimeoutMs: 400, minDataRate: 500 }, async (port) => {
    const c = await LineClient.connect(port);
    await c.readReply();
    assert.match((await c.command('EHLO client.test'))!, /^250/);
    assert.equal(await c.command('MAIL FROM:<a@x.test>'), '250 2.1.0 OK');
    assert.equal(await c.command('RCPT TO:<suzana@dc.uece.br>'), '250 2.1.5 OK');
    assert.match((await c.command('DATA'))!, /^354 /);
    // 20 octets a second is far below the 500 a second the budget grows by
    const sent = await trickle(c, `Subject: slow\r\n\r\n${'y'.repeat(60)}\r\n.\r\n`, 50);
    assert.ok(sent < 80, 'cut off before the end of data');
    assert.equal(await c.readReply(), '421 4.4.2 mx.test Timeout exceeded, closing connection');
  });
});

void test('a BDAT chunk trickled one octet at a time is closed with 421 4.4.2', async () => {
  await withServer({ dataTimeoutMs: 400, minDataRate: 500 }, async (port) => {
    const c = await LineClient.connect(port);
    await c.readReply();
    await c.command('EHLO client.test');
    assert.equal(await c.command('MAIL FROM:<a@x.test>'), '250 2.1.0 OK');
    assert.equal(await c.command('RCPT TO:<suzana@dc.uece.br>'), '250 2.1.5 OK');
    c.write('BDAT 80 LAST\r\n');
    const sent = await trickle(c, 'z'.repeat(80), 50);
    assert.ok(sent < 80, 'cut off before the chunk was complete');
    assert.equal(await c.readReply(), '421 4.4.2 mx.test Timeout exceeded, closing connection');
  });
});
