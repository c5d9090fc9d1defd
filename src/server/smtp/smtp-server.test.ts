import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import net from 'node:net';
import diagnostics from 'node:diagnostics_channel';
import { SmtpServer, type SmtpServerOptions } from './index.js';
import { RecordingIntake } from '../../../test/helpers/recording-intake.js';
import { LineClient } from '../../../test/helpers/net.js';
import { corporaDir, corporaSkip } from '../../../test/helpers/paths.js';
import { MailError, channels, replies } from '../../core/index.js';

async function withServer(
  opts: Partial<SmtpServerOptions>,
  f: (port: number, intake: RecordingIntake, server: SmtpServer) => Promise<void>,
): Promise<void> {
  const intake = await RecordingIntake.create();
  const server = new SmtpServer({ intake, hostname: 'mx.test', isLocalDomain: intake.isLocalDomain, ...opts });
  await server.listen([{ host: '127.0.0.1', port: 0, mode: 'mx' }]);
  try {
    await f(server.addresses()[0].port, intake, server);
  } finally {
    await server.close();
    await intake.cleanup();
  }
}

async function ehlo(port: number): Promise<LineClient> {
  const c = await LineClient.connect(port);
  assert.match((await c.readReply())!, /^220 /);
  assert.match((await c.command('EHLO client.test'))!, /^250-mx.test/);
  return c;
}

void test('PIPELINING: MAIL, 3 RCPT and DATA in one write; replies in order', async () => {
  await withServer({}, async (port, intake) => {
    const c = await ehlo(port);
    c.write('MAIL FROM:<a@x.test>\r\nRCPT TO:<suzana@dc.uece.br>\r\nRCPT TO:<jacques@dc.uece.br>\r\nRCPT TO:<pascal@dc.uece.br>\r\nDATA\r\n');
    assert.equal(await c.readReply(), '250 2.1.0 OK');
    assert.equal(await c.readReply(), '250 2.1.5 OK');
    assert.equal(await c.readReply(), '550 5.1.1 No such user here');
    assert.equal(await c.readReply(), '250 2.1.5 OK');
    assert.match((await c.readReply())!, /^354 /);
    // body, end of data and the next transaction in one write
    c.write('hello\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<suzana@dc.uece.br>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n');
    assert.equal(await c.readReply(), '250 2.0.0 OK');
    assert.equal(await c.readReply(), '250 2.1.0 OK');
    assert.equal(await c.readReply(), '250 2.1.5 OK');
    assert.match((await c.readReply())!, /^354 /);
    assert.equal(await c.readReply(), '250 2.0.0 OK');
    assert.match((await c.readReply())!, /^221 /);
    c.close();
    assert.equal(intake.messages.length, 2);
    assert.equal(readFileSync(intake.messages[0].file, 'latin1'), 'hello\r\n');
    assert.equal(intake.messages[1].tx.sender, null);
    assert.equal(intake.messages[0].tx.recipients.length, 2);
  });
});

void test('DSN and MAIL parameters reach the intake', async () => {
  await withServer({}, async (port, intake) => {
    const c = await ehlo(port);
    assert.equal(await c.command('MAIL FROM:<a@x.test> RET=HDRS ENVID=QQ+2B1 SIZE=100 BODY=8BITMIME'), '250 2.1.0 OK');
    assert.equal(await c.command('RCPT TO:<suzana@dc.uece.br> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;s+2Bx@dc.uece.br'), '250 2.1.5 OK');
    assert.deepEqual(intake.senders[0].mail, { ret: 'HDRS', envid: 'QQ+1', size: 100, body: '8BITMIME' });
    assert.deepEqual(intake.recipients[0].dsn, { notify: ['SUCCESS', 'DELAY'], orcpt: 'rfc822;s+x@dc.uece.br' });
    assert.equal(intake.senders[0].session.protocol, 'ESMTP');
    assert.equal(intake.senders[0].session.mayRelay, false);
    c.close();
  });
});

