/**
 * t-23: the mail log writes one `received` line per accepted message. Intake publishes
 * `received` (it sees every source); the SMTP session does not, so a message that came over SMTP
 * (DATA or BDAT) is not logged twice. A message refused at the end of data is one `rejected`
 * line and no `received` line.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSite, type Site } from '../helpers/site.js';
import { startMailLog, type MailLog } from '../../src/log/index.js';
import { SmtpTestClient } from './t-20-smtp-tls-client.js';

interface Line {
  level: string;
  msg: string;
  obj: Record<string, unknown>;
}

let site: Site;
let log: MailLog;
const lines: Line[] = [];

before(async () => {
  site = await startSite({ domains: ['localhost'], hostname: 'mx.localhost', users: ['u1@localhost', 'u2@localhost'] });
  const rec = (level: string) => (obj: object, msg: string) => void lines.push({ level, msg, obj: obj as Record<string, unknown> });
  log = startMailLog({ info: rec('info'), warn: rec('warn'), error: rec('error') });
});
after(async () => {
  log.stop();
  await site.destroy();
});

function received(messageId: string): Line[] {
  return lines.filter((l) => l.msg === 'received' && l.obj.messageId === messageId);
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

    await site.waitForMessages('u1@localhost', 2);
    const [one] = received(id);
    assert.equal(received(id).length, 1);
    assert.deepEqual(one.obj.recipients, ['u1@localhost', 'u2@localhost']);
    assert.equal(one.obj.sender, 'a@far.example');
    assert.equal(one.obj.client, '127.0.0.1');
    assert.equal(one.obj.protocol, 'ESMTP');
    assert.equal(received(id2).length, 1);
    // and each recipient is one queued line
    assert.equal(lines.filter((l) => l.msg === 'queued' && l.obj.messageId === id).length, 2);
  } finally {
    c.close();
  }
});

test('a message refused at the end of data: one rejected line, no received line', async () => {
  const before = lines.filter((l) => l.msg === 'received').length;
  const c = await SmtpTestClient.open(site.port);
  try {
    await c.readReply();
    await c.command('EHLO client.test');
    // RFC 5321 §6.3: too many trace fields mean a loop (max_hops, default 50)
    const loop = Array.from({ length: 60 }, (_, i) => `Received: from h${i}.example by h${i + 1}.example; Thu, 1 Jan 2026 00:00:00 +0000`).join('\n');
    const r = await c.send('a@far.example', ['u1@localhost'], `${loop}\nSubject: loop\n\nx\n`);
    assert.equal(r.final, '554 5.4.6 Mail loop detected');
    await c.command('QUIT');
  } finally {
    c.close();
  }
  const rejected = lines.filter((l) => l.msg === 'rejected' && l.obj.stage === 'data');
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0].level, 'warn');
  assert.equal(lines.filter((l) => l.msg === 'received').length, before);
});
