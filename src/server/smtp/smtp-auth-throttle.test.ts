/**
 * Issue 12 items 6 and 7 over real SMTP sockets: AUTH attempts are counted before the password
 * is checked, so concurrent attempts from one address cannot all be checked; the throttle is
 * one for SMTP, POP3 and IMAP; an account guessed from many addresses is refused (SMTP 454, and
 * over IMAP after failures over POP3 and IMAP); a login
 * waiting behind a check that hangs ends with each protocol's temporary failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpServer, type SmtpServerOptions } from './index.js';
import { Pop3Server } from '../pop3/index.js';
import { AuthThrottle } from '../../policy/auth-throttle.js';
import { RecordingIntake } from '../../../test/helpers/recording-intake.js';
import { LineClient } from '../../../test/helpers/net.js';
import { MemoryMailbox } from '../../../test/helpers/memory-mailbox.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapServer } from '../imap/index.js';
import { MaildirFolders, MaildirStore } from '../../mailbox/index.js';

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

/** A POP3 and an IMAP server on loopback sharing `authThrottle` and `authenticate`; closed after `f`. */
async function withPop3AndImap(
  authThrottle: AuthThrottle,
  authenticate: (u: string, p: string) => Promise<boolean>,
  f: (ports: { readonly pop3: number; readonly imap: number }) => Promise<void>,
): Promise<void> {
  const mailRoot = await mkdtemp(join(tmpdir(), 'correio-auththrottle-'));
  const pop3 = new Pop3Server({ hostname: 'pop.dc.uece.br', mailboxes: new MemoryMailbox('/nonexistent'), authenticate, allowPlainWithoutTls: true, authFailureDelayMs: 0, authThrottle });
  const imap = new ImapServer({ hostname: 'imap.dc.uece.br', folders: new MaildirFolders(new MaildirStore(mailRoot, { hostname: 'mx' })), authenticate, authFailureDelayMs: 0, authThrottle });
  try {
    const [popAt] = await pop3.listen([{ host: '127.0.0.1', port: 0 }]);
    const [imapAt] = await imap.listen([{ host: '127.0.0.1', port: 0 }]);
    await f({ pop3: popAt.port, imap: imapAt.port });
  } finally {
    await pop3.close();
    await imap.close();
    await rm(mailRoot, { recursive: true, force: true });
  }
}