void test('trusted networks may relay; others get 554 5.7.1 Relay access denied', async () => {
  await withServer({ trustedNetworks: ['127.0.0.0/8'] }, async (port) => {
    const c = await ehlo(port);
    await c.command('MAIL FROM:<a@x.test>');
    assert.equal(await c.command('RCPT TO:<someone@elsewhere.test>'), '250 2.1.5 OK');
    c.close();
  });
  await withServer({ trustedNetworks: ['10.0.0.0/8'] }, async (port) => {
    const c = await ehlo(port);
    await c.command('MAIL FROM:<a@x.test>');
    assert.equal(await c.command('RCPT TO:<someone@elsewhere.test>'), '554 5.7.1 Relay access denied');
    c.close();
  });
});

const smugglingRel = 'smtp/smtp-smuggling-end-of-data-sequences.json';
void test('SMTP smuggling: every corpus sequence gives at most one message and no second transaction', { skip: corporaSkip(smugglingRel) }, async () => {
  const corpus = JSON.parse(readFileSync(join(corporaDir, smugglingRel), 'utf8')) as { sequences: { sequence_hex: string }[] };
  await withServer({}, async (port, intake) => {
    for (const { sequence_hex } of corpus.sequences) {
      const before = intake.messages.length;
      const rcptsBefore = intake.recipients.length;
      const c = await ehlo(port);
      assert.equal(await c.command('MAIL FROM:<a@x.test>'), '250 2.1.0 OK');
      assert.equal(await c.command('RCPT TO:<suzana@dc.uece.br>'), '250 2.1.5 OK');
      assert.match((await c.command('DATA'))!, /^354 /);
      c.write(Buffer.concat([
        Buffer.from('Subject: test\r\n\r\nbody'),
        Buffer.from(sequence_hex, 'hex'),
        Buffer.from('MAIL FROM:<evil@x.test>\r\nRCPT TO:<pascal@dc.uece.br>\r\nDATA\r\nsmuggled\r\n'),
        Buffer.from('\r\n.\r\n'),
      ]));
      const r = (await c.readReply())!;
      // exactly one reply for the DATA: accepted (no bare CR/LF) or 554 5.6.0
      assert.match(r, /^(250 2\.0\.0 OK|554 5\.6\.0 .*)$/, sequence_hex);
      assert.equal(await c.command('NOOP'), '250 2.0.0 OK', `${sequence_hex}: nothing else was answered`);
      c.close();
      const added = intake.messages.length - before;
      assert.ok(added <= 1, sequence_hex);
      assert.equal(intake.recipients.length - rcptsBefore, 1, `${sequence_hex}: no smuggled RCPT`);
      if (r.startsWith('250')) {
        assert.ok(readFileSync(intake.messages[intake.messages.length - 1].file, 'latin1').includes('smuggled'));
      } else assert.equal(added, 0, sequence_hex);
    }
  });
});

void test('hannob pipelining case: two messages in one write are two proper transactions', async () => {
  await withServer({}, async (port, intake) => {
    const c = await ehlo(port);
    c.write('MAIL FROM:<a@x.test>\r\nRCPT TO:<suzana@dc.uece.br>\r\nDATA\r\none\r\n.\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<pascal@dc.uece.br>\r\nDATA\r\ntwo\r\n.\r\n');
    const got = [];
    for (let i = 0; i < 8; i++) got.push((await c.readReply())!.slice(0, 3));
    assert.deepEqual(got, ['250', '250', '354', '250', '250', '250', '354', '250']);
    c.close();
    assert.equal(intake.messages.length, 2);
  });
});

void test('limits: command line 512, text line 1000, recipients, SIZE at MAIL and while streaming', async () => {
  await withServer({ maxMessageSize: 2000, maxRecipients: 100 }, async (port, intake) => {
    const c = await ehlo(port);
    assert.equal(await c.command('NOOP ' + 'x'.repeat(600)), '500 5.5.6 Line too long');
    assert.equal(await c.command('NOOP ' + 'x'.repeat(20000)), '500 5.5.6 Line too long');
    assert.equal(await c.command('MAIL FROM:<a@x.test> SIZE=2001'), '552 5.3.4 Message size exceeds fixed maximum message size');
    assert.equal(await c.command('MAIL FROM:<a@x.test> SIZE=2000'), '250 2.1.0 OK');
    for (let i = 0; i < 100; i++) c.write(`RCPT TO:<u${i}@dc.uece.br>\r\n`);
    for (let i = 0; i < 100; i++) assert.equal(await c.readReply(), '250 2.1.5 OK');
    assert.equal(await c.command('RCPT TO:<u100@dc.uece.br>'), '452 4.5.3 Too many recipients');
    assert.match((await c.command('DATA'))!, /^354/);
    c.write('x'.repeat(1500) + '\r\n' + 'y'.repeat(1500) + '\r\n.\r\n');
    assert.equal(await c.readReply(), '552 5.5.6 Message line exceeds 1000 octets');
    await c.command('MAIL FROM:<a@x.test>');
    await c.command('RCPT TO:<u@dc.uece.br>');
    assert.match((await c.command('DATA'))!, /^354/);
    c.write(('z'.repeat(98) + '\r\n').repeat(30) + '.\r\n');
    assert.equal(await c.readReply(), '552 5.3.4 Message size exceeds fixed maximum message size');
    assert.equal(await c.command('NOOP'), '250 2.0.0 OK', 'the session stays usable');
    c.close();
    assert.equal(intake.messages.length, 0);
  });
});

