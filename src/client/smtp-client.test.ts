import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { SmtpClient, SmtpClientError, parseExtensions } from './index.js';
import { startScriptedPeer, type ScriptedPeer } from '../../test/helpers/scripted-smtp-peer.js';

const short = { greeting: 2000, command: 2000, mail: 2000, rcpt: 2000, dataInit: 2000, dataBlock: 2000, dataTerm: 2000, quit: 500 };
const peers: ScriptedPeer[] = [];
after(async () => Promise.all(peers.map((p) => p.close())));

async function peer(opts: Parameters<typeof startScriptedPeer>[0] = {}): Promise<ScriptedPeer> {
  const p = await startScriptedPeer(opts);
  peers.push(p);
  return p;
}
function connect(p: ScriptedPeer, extra: Partial<Parameters<typeof SmtpClient.connect>[0]> = {}): Promise<SmtpClient> {
  return SmtpClient.connect({ host: p.host, port: p.port, helo: 'client.test', timeouts: short, ...extra });
}
const body = (s: string) => () => Readable.from([Buffer.from(s, 'latin1')]);

void test('parseExtensions reads the EHLO keywords', () => {
  const e = parseExtensions({ code: 250, lines: ['mx greets', 'PIPELINING', 'SIZE 1000', '8BITMIME', 'AUTH PLAIN LOGIN', 'DSN', 'size'] });
  assert.equal(e.pipelining, true);
  assert.equal(e.size, 1000);
  assert.equal(e.eightBitMime, true);
  assert.deepEqual(e.auth, ['PLAIN', 'LOGIN']);
  assert.equal(e.starttls, false);
});

void test('a pipelined transaction with per-recipient replies', async () => {
  const p = await peer({ script: { RCPT: (to) => (to.startsWith('jacques') ? '550 5.1.1 No such user here' : '250 2.1.5 OK') } });
  const c = await connect(p);
  assert.equal(c.extensions.pipelining, true);
  const r = await c.send({
    sender: 'helvecio@dsc.ufpb.br',
    recipients: [
      { address: 'suzana@dc.uece.br', dsn: { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;suzana@dc.uece.br' } },
      { address: 'jacques@dc.uece.br' },
      { address: 'pascal@dc.uece.br' },
    ],
    params: { size: 20, body: '8BITMIME', envid: 'x=1', ret: 'HDRS' },
    body: body('Subject: hi\r\n\r\n.dot\r\nolá'),
  });
  assert.deepEqual(r.final.map((x) => x.code), [250, 550, 250]);
  assert.equal(r.final[1].status, '5.1.1');
  assert.equal(p.messages.length, 1);
  assert.deepEqual(p.messages[0].rcptTo, ['suzana@dc.uece.br', 'pascal@dc.uece.br']);
  assert.equal(p.messages[0].data.toString('latin1'), 'Subject: hi\r\n\r\n.dot\r\nolá\r\n');
  assert.match(p.messages[0].wire.toString('latin1'), /\r\n\.\.dot\r\n/);
  assert.ok(p.commands.includes('MAIL FROM:<helvecio@dsc.ufpb.br> SIZE=20 BODY=8BITMIME RET=HDRS ENVID=x+3D1'));
  assert.ok(p.commands.includes('RCPT TO:<suzana@dc.uece.br> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;suzana@dc.uece.br'));
  // reuse on the same connection
  const r2 = await c.send({ sender: '', recipients: [{ address: 'suzana@dc.uece.br' }], body: body('x\r\n') });
  assert.equal(r2.final[0].code, 250);
  assert.equal(p.connections, 1);
  assert.equal(p.messages[1].mailFrom, '');
  await c.quit();
  assert.equal(p.commands.at(-1), 'QUIT');
});

void test('no accepted recipient: pipelined DATA refused, no body; RSET goes with the next transaction', async () => {
  const p = await peer({ script: { RCPT: (to) => (to === 'x@y.z' ? '451 4.3.0 Try later' : '250 2.1.5 OK') } });
  const c = await connect(p);
  const r = await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: body('x') });
  assert.equal(r.final[0].code, 451);
  // RFC 2920 §3.1: DATA ended the group; the server refused it, so no body was sent
  assert.equal(r.data?.code, 503);
  assert.deepEqual(p.commands.slice(1), ['MAIL FROM:<a@b.c>', 'RCPT TO:<x@y.z>', 'DATA']);
  assert.equal(p.messages.length, 0);
  assert.equal(c.usable, true);
  assert.equal(c.needsReset, true);
  // the transaction left open is reset in the same group as the next one
  const r2 = await c.send({ sender: 'a@b.c', recipients: [{ address: 'ok@y.z' }], body: body('x\r\n') });
  assert.equal(r2.final[0].code, 250);
  assert.deepEqual(p.commands.slice(4), ['RSET', 'MAIL FROM:<a@b.c>', 'RCPT TO:<ok@y.z>', 'DATA']);
  assert.equal(c.needsReset, false);
  // after a completed transaction: no RSET
  await c.send({ sender: 'a@b.c', recipients: [{ address: 'ok@y.z' }], body: body('y\r\n') });
  assert.deepEqual(p.commands.slice(8), ['MAIL FROM:<a@b.c>', 'RCPT TO:<ok@y.z>', 'DATA']);
  assert.equal(p.messages.length, 2);
  assert.equal(p.connections, 1);
  c.close();
});

