/**
 * Issue 12 items 6 and 7 over real SMTP sockets: AUTH attempts are counted before the password
 * is checked, so concurrent attempts from one address cannot all be checked; the throttle is
 * one for SMTP and POP3; an account guessed from many addresses is refused with 454.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpServer, type SmtpServerOptions } from './index.js';
import { Pop3Server } from '../pop3/index.js';
import { AuthThrottle } from '../../policy/auth-throttle.js';
import { RecordingIntake } from '../../../test/helpers/recording-intake.js';
import { LineClient } from '../../../test/helpers/net.js';
import { MemoryMailbox } from '../../../test/helpers/memory-mailbox.js';

const users: Record<string, string> = { 'suzana@dc.uece.br': 's3cret', 'jacques@dc.uece.br': 'outra' };
const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function withServer(opts: Partial<SmtpServerOptions>, f: (port: number) => Promise<void>): Promise<void> {
  const intake = await RecordingIntake.create();
  const server = new SmtpServer({
    intake,
    hostname: 'dc.uece.br',
    allowPlainAuthWithoutTls: true,
    authFailureDelayMs: 0,
    authenticate: async (u, p) => users[u] === p,
    ...opts,
  });
  await server.listen([{ host: '127.0.0.1', port: 0, mode: 'submission' }]);
  try {
    await f(server.addresses()[0].port);
  } finally {
    await server.close();
    await intake.cleanup();
  }
}

async function ehlo(port: number, localAddress?: string): Promise<LineClient> {
  const c = await LineClient.connect(port, '127.0.0.1', localAddress);
  await c.readReply();
  await c.command('EHLO x');
  return c;
}

void test('50 simultaneous AUTH PLAIN from one address: at most the limit are checked', async () => {
  let checked = 0;
  const authenticate = async (u: string, p: string): Promise<boolean> => {
    checked++;
    // keep each check in flight until every connection has sent its AUTH
    await new Promise((r) => setTimeout(r, 300));
    return users[u] === p;
  };
  await withServer({ authenticate, maxAuthFailures: 5, maxConnectionsPerIp: 100 }, async (port) => {
    const clients = await Promise.all(Array.from({ length: 50 }, () => ehlo(port)));
    try {
      const replies = await Promise.all(clients.map((c, i) => c.command(`AUTH PLAIN ${b64(`\0suzana@dc.uece.br\0guess${i}`)}`)));
      assert.ok(checked <= 5, `${checked} passwords checked, limit 5`);
      assert.equal(replies.filter((r) => r?.startsWith('535 ')).length, checked);
      assert.equal(replies.filter((r) => r === '421 4.7.0 dc.uece.br Too many authentication failures').length, 50 - checked);
    } finally {
      for (const c of clients) c.close();
    }
  });
});

void test('one throttle for SMTP and POP3: failures on one refuse the other', async () => {
  const authThrottle = new AuthThrottle({ maxFailuresPerAddress: 3, maxFailuresPerAccount: 100 });
  const mailboxes = new MemoryMailbox('/nonexistent');
  const pop3 = new Pop3Server({
    hostname: 'pop.dc.uece.br',
    mailboxes,
    authenticate: async (u, p) => users[u] === p,
    allowPlainWithoutTls: true,
    authFailureDelayMs: 0,
    authThrottle,
  });
  const [bound] = await pop3.listen([{ host: '127.0.0.1', port: 0 }]);
  try {
    await withServer({ authThrottle }, async (port) => {
      const p = await LineClient.connect(bound.port);
      await p.readLine();
      for (const guess of ['a', 'b']) {
        p.write('USER suzana@dc.uece.br\r\n');
        await p.readLine();
        p.write(`PASS ${guess}\r\n`);
        assert.equal(await p.readLine(), '-ERR [AUTH] authentication failed');
      }
      p.close();
      const c = await ehlo(port);
      assert.equal(await c.command(`AUTH PLAIN ${b64('\0jacques@dc.uece.br\0c')}`), '535 5.7.8 Authentication credentials invalid');
      assert.equal(await c.readReply(), '421 4.7.0 dc.uece.br Too many authentication failures');
      const c2 = await ehlo(port);
      assert.equal(await c2.command(`AUTH PLAIN ${b64('\0jacques@dc.uece.br\0outra')}`), '421 4.7.0 dc.uece.br Too many authentication failures');
      c2.close();
    });
  } finally {
    await pop3.close();
  }
});

void test('an account guessed from many addresses gets 454 4.7.0, others still log in', async () => {
  const authThrottle = new AuthThrottle({ maxFailuresPerAddress: 100, maxFailuresPerAccount: 2 });
  await withServer({ authThrottle }, async (port) => {
    for (const from of ['127.0.0.2', '127.0.0.3']) {
      const c = await ehlo(port, from);
      assert.equal(await c.command(`AUTH PLAIN ${b64('\0suzana@dc.uece.br\0guess')}`), '535 5.7.8 Authentication credentials invalid');
      c.close();
    }
    const c = await ehlo(port, '127.0.0.4');
    assert.equal(await c.command(`AUTH PLAIN ${b64('\0suzana@dc.uece.br\0s3cret')}`), '454 4.7.0 Temporary authentication failure');
    assert.equal(await c.command(`AUTH LOGIN ${b64('jacques@dc.uece.br')}`), '334 UGFzc3dvcmQ6');
    assert.equal(await c.command(b64('outra')), '235 2.7.0 Authentication successful');
    c.close();
  });
});