void test('DATA: a body up to 64 KB reaches the intake whole, a larger one streams; a flawed body never reaches it', async () => {
  await withServer({}, async (port, intake) => {
    const c = await ehlo(port);
    const send = async (pieces: string[]): Promise<string | undefined> => {
      await c.command('MAIL FROM:<a@x.test>');
      await c.command('RCPT TO:<s@dc.uece.br>');
      assert.match((await c.command('DATA'))!, /^354/);
      for (const p of pieces) c.write(p);
      c.write('.\r\n');
      return c.readReply();
    };
    const line = 'l'.repeat(98) + '\r\n';
    assert.equal(await send(['Subject: small\r\n\r\n', '..dot\r\n', 'end\r\n']), '250 2.0.0 OK');
    assert.equal(intake.wholeBodies, 1);
    assert.equal(readFileSync(intake.messages[0].file, 'latin1'), 'Subject: small\r\n\r\n.dot\r\nend\r\n');
    // 63 KB: still whole
    assert.equal(await send([line.repeat(630)]), '250 2.0.0 OK');
    assert.equal(intake.wholeBodies, 2);
    assert.equal(readFileSync(intake.messages[1].file, 'latin1'), line.repeat(630));
    // 200 KB in 10 KB writes: streamed from the write that passes 64 KB, nothing lost or doubled
    const big = Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(98, 'b') + '\r\n' + line.repeat(99));
    assert.equal(await send(big), '250 2.0.0 OK');
    assert.equal(intake.wholeBodies, 2);
    assert.equal(readFileSync(intake.messages[2].file, 'latin1'), big.join(''));
    // a bare LF in a small body: refused after the end of data, the intake never called
    const calls = intake.receiveCalls;
    assert.match((await send(['Subject: bad\r\n\r\nbare\nLF\r\n']))!, /^5\d\d /);
    assert.equal(intake.receiveCalls, calls);
    assert.equal(await c.command('NOOP'), '250 2.0.0 OK');
    c.close();
    assert.equal(intake.messages.length, 3);
  });
});

void test('too many errors → 421', async () => {
  await withServer({ maxErrors: 3 }, async (port) => {
    const c = await ehlo(port);
    assert.match((await c.command('BOGUS'))!, /^500/);
    assert.match((await c.command('BOGUS'))!, /^500/);
    assert.match((await c.command('BOGUS'))!, /^500/);
    assert.equal(await c.readReply(), '421 4.7.0 mx.test Too many errors, closing connection');
    assert.equal(await c.readLine(), undefined);
  });
});

void test('connections per IP and in total → 421 4.7.0', async () => {
  await withServer({ maxConnectionsPerIp: 2, maxConnections: 3 }, async (port, _intake, server) => {
    const a = await LineClient.connect(port);
    const b = await LineClient.connect(port);
    assert.match((await a.readReply())!, /^220 /);
    assert.match((await b.readReply())!, /^220 /);
    const c = await LineClient.connect(port);
    assert.equal(await c.readReply(), '421 4.7.0 mx.test Too many connections, try again later');
    assert.equal(await c.readLine(), undefined);
    while (server.connections > 2) await new Promise((r) => setTimeout(r, 10));
    // another loopback address is another client: allowed per IP, refused in total past 3
    const d = await LineClient.connect(port, '127.0.0.1', '127.0.0.2');
    assert.match((await d.readReply())!, /^220 /);
    const e = await LineClient.connect(port, '127.0.0.1', '127.0.0.3');
    assert.match((await e.readReply())!, /^421 4\.7\.0/);
    for (const x of [a, b, c, d, e]) x.close();
  });
});

