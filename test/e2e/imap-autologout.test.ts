/**
 * Issue 14, bad input and security: the autologout timer (RFC 9051 §5.4) ends an authenticated
 * session that sends nothing, with an untagged BYE, while a session in IDLE is not idle: it
 * outlives the same timer several times over, still hears a delivery and ends IDLE with DONE.
 * The server's timer is shortened here (the default is 30 minutes, `imap-server.ts`).
 * Standards: RFC 9051 §5.4 (autologout, IDLE re-issued within 29 minutes), §7.1.5 (BYE),
 *   RFC 2177 (IDLE).
 * Security: loopback only; test passwords.
 * Limitations: none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';
import { LineClient } from '../helpers/net.js';

const user = 'suzana@dc.uece.br';
const idleTimeoutMs = 300;
const deliver = (store: MaildirStore, key: string): Promise<unknown> =>
  store.deliver(user, Readable.from([Buffer.from(`From: helvecio@dsc.ufpb.br\r\nSubject: ${key}\r\n\r\ncorpo\r\n`)]), { uniqueKey: key });

/** LOGIN and SELECT; then IDLE in the same write when asked (so no pause of the loaded machine comes before it) */
async function login(port: number, idle = false): Promise<LineClient> {
  const c = await LineClient.connect(port, '127.0.0.1');
  await c.readLine();
  c.write(`a LOGIN ${user} secret\r\nb SELECT INBOX\r\n${idle ? 'i IDLE\r\n' : ''}`);
  assert.match((await c.readTagged('a')).at(-1) ?? '', /^a OK/);
  assert.match((await c.readTagged('b')).at(-1) ?? '', /^b OK/);
  return c;
}

void test('autologout: a silent session gets BYE; a session in IDLE is not idle and still hears a delivery', async () => {
  const root = await mkdtemp(join(tmpdir(), 'correio-imap-autologout-'));
  const store = new MaildirStore(root, { hostname: 'mx' });
  await deliver(store, 'q1');
  const server = new ImapServer({
    hostname: 'mx',
    folders: new MaildirFolders(store),
    authenticate: (u, p) => Promise.resolve(u === user && p === 'secret'),
    authFailureDelayMs: 1,
    idleTimeoutMs,
  });
  const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
  const silent = await login(bound.port);
  const idling = await login(bound.port, true);
  try {
    assert.equal(await idling.readLine(), '+ idling');
    // the silent one is logged out (no tagged reply: it sent no command)
    assert.equal(await silent.readLine(), '* BYE Autologout; idle for too long');
    assert.equal(await silent.readLine(), undefined, 'the connection is closed after the BYE');
    // several autologout periods pass with the other in IDLE: it is still there and hears a delivery
    await sleep(idleTimeoutMs * 5);
    await deliver(store, 'q2');
    let line: string | undefined;
    do line = await idling.readLine();
    while (line !== undefined && line !== '* 2 EXISTS');
    assert.equal(line, '* 2 EXISTS');
    idling.write('DONE\r\n');
    assert.match((await idling.readTagged('i')).at(-1) ?? '', /^i OK/);
    // after IDLE the timer runs again: with no command, BYE
    let bye: string | undefined;
    do bye = await idling.readLine();
    while (bye !== undefined && !bye.startsWith('* BYE'));
    assert.equal(bye, '* BYE Autologout; idle for too long');
  } finally {
    silent.close();
    idling.close();
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
});
