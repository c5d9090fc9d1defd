/**
 * t-23: the mail log writes one `received` line per accepted message. Intake publishes
 * `received` (it sees every source); the SMTP session does not, so a message that came over SMTP
 * (DATA or BDAT) is not logged twice. A message refused at the end of data is one `rejected`
 * line and no `received` line. The log read is the whole standard output of `correio serve` in
 * the default configuration: the SMTP acceptor process writes its sessions' lines, and the
 * server, which takes the acceptor's events in for its metrics and history, writes none of them
 * again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSiteProcess, waitFor } from '../helpers/site.js';
import { SmtpTestClient } from './t-20-smtp-tls-client.js';

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

let site: Awaited<ReturnType<typeof startSiteProcess>>;

before(async () => {
  site = await startSiteProcess({ domains: ['localhost'], hostname: 'mx.localhost', users: ['u1@localhost', 'u2@localhost'], logLevel: 'info' });
});
after(async () => {
  await site.destroy();
});

/** Every JSON line the server and its acceptor wrote so far. */
function lines(): Line[] {
  return site.stdout().split('\n').flatMap((l): Line[] => {
    try {
      const o: unknown = JSON.parse(l);
      return typeof o === 'object' && o !== null && 'msg' in o ? [o as Line] : [];
    } catch {
      return [];
    }
  });
}

function received(messageId: string): Line[] {
  return lines().filter((l) => l.msg === 'received' && l.messageId === messageId);
}

/**
 * Waits for the server's `delivered` lines of a message to `user`: an acceptor's events reach the
 * server before their envelopes do, so any line the server wrote of them is written by then.
 */
function deliveredTo(messageId: string, n: number): Promise<unknown> {
  return waitFor(`${n} delivered lines of ${messageId}`, () => lines().filter((l) => l.msg === 'delivered' && l.messageId === messageId).length >= n);
}

test('DATA and BDAT: one received line per message, from intake, with the client and protocol', async () => {
  const c = await SmtpTestClient.open(site.port);
  try {
    await c.readReply();
    await c.command('EHLO client.test');
    const r = await c.send('a@far.example', ['u1@localhost', 'u2@localhost'], 'Subject: once\n\nmarker-once\n');
    const id = /queued as (\S+)$/.exec(r.final ?? '')?.[1];
    assert.ok(id, r.final);
    // RFC 3030: the same through BDAT
    assert.equal(await c.command('MAIL FROM:<b@far.example>'), '250 2.1.0 OK');
    assert.equal(await c.command('RCPT TO:<u1@localhost>'), '250 2.1.5 OK');
    const body = 'Subject: bdat\r\n\r\nmarker-bdat\r\n';
    const final = await c.command(`BDAT ${Buffer.byteLength(body)} LAST\r\n${body.slice(0, -2)}`);
    const id2 = /queued as (\S+)$/.exec(final ?? '')?.[1];
    assert.ok(id2, final);
    await c.command('QUIT');

    await deliveredTo(id, 2);
    await deliveredTo(id2, 1);
    await waitFor('the received lines', () => received(id).length > 0 && received(id2).length > 0);
    const [one] = received(id);
    assert.equal(received(id).length, 1);
    assert.deepEqual(one.recipients, ['u1@localhost', 'u2@localhost']);
    assert.equal(one.sender, 'a@far.example');
    assert.equal(one.client, '127.0.0.1');
    assert.equal(one.protocol, 'ESMTP');
    assert.equal(received(id2).length, 1);
    // and each recipient is one queued line
    await waitFor('the queued lines', () => lines().some((l) => l.msg === 'queued' && l.messageId === id));
    assert.equal(lines().filter((l) => l.msg === 'queued' && l.messageId === id).length, 2);
  } finally {
    c.close();
  }
});

test('a message refused at the end of data: one rejected line, no received line', async () => {
  const before = lines().filter((l) => l.msg === 'received').length;
  const c = await SmtpTestClient.open(site.port);
  try {
    await c.readReply();
    await c.command('EHLO client.test');
    // RFC 5321 §6.3: too many trace fields mean a loop (max_hops, default 50)
    const loop = Array.from({ length: 60 }, (_, i) => `Received: from h${i}.example by h${i + 1}.example; Thu, 1 Jan 2026 00:00:00 +0000`).join('\n');
    const r = await c.send('a@far.example', ['u1@localhost'], `${loop}\nSubject: loop\n\nx\n`);
    assert.equal(r.final, '554 5.4.6 Mail loop detected');
    // then a good message: once it is delivered, any line the server wrote of the refusal is there
    const ok = await c.send('a@far.example', ['u2@localhost'], 'Subject: after\n\nafter the loop\n');
    const id = /queued as (\S+)$/.exec(ok.final ?? '')?.[1];
    assert.ok(id, ok.final);
    await c.command('QUIT');
    await deliveredTo(id, 1);
    await waitFor('the refusal\'s line', () => lines().some((l) => l.msg === 'rejected' && l.stage === 'data'));
    await waitFor('the good message\'s received line', () => received(id).length > 0);
  } finally {
    c.close();
  }
  const rejected = lines().filter((l) => l.msg === 'rejected' && l.stage === 'data');
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0].level, 40, 'a warning');
  assert.equal(lines().filter((l) => l.msg === 'received').length, before + 1, 'the good message\'s line only');
});