void test('timeouts: command and DATA → 421 and close', async () => {
  await withServer({ commandTimeoutMs: 200, dataTimeoutMs: 200 }, async (port, intake) => {
    const c = await ehlo(port);
    assert.equal(await c.readReply(), '421 4.4.2 mx.test Timeout exceeded, closing connection');
    assert.equal(await c.readLine(), undefined);
    const d = await ehlo(port);
    await d.command('MAIL FROM:<a@x.test>');
    await d.command('RCPT TO:<s@dc.uece.br>');
    assert.match((await d.command('DATA'))!, /^354/);
    d.write('partial body\r\n');
    assert.match((await d.readReply())!, /^421 4\.4\.2/);
    assert.equal(await d.readLine(), undefined);
    assert.equal(intake.messages.length, 0);
  });
});

void test('BDAT: chunks, LAST, pipelined next command, and bare LF refused', async () => {
  await withServer({}, async (port, intake) => {
    const c = await ehlo(port);
    c.write('MAIL FROM:<a@x.test>\r\nRCPT TO:<s@dc.uece.br>\r\nBDAT 6\r\nabc\r\nd');
    assert.equal(await c.readReply(), '250 2.1.0 OK');
    assert.equal(await c.readReply(), '250 2.1.5 OK');
    assert.equal(await c.readReply(), '250 2.0.0 6 octets received');
    c.write('BDAT 3 LAST\r\ne\r\nNOOP\r\n');
    assert.equal(await c.readReply(), '250 2.0.0 OK');
    assert.equal(await c.readReply(), '250 2.0.0 OK');
    assert.equal(readFileSync(intake.messages[0].file, 'latin1'), 'abc\r\nde\r\n');
    // BDAT without a transaction: the chunk is still read and discarded
    c.write('BDAT 5 LAST\r\nQUIT\rNOOP\r\n');
    assert.equal(await c.readReply(), '503 5.5.1 Need MAIL command');
    assert.equal(await c.readReply(), '250 2.0.0 OK');
    c.write('MAIL FROM:<a@x.test>\r\nRCPT TO:<s@dc.uece.br>\r\nBDAT 4 LAST\r\na\nb\n');
    await c.readReply();
    await c.readReply();
    assert.equal(await c.readReply(), '554 5.6.0 Message contains bare CR or LF; lines must end with <CRLF>');
    assert.equal(await c.command('DATA'), '503 5.5.1 Need MAIL command');
    c.close();
    assert.equal(intake.messages.length, 1);
  });
});

void test('intake I/O errors give 451/452 and the connection stays usable', async () => {
  await withServer({}, async (port, intake) => {
    intake.failWith = new MailError(replies.insufficientStorage());
    const c = await ehlo(port);
    await c.command('MAIL FROM:<a@x.test>');
    await c.command('RCPT TO:<s@dc.uece.br>');
    await c.command('DATA');
    assert.equal(await c.command('body\r\n.'), '452 4.3.1 Insufficient system storage');
    intake.failWith = new Error('EIO: disk on fire');
    await c.command('MAIL FROM:<a@x.test>');
    await c.command('RCPT TO:<s@dc.uece.br>');
    await c.command('DATA');
    assert.equal(await c.command('body\r\n.'), '451 4.3.0 Requested action aborted: local error in processing');
    intake.failWith = undefined;
    await c.command('MAIL FROM:<a@x.test>');
    await c.command('RCPT TO:<s@dc.uece.br>');
    await c.command('DATA');
    assert.equal(await c.command('body\r\n.'), '250 2.0.0 OK');
    c.close();
  });
});

