import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { SmtpServer } from './index.js';
import { RecordingIntake } from '../../../test/helpers/recording-intake.js';
import { LineClient } from '../../../test/helpers/net.js';

const TOTAL = 100 * 1024 * 1024;

void test('a 100 MB message streams through with backpressure (never buffered whole)', async (t) => {
  const intake = await RecordingIntake.create();
  const server = new SmtpServer({ intake, hostname: 'mx.test', maxMessageSize: 200 * 1024 * 1024 });
  await server.listen([{ host: '127.0.0.1', port: 0, mode: 'mx' }]);
  try {
    const c = await LineClient.connect(server.addresses()[0].port);
    await c.readReply();
    await c.command('EHLO client.test');
    assert.equal(await c.command(`MAIL FROM:<a@x.test> SIZE=${TOTAL}`), '250 2.1.0 OK');
    assert.equal(await c.command('RCPT TO:<s@dc.uece.br>'), '250 2.1.5 OK');

    // bytes the client has handed to its socket vs bytes the intake has read
    let sent = 0;
    let received = 0;
    let maxGap = 0;
    let chunks = 0;
    const rss0 = process.memoryUsage().rss;
    let maxRss = rss0;
    intake.onChunk = async (chunk) => {
      received += chunk.length;
      chunks++;
      maxGap = Math.max(maxGap, sent - received);
      if (chunks % 64 === 0) maxRss = Math.max(maxRss, process.memoryUsage().rss);
      // a slow reader at first: if the server buffered, the gap would grow to the whole message
      if (chunks <= 20) await delay(10);
    };

    assert.match((await c.command('DATA'))!, /^354/);

    // one 64 KB block of 78-octet lines, written again and again (the message is never in memory)
    const line = 'x'.repeat(76) + '\r\n';
    const block = Buffer.from(line.repeat(Math.floor(65536 / line.length)));
    const socket = c.socket;
    while (sent < TOTAL) {
      const piece = TOTAL - sent >= block.length ? block : block.subarray(0, Math.floor((TOTAL - sent) / line.length) * line.length);
      if (piece.length === 0) break;
      sent += piece.length;
      if (!socket.write(piece)) await new Promise((r) => socket.once('drain', r));
    }
    socket.write('.\r\n');
    assert.equal(await c.readReply(60000), '250 2.0.0 OK');
    c.close();

    assert.equal(intake.messages.length, 1);
    assert.equal(intake.messages[0].size, sent);
    assert.equal(statSync(intake.messages[0].file).size, sent);
    assert.ok(chunks > 100, `the intake received the body progressively (${chunks} chunks)`);
    // socket buffers + the session's 256 KB input buffer + stream high-water marks, nowhere near 100 MB
    assert.ok(maxGap < 32 * 1024 * 1024, `in flight at most ${maxGap} octets`);
    t.diagnostic(`max in flight ${(maxGap / 1048576).toFixed(1)} MB; rss growth ${((maxRss - rss0) / 1048576).toFixed(1)} MB`);
  } finally {
    await server.close();
    await intake.cleanup();
  }
});
