/**
 * t-39 (issue 14, concurrency): mail the queue delivers reaches a session in IDLE whatever way it
 * came in: over LMTP, through a mailing list, and from the local sendmail, through one `correio
 * serve` (startApp). The session stays in one IDLE across the three and is told each new message
 * with EXISTS; then FETCH shows which one came how.
 * Standards: RFC 2177 / RFC 9051 §6.3.13 (IDLE), §7.4.1 (EXISTS); RFC 2033 (LMTP).
 * Security: loopback only; test passwords.
 * Limitations: how soon each EXISTS comes is not asserted (no timing in tests): the server polls
 *   the folder every second besides its watches (`idle-command.ts`), docs/performance.md has the
 *   10,000-session figures.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, runCliOk } from '../helpers/cli.js';
import { LineClient } from '../helpers/net.js';
import { sendMail, startSite, type Site } from '../helpers/site.js';

let site: Site;
let imapPort = 0;
let lmtpPort = 0;

const cli = (...args: string[]): Promise<string> => runCliOk(site.configFile, ...args);

before(async () => {
  site = await startSite({
    hostname: 'mx.dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['suzana@dc.uece.br', 'helvecio@dc.uece.br'],
    tables: '[lmtp]\nlisten = ["127.0.0.1:0"]\n[imap]\nlisten = ["127.0.0.1:0"]\n',
  });
  imapPort = site.app!.imapAddresses()[0].port;
  lmtpPort = site.app!.smtpAddresses().find((a) => a.mode === 'lmtp')!.port;
  await cli('list', 'create', 'staff@dc.uece.br', '--owner', 'helvecio@dc.uece.br');
  await cli('list', 'add', 'staff@dc.uece.br', 'suzana@dc.uece.br');
});
after(async () => {
  await site?.destroy();
});

/** Reads lines until one equals `want` (untagged updates in between are passed over). */
async function lineOf(c: LineClient, want: string): Promise<void> {
  for (;;) {
    const l = await c.readLine(30_000);
    assert.notEqual(l, undefined, `closed before ${want}`);
    if (l === want) return;
  }
}

async function lmtp(subject: string): Promise<void> {
  const c = await LineClient.connect(lmtpPort, '127.0.0.1');
  try {
    assert.match((await c.readReply()) ?? '', /^220/);
    for (const [line, want] of [['LHLO t39', /^250/], ['MAIL FROM:<helvecio@dc.uece.br>', /^250/], ['RCPT TO:<suzana@dc.uece.br>', /^250/], ['DATA', /^354/]] as const) {
      assert.match((await c.command(line)) ?? '', want, line);
    }
    // RFC 2033 §4.2: one reply per accepted recipient after the data
    assert.match((await c.command(`Subject: ${subject}\r\n\r\nvia LMTP\r\n.`)) ?? '', /^250/);
    await c.command('QUIT');
  } finally {
    c.close();
  }
}

void test('one IDLE hears a message delivered over LMTP, one through a list and one from sendmail', async () => {
  const c = await LineClient.connect(imapPort, '127.0.0.1');
  try {
    await c.readLine();
    c.write('a LOGIN suzana@dc.uece.br secret\r\nb SELECT INBOX\r\nc IDLE\r\n');
    await c.readTagged('b');
    await lineOf(c, '+ idling');

    await lmtp('pelo LMTP');
    await lineOf(c, '* 1 EXISTS');
    const r = await sendMail(site, 'helvecio@dc.uece.br', ['staff@dc.uece.br'], 'Subject: pela lista\n\npara todos\n');
    assert.match(r.final ?? '', /^250/);
    await lineOf(c, '* 2 EXISTS');
    const s = await runCli(['sendmail', 'suzana@dc.uece.br', '--config', site.configFile], { stdin: 'Subject: pelo sendmail\n\nlocal\n' });
    assert.equal(s.code, 0, s.stderr);
    await lineOf(c, '* 3 EXISTS');

    c.write('DONE\r\n');
    assert.match((await c.readTagged('c')).at(-1) ?? '', /^c OK/);
    c.write('d FETCH 1:3 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n');
    const subjects = (await c.readTagged('d')).filter((l) => l.startsWith('Subject:'));
    assert.deepEqual(subjects, ['Subject: pelo LMTP', 'Subject: pela lista', 'Subject: pelo sendmail']);
  } finally {
    c.close();
  }
});