void test('without PIPELINING: no DATA when no recipient was accepted, RSET before the next MAIL', async () => {
  const p = await peer({ extensions: ['ENHANCEDSTATUSCODES'], script: { RCPT: (to) => (to === 'x@y.z' ? '550 5.1.1 No such user here' : '250 2.1.5 OK') } });
  const c = await connect(p);
  const r = await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: body('x') });
  assert.equal(r.final[0].code, 550);
  assert.equal(r.data, undefined);
  const r2 = await c.send({ sender: 'a@b.c', recipients: [{ address: 'ok@y.z' }], body: body('x\r\n') });
  assert.equal(r2.final[0].code, 250);
  await c.send({ sender: 'a@b.c', recipients: [{ address: 'ok@y.z' }], body: body('x\r\n') });
  assert.deepEqual(p.commands.slice(1), [
    'MAIL FROM:<a@b.c>', 'RCPT TO:<x@y.z>',
    'RSET', 'MAIL FROM:<a@b.c>', 'RCPT TO:<ok@y.z>', 'DATA',
    'MAIL FROM:<a@b.c>', 'RCPT TO:<ok@y.z>', 'DATA',
  ]);
  c.close();
});

void test('DATA refused after accepted recipients: the transaction is reset before the next one', async () => {
  let first = true;
  const p = await peer({
    script: {
      DATA: () => {
        const a = first ? '451 4.3.0 Try later' : '354 go ahead';
        first = false;
        return a;
      },
    },
  });
  const c = await connect(p);
  const r = await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: body('x') });
  assert.equal(r.final[0].code, 451);
  assert.equal(r.data?.code, 451);
  const r2 = await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: body('x\r\n') });
  assert.equal(r2.final[0].code, 250);
  assert.deepEqual(p.commands.slice(4), ['RSET', 'MAIL FROM:<a@b.c>', 'RCPT TO:<x@y.z>', 'DATA']);
  c.close();
});

void test('an RSET refused before a transaction ends the session with a reply error', async () => {
  const p = await peer({ script: { RCPT: (to) => (to === 'x@y.z' ? '550 5.1.1 No such user here' : '250 2.1.5 OK'), RSET: '500 5.5.1 what?' } });
  const c = await connect(p);
  await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: body('x') });
  await assert.rejects(c.send({ sender: 'a@b.c', recipients: [{ address: 'ok@y.z' }], body: body('x') }), (e: SmtpClientError) => e.kind === 'reply' && e.reply?.code === 500);
  assert.equal(c.usable, false);
  assert.equal(p.messages.length, 0);
});

void test('EHLO refused: HELO fallback, no extensions, no pipelining', async () => {
  const p = await peer({ script: { EHLO: '502 5.5.1 Command not implemented' } });
  const c = await connect(p);
  assert.equal(c.extensions.esmtp, false);
  const r = await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z', dsn: { notify: ['NEVER'] } }], params: { size: 3, body: '8BITMIME' }, body: body('x') });
  assert.equal(r.final[0].code, 250);
  assert.ok(p.commands.includes('HELO client.test'));
  assert.ok(p.commands.includes('MAIL FROM:<a@b.c>'), 'no ESMTP parameters to an SMTP server');
  assert.ok(p.commands.includes('RCPT TO:<x@y.z>'));
  await c.quit();
});

void test('greeting 421 / 554 is a reply error', async () => {
  const p = await peer({ script: { GREETING: { reply: '421 4.3.2 busy', close: true } } });
  await assert.rejects(connect(p), (e: SmtpClientError) => e.kind === 'reply' && e.reply?.code === 421);
  p.script = { GREETING: '554 5.7.1 go away' };
  await assert.rejects(connect(p), (e: SmtpClientError) => e.kind === 'reply' && e.reply?.code === 554);
});

void test('a server that never answers times out', async () => {
  const p = await peer({ script: { MAIL: 'silent' } });
  const c = await connect(p, { timeouts: { ...short, mail: 200 } });
  await assert.rejects(
    c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: body('x') }),
    (e: SmtpClientError) => e.kind === 'timeout',
  );
  assert.equal(c.usable, false);
});