/** One POP3 login that fails (USER, PASS with a wrong password), from `from` when given. */
async function pop3Fails(port: number, user: string, password: string, from?: string): Promise<void> {
  const p = await LineClient.connect(port, '127.0.0.1', from);
  try {
    await p.readLine();
    p.write(`USER ${user}\r\n`);
    await p.readLine();
    p.write(`PASS ${password}\r\n`);
    assert.equal(await p.readLine(), '-ERR [AUTH] authentication failed');
  } finally {
    p.close();
  }
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

void test('one throttle for SMTP, POP3 and IMAP: failures on one refuse the others', async () => {
  const authThrottle = new AuthThrottle({ maxFailuresPerAddress: 3, maxFailuresPerAccount: 100 });
  const authenticate = async (u: string, p: string): Promise<boolean> => users[u] === p;
  await withPop3AndImap(authThrottle, authenticate, (at) =>
    withServer({ authThrottle }, async (port) => {
      // one failure each over POP3 and IMAP ...
      await pop3Fails(at.pop3, 'suzana@dc.uece.br', 'a');
      const i = await LineClient.connect(at.imap);
      await i.readLine();
      i.write('a1 LOGIN suzana@dc.uece.br b\r\n');
      assert.equal(await i.readLine(), 'a1 NO [AUTHENTICATIONFAILED] Authentication failed');
      // ... and the third, over SMTP, reaches the address's limit of 3
      const c = await ehlo(port);
      assert.equal(await c.command(`AUTH PLAIN ${b64('\0jacques@dc.uece.br\0c')}`), '535 5.7.8 Authentication credentials invalid');
      assert.equal(await c.readReply(), '421 4.7.0 dc.uece.br Too many authentication failures');
      const c2 = await ehlo(port);
      assert.equal(await c2.command(`AUTH PLAIN ${b64('\0jacques@dc.uece.br\0outra')}`), '421 4.7.0 dc.uece.br Too many authentication failures');
      c2.close();
      // IMAP refuses even the right password from that address now, and ends the session
      i.write('a2 LOGIN jacques@dc.uece.br outra\r\n');
      assert.equal(await i.readLine(), '* BYE Too many authentication failures');
      assert.equal(await i.readLine(), undefined);
      i.close();
    }),
  );
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

void test('an account guessed over POP3 and IMAP from two addresses: IMAP refuses it from a third, other accounts still log in', async () => {
  const authThrottle = new AuthThrottle({ maxFailuresPerAddress: 100, maxFailuresPerAccount: 2 });
  const authenticate = async (u: string, p: string): Promise<boolean> => users[u] === p;
  await withPop3AndImap(authThrottle, authenticate, async (at) => {
    const imapLogin = async (from: string, user: string, password: string): Promise<string | undefined> => {
      const i = await LineClient.connect(at.imap, '127.0.0.1', from);
      try {
        await i.readLine();
        i.write(`a LOGIN ${user} "${password}"\r\n`);
        return (await i.readTagged('a')).at(-1);
      } finally {
        i.close();
      }
    };
    await pop3Fails(at.pop3, 'suzana@dc.uece.br', 'guess', '127.0.0.2');
    assert.equal(await imapLogin('127.0.0.3', 'suzana@dc.uece.br', 'guess'), 'a NO [AUTHENTICATIONFAILED] Authentication failed');
    // the account has had its two failures: even the right password from a new address is refused
    assert.equal(await imapLogin('127.0.0.4', 'suzana@dc.uece.br', 's3cret'), 'a NO [UNAVAILABLE] Too many authentication failures, try again later');
    assert.match((await imapLogin('127.0.0.4', 'jacques@dc.uece.br', 'outra')) ?? '', /^a OK /);
  });
});

void test('a login waiting behind a check that hangs has its own timeout: 454 4.7.0, NO [UNAVAILABLE], -ERR [SYS/TEMP], nothing counted (issue 15)', async () => {
  // one attempt in flight per address, and a short wait (MAX_LOGIN_WAIT_MS in service)
  const authThrottle = new AuthThrottle({ maxFailuresPerAddress: 1, maxFailuresPerAccount: 100, maxWaitMs: 300 });
  let release: () => void = () => undefined;
  const hung = new Promise<void>((r) => (release = r));
  const all: Record<string, string> = { ...users, 'slow@dc.uece.br': 'slow' };
  // the directory does not answer for slow@ until released
  const authenticate = async (u: string, p: string): Promise<boolean> => {
    if (u === 'slow@dc.uece.br') await hung;
    return all[u] === p;
  };
  await withPop3AndImap(authThrottle, authenticate, (at) =>
    withServer({ authThrottle, authenticate }, async (port) => {
      const slow = await ehlo(port);
      slow.write(`AUTH PLAIN ${b64('\0slow@dc.uece.br\0slow')}\r\n`);
      // the slow check is in flight: every other login from 127.0.0.1 waits behind it, then gives up
      await new Promise((r) => setTimeout(r, 100));
      const c = await ehlo(port);
      assert.equal(await c.command(`AUTH PLAIN ${b64('\0suzana@dc.uece.br\0s3cret')}`), '454 4.7.0 Temporary authentication failure: too many logins in progress, try again later');
      const p = await LineClient.connect(at.pop3);
      await p.readLine();
      p.write('USER suzana@dc.uece.br\r\n');
      await p.readLine();
      p.write('PASS s3cret\r\n');
      assert.equal(await p.readLine(), '-ERR [SYS/TEMP] too many logins in progress, try again later');
      const i = await LineClient.connect(at.imap);
      await i.readLine();
      i.write('a1 LOGIN suzana@dc.uece.br s3cret\r\n');
      assert.equal(await i.readLine(), 'a1 NO [UNAVAILABLE] Too many logins in progress, try again later');
      // the slow check ends: the waits counted nothing, and the same logins now succeed
      release();
      assert.equal(await slow.readReply(), '235 2.7.0 Authentication successful');
      assert.equal(await c.command(`AUTH PLAIN ${b64('\0suzana@dc.uece.br\0s3cret')}`), '235 2.7.0 Authentication successful');
      i.write('a2 LOGIN suzana@dc.uece.br s3cret\r\n');
      let line: string | undefined;
      while ((line = await i.readLine()) !== undefined && !line.startsWith('a2 '));
      assert.match(line ?? '', /^a2 OK /);
      for (const x of [slow, c, p, i]) x.close();
    }),
  );
});