void test('events are published on diagnostics_channel', async () => {
  const seen: string[] = [];
  const onReceived = (m: unknown) => seen.push(`received ${(m as { recipients: string[] }).recipients.join(',')}`);
  const onRejected = (m: unknown) => seen.push(`rejected ${(m as { stage: string }).stage}`);
  diagnostics.subscribe(channels.received, onReceived);
  diagnostics.subscribe(channels.rejected, onRejected);
  try {
    await withServer({}, async (port) => {
      const c = await ehlo(port);
      await c.command('MAIL FROM:<a@x.test>');
      await c.command('RCPT TO:<jacques@dc.uece.br>');
      await c.command('RCPT TO:<s@dc.uece.br>');
      await c.command('DATA');
      await c.command('x\r\n.');
      c.close();
    });
  } finally {
    diagnostics.unsubscribe(channels.received, onReceived);
    diagnostics.unsubscribe(channels.rejected, onRejected);
  }
  // `received` is intake's event (it covers every source); the session publishes only refusals,
  // so a message accepted over SMTP is logged once.
  assert.deepEqual(seen, ['rejected rcpt']);
});

void test('close(): idle sessions get 421, a transaction in progress finishes first', async () => {
  const intake = await RecordingIntake.create();
  const server = new SmtpServer({ intake, hostname: 'mx.test', closeTimeoutMs: 5000 });
  await server.listen([{ host: '127.0.0.1', port: 0, mode: 'mx' }]);
  const port = server.addresses()[0].port;
  const idle = await ehlo(port);
  const busy = await ehlo(port);
  await busy.command('MAIL FROM:<a@x.test>');
  await busy.command('RCPT TO:<s@dc.uece.br>');
  await busy.command('DATA');
  const closing = server.close();
  assert.equal(await idle.readReply(), '421 4.3.2 mx.test Service not available, closing transmission channel');
  busy.write('still here\r\n.\r\n');
  assert.equal(await busy.readReply(), '250 2.0.0 OK');
  assert.match((await busy.readReply())!, /^421 /);
  await closing;
  assert.equal(intake.messages.length, 1);
  await intake.cleanup();
});

void test('VRFY and EXPN: 252 and 502 without hooks; the hooks answer with the session they see', async () => {
  await withServer({}, async (port) => {
    const c = await ehlo(port);
    assert.equal(await c.command('VRFY suzana'), '252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery');
    assert.equal(await c.command('EXPN staff'), '502 5.5.1 Command not implemented');
    c.close();
  });
  const seen: string[] = [];
  await withServer(
    {
      trustedNetworks: ['127.0.0.1/32'],
      vrfy: async (s, arg) => {
        seen.push(`vrfy ${arg} ${s.mayRelay}`);
        return replies.verified('suzana@dc.uece.br');
      },
      expn: async (s, arg) => {
        seen.push(`expn ${arg} ${s.mayRelay}`);
        return { code: 250, status: '2.1.5', lines: ['<a@x.test>', '<b@y.test>'] };
      },
    },
    async (port) => {
      const c = await ehlo(port);
      assert.equal(await c.command('VRFY suzana'), '250 2.1.5 <suzana@dc.uece.br>');
      assert.equal(await c.command('EXPN staff@dc.uece.br'), '250-2.1.5 <a@x.test>\n250 2.1.5 <b@y.test>');
      assert.equal(await c.command('EXPN'), '501 5.5.4 Syntax error in parameters or arguments');
      c.close();
    },
  );
  assert.deepEqual(seen, ['vrfy suzana true', 'expn staff@dc.uece.br true']);
});

void test('PIPELINING: the replies to one batch of commands leave in one write', async () => {
  const proto = net.Socket.prototype;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the socket as `this`
  const origWrite = proto.write;
  const writes: string[] = [];
  let serverPort = -1;
  proto.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
    if (this.localPort === serverPort && this.remotePort !== serverPort) writes.push(String(args[0]));
    return origWrite.apply(this, args);
  } as net.Socket['write'];
  try {
    await withServer({}, async (port) => {
      serverPort = port;
      const c = await ehlo(port);
      writes.length = 0;
      c.write('MAIL FROM:<a@x.test>\r\nRCPT TO:<suzana@dc.uece.br>\r\nRCPT TO:<jacques@dc.uece.br>\r\nRCPT TO:<pascal@dc.uece.br>\r\nDATA\r\n');
      for (let i = 0; i < 5; i++) await c.readReply();
      assert.equal(writes.length, 1, `replies written in ${writes.length} writes`);
      assert.match(writes[0], /^250 2\.1\.0 OK\r\n250 2\.1\.5 OK\r\n550 5\.1\.1 No such user here\r\n250 2\.1\.5 OK\r\n354 /);
      c.close();
    });
  } finally {
    proto.write = origWrite;
  }
});