void test('connection dropped mid-DATA is a closed error', async () => {
  const p = await peer({ script: { DATA_BODY: 'drop' } });
  const c = await connect(p);
  const big = Buffer.alloc(2_000_000, 'a\r\n');
  await assert.rejects(
    c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: () => Readable.from([big]) }),
    (e: SmtpClientError) => e.kind === 'closed' || e.kind === 'timeout',
  );
  assert.equal(p.messages.length, 0);
});

void test('a body that fails to read: connection dropped, no final dot', async () => {
  const p = await peer();
  const c = await connect(p);
  const failing = () =>
    new Readable({
      read() {
        this.push(Buffer.from('Subject: x\r\n\r\nfirst line\r\n'));
        this.destroy(new Error('disk error'));
      },
    });
  await assert.rejects(c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: failing }), (e: SmtpClientError) => e.kind === 'body');
  assert.equal(p.messages.length, 0);
  assert.equal(c.usable, false);
});

void test('552 at end of data and 421 at RCPT', async () => {
  const p = await peer({ script: { DOT: '552 5.3.4 Message too big' } });
  const c = await connect(p);
  const r = await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: body('x') });
  assert.deepEqual(r.final[0], { code: 552, status: '5.3.4', lines: ['Message too big'] });
  p.script = { RCPT: { reply: '421 4.3.2 shutting down', close: true } };
  const r2 = await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: body('x') });
  assert.equal(r2.final[0].code, 421);
  assert.equal(c.usable, false);
});

void test('unsafe addresses are never written', async () => {
  const p = await peer();
  const c = await connect(p);
  const r = await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z>\r\nRCPT TO:<evil@e' }, { address: 'ok@y.z' }], body: body('x') });
  assert.equal(r.final[0].code, 501);
  assert.equal(r.final[1].code, 250);
  assert.ok(!p.commands.some((l) => l.includes('evil')));
  await assert.rejects(c.send({ sender: 'a>\r\nX', recipients: [], body: body('') }), SmtpClientError);
  c.close();
});

void test('LMTP: LHLO and one reply per recipient after DATA', async () => {
  const p = await peer({ lmtp: true, script: { DOT: (rcpt) => (rcpt === 'b@y.z' ? '452 4.2.2 Mailbox full' : '250 2.0.0 OK') } });
  const c = await connect(p, { lmtp: true });
  const r = await c.send({ sender: 'a@b.c', recipients: [{ address: 'a@y.z' }, { address: 'b@y.z' }, { address: 'c@y.z' }], body: body('x\r\n') });
  assert.deepEqual(r.final.map((x) => x.code), [250, 452, 250]);
  assert.ok(p.commands[0].startsWith('LHLO'));
  await c.quit();
});

void test('AUTH PLAIN sends the RFC 4616 token', async () => {
  const p = await peer({ extensions: ['AUTH PLAIN LOGIN'] });
  const c = await connect(p);
  const r = await c.auth('user@example.org', 'secret');
  assert.equal(r.code, 235);
  assert.ok(p.commands.includes(`AUTH PLAIN ${Buffer.from('\0user@example.org\0secret').toString('base64')}`));
  await c.quit();
});

void test('AbortSignal ends the session', async () => {
  const p = await peer({ script: { MAIL: 'silent' } });
  const ac = new AbortController();
  const c = await connect(p, { signal: ac.signal });
  const sending = c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: body('x') });
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(sending, (e: SmtpClientError) => e.kind === 'aborted');
});

void test('connection refused is a connect error', async () => {
  const p = await peer();
  const port = p.port;
  await p.close();
  peers.splice(peers.indexOf(p), 1);
  await assert.rejects(
    SmtpClient.connect({ host: '127.0.0.1', port, helo: 'c', timeouts: short }),
    (e: SmtpClientError) => e.kind === 'connect',
  );
});

