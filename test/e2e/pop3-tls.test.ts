/**
 * POP3 over TLS: STLS (RFC 2595 §4) with a real TLS client, no passwords before TLS, the
 * STLS command-injection case (CVE-2011-0411 class), and implicit TLS (RFC 8314, port 995).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineClient, type LineClientTlsOptions } from '../helpers/net.js';
import { cmd, login, startHarness, tlsCredentials, USER, PASSWORD } from './pop3-harness.js';

const creds = await tlsCredentials();
const skip = creds === undefined ? 'no TLS certificate: test/fixtures/tls absent and openssl missing' : false;

async function capa(c: LineClient): Promise<string[]> {
  assert.equal(await cmd(c, 'CAPA'), '+OK Capability list follows');
  return (await c.readMultiline()).split('\r\n').filter((l) => l !== '');
}

/** Trusts the test certificate. */
const trust = (): LineClientTlsOptions => ({ ca: creds!.cert, servername: 'localhost' });

void test('STLS: no passwords before TLS, injected input discarded, login after the handshake', { skip }, async () => {
  const h = await startHarness({ tls: creds!, allowPlainWithoutTls: false });
  try {
    const msg = 'Subject: over TLS\r\n\r\n.hidden\r\n';
    await h.store.put(USER, msg);
    const c = await LineClient.connect(h.port);
    assert.equal(await c.readLine(), '+OK pop.dc.uece.br POP3 server ready');
    const before = await capa(c);
    assert.ok(before.includes('STLS'));
    assert.ok(!before.includes('USER'), 'USER not announced before TLS');
    assert.ok(!before.includes('SASL PLAIN'), 'SASL PLAIN not announced before TLS');
    const needTls = '-ERR [AUTH] plaintext authentication disallowed without TLS; use STLS';
    assert.equal(await cmd(c, `USER ${USER}`), needTls);
    assert.equal(await cmd(c, `PASS ${PASSWORD}`), needTls);
    assert.equal(await cmd(c, `AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}`), needTls);

    // The client pipelines a command behind STLS: it must not survive into the TLS session.
    c.write(`STLS\r\nUSER ${USER}\r\n`);
    assert.equal(await c.readLine(), '+OK Begin TLS negotiation');
    assert.equal(c.pending(), '');
    await c.startTls(trust());
    assert.ok(c.encrypted);
    assert.equal(await cmd(c, `PASS ${PASSWORD}`), '-ERR send USER first', 'the injected USER was dropped');

    const after = await capa(c);
    assert.ok(after.includes('USER') && after.includes('SASL PLAIN'));
    assert.ok(!after.includes('STLS'), 'STLS not announced once TLS is active');
    assert.equal(await cmd(c, 'STLS'), '-ERR command not permitted when TLS active');

    assert.match((await cmd(c, `USER ${USER}`)) ?? '', /^\+OK/);
    assert.match((await cmd(c, `PASS ${PASSWORD}`)) ?? '', /^\+OK maildrop locked and ready, 1 message/);
    assert.equal(await cmd(c, 'RETR 1'), `+OK ${msg.length} octets`);
    assert.equal(await c.readMultiline(), msg);
    assert.match((await cmd(c, 'QUIT')) ?? '', /^\+OK .* signing off/);
    assert.equal(await c.readLine(), undefined);
  } finally {
    await h.cleanup();
  }
});

void test('a failed TLS handshake after STLS ends the session and frees nothing it did not hold', { skip }, async () => {
  const h = await startHarness({ tls: creds!, allowPlainWithoutTls: false });
  try {
    const plain = await LineClient.connect(h.port);
    await plain.readLine();
    assert.equal(await cmd(plain, 'STLS'), '+OK Begin TLS negotiation');
    plain.write('this is not a TLS ClientHello\r\n');
    assert.equal(await plain.readLine(), undefined);
    assert.equal(plain.closed, true);
  } finally {
    await h.cleanup();
  }
});

void test('implicit TLS listener (port 995 style) greets inside TLS and accepts passwords', { skip }, async () => {
  const h = await startHarness({ tls: creds!, allowPlainWithoutTls: false });
  try {
    const [bound] = await h.server.listen([{ host: '127.0.0.1', port: 0, implicitTls: true }]);
    assert.equal(bound.implicitTls, true);
    const c = await LineClient.connectTls(bound.port, '127.0.0.1', trust());
    const caps = await (async () => {
      assert.equal(await c.readLine(), '+OK pop.dc.uece.br POP3 server ready');
      return capa(c);
    })();
    assert.ok(!caps.includes('STLS'));
    assert.ok(caps.includes('USER'));
    c.write(`USER ${USER}\r\n`);
    assert.equal(await c.readLine(), '+OK send PASS');
    assert.match((await cmd(c, `PASS ${PASSWORD}`)) ?? '', /^\+OK maildrop locked and ready, 0 messages/);
    c.close();
  } finally {
    await h.cleanup();
  }
});

void test('a TLS session dropped without QUIT releases the maildrop lock and removes nothing', { skip }, async () => {
  const h = await startHarness({ tls: creds!, allowPlainWithoutTls: false });
  try {
    await h.store.put(USER, 'Subject: x\r\n\r\ny\r\n');
    const secure = await LineClient.connect(h.port);
    await secure.readLine();
    assert.equal(await cmd(secure, 'STLS'), '+OK Begin TLS negotiation');
    await secure.startTls(trust());
    assert.match((await cmd(secure, `USER ${USER}`)) ?? '', /^\+OK/);
    assert.match((await cmd(secure, `PASS ${PASSWORD}`)) ?? '', /^\+OK maildrop locked/);
    assert.equal(await cmd(secure, 'DELE 1'), '+OK message 1 deleted');
    secure.close();
    // Poll (no timing assumption) until the server has noticed the drop and freed the lock.
    let reply: string | undefined;
    for (let i = 0; i < 200; i++) {
      const c = await LineClient.connect(h.port);
      await c.readLine();
      await cmd(c, 'STLS');
      await c.startTls(trust());
      await cmd(c, `USER ${USER}`);
      reply = await cmd(c, `PASS ${PASSWORD}`);
      c.close();
      if (!reply?.includes('[IN-USE]')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(reply ?? '', /^\+OK maildrop locked and ready, 1 message /);
  } finally {
    await h.cleanup();
  }
});

void test('without a certificate STLS is neither announced nor available', async () => {
  const h = await startHarness();
  try {
    const c = await h.connect();
    assert.match((await login(c, 'nobody@x', 'y')) ?? '', /^-ERR \[AUTH\]/);
    const caps = await capa(c);
    assert.ok(caps.includes('USER') && !caps.includes('STLS'), caps.join(' '));
    c.write('STLS\r\n');
    assert.equal(await c.readLine(), '-ERR STLS not available');
  } finally {
    await h.cleanup();
  }
});