function makeCert(): { key: string; cert: string } | undefined {
  try {
    const dir = execFileSync('mktemp', ['-d']).toString().trim();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/k.pem`, '-out', `${dir}/c.pem`, '-days', '2', '-subj', '/CN=peer.test'], { stdio: 'ignore' });
    const r = { key: execFileSync('cat', [`${dir}/k.pem`]).toString(), cert: execFileSync('cat', [`${dir}/c.pem`]).toString() };
    execFileSync('rm', ['-rf', dir]);
    return r;
  } catch {
    return undefined;
  }
}
const cert = makeCert();

void test('opportunistic STARTTLS, then EHLO again', { skip: cert ? false : 'openssl is not installed' }, async () => {
  const p = await peer({ tls: cert });
  const c = await connect(p);
  assert.equal(c.secure, true);
  assert.ok(c.tlsInfo?.protocol);
  assert.equal(c.extensions.starttls, false, 'extensions come from the EHLO after TLS');
  assert.deepEqual(p.commands.filter((l) => l.startsWith('EHLO')).length, 2);
  const r = await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], body: body('secret\r\n') });
  assert.equal(r.final[0].code, 250);
  assert.equal(p.messages[0].secure, true);
  await c.quit();
  const plain = await connect(p, { tls: 'none' });
  assert.equal(plain.secure, false);
  plain.close();
});

void test('against the smtp-server package: 8BITMIME body arrives intact', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'correio-client-'));
  const received: Buffer[] = [];
  const server = new SMTPServer({
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: 1_000_000,
    onData(stream, _s, cb) {
      const parts: Buffer[] = [];
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.on('end', () => {
        received.push(Buffer.concat(parts));
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.server.address() as { port: number }).port;
  try {
    const c = await SmtpClient.connect({ host: '127.0.0.1', port, helo: 'client.test', timeouts: short });
    assert.equal(c.extensions.size, 1_000_000);
    assert.equal(c.extensions.eightBitMime, true);
    const msg = 'Subject: teste\r\n\r\nOlá, ação\r\n.\r\n..two\r\n';
    const r = await c.send({ sender: 'a@b.c', recipients: [{ address: 'x@y.z' }], params: { body: '8BITMIME', size: msg.length }, body: () => Readable.from([Buffer.from(msg, 'utf8')]) });
    assert.equal(r.final[0].code, 250);
    assert.equal(received[0].toString('utf8'), msg);
    await c.quit();
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await fs.rm(dir, { recursive: true, force: true });
  }
});

void test('the socket has TCP_NODELAY and the body leaves in one write with its terminator', async () => {
  // Nagle would hold the final "." for the peer's delayed ACK on every message.
  const proto = net.Socket.prototype;
  const noDelay = new WeakMap<net.Socket, boolean>();
  const writes = new WeakMap<net.Socket, Buffer[][]>();
  // the originals are called with the socket as `this`, so unbinding them is safe
  /* eslint-disable @typescript-eslint/unbound-method */
  const origNoDelay = proto.setNoDelay;
  const origWritev = proto._writev;
  const origWrite = proto._write;
  /* eslint-enable @typescript-eslint/unbound-method */
  proto.setNoDelay = function (this: net.Socket, on?: boolean) {
    noDelay.set(this, on !== false);
    return origNoDelay.call(this, on);
  };
  const record = (s: net.Socket, chunks: Buffer[]): void => {
    const list = writes.get(s) ?? [];
    list.push(chunks);
    writes.set(s, list);
  };
  proto._writev = function (this: net.Socket, chunks: { chunk: unknown; encoding: BufferEncoding }[], cb: (err?: Error | null) => void) {
    record(this, chunks.map((c) => Buffer.from(c.chunk as Buffer)));
    return origWritev?.call(this, chunks, cb);
  };
  proto._write = function (this: net.Socket, chunk: unknown, enc: BufferEncoding, cb: (err?: Error | null) => void) {
    record(this, [Buffer.from(chunk as Buffer)]);
    return origWrite.call(this, chunk, enc, cb);
  };
  try {
    const p = await peer();
    const c = await connect(p);
    const socket = (c as unknown as { socket: net.Socket }).socket;
    assert.equal(noDelay.get(socket), true);
    const before = writes.get(socket)?.length ?? 0;
    // two chunks of body, read in different turns of the event loop, and the terminator
    async function* slowChunks(): AsyncGenerator<Buffer> {
      yield Buffer.from('Subject: x\r\n\r\n');
      await new Promise((r) => setImmediate(r));
      yield Buffer.from('one\r\n.two\r\n');
      await new Promise((r) => setImmediate(r));
    }
    const r = await c.send({ sender: 'a@b.example', recipients: [{ address: 'c@d.example' }], body: () => Readable.from(slowChunks()) });
    assert.equal(r.final[0].code, 250);
    const after = (writes.get(socket) ?? []).slice(before).map((w) => Buffer.concat(w).toString('latin1'));
    const bodyWrites = after.filter((w) => w.includes('Subject: x'));
    assert.deepEqual(bodyWrites, ['Subject: x\r\n\r\none\r\n..two\r\n.\r\n']);
    // RFC 2920 §3.1: the whole command group in one write, so two writes per message in all
    assert.deepEqual(after, ['MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n', bodyWrites[0]]);
    await c.quit();
  } finally {
    proto.setNoDelay = origNoDelay;
    proto._writev = origWritev;
    proto._write = origWrite;
  }
});
