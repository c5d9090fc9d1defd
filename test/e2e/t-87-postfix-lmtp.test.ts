/**
 * t-87 (issue 18): Postfix's lmtp(8) client delivering into correio's LMTP server. A throwaway
 * Postfix (its own config, queue and log under a temp dir, `postfix -c DIR`, listening on a
 * free 127.0.0.1 port, never port 25) sends everything with `default_transport =
 * lmtp:inet:127.0.0.1:<correio's LMTP port>`. One message to four recipients: suzana is
 * delivered; ana's mailbox is full (one message, her quota) and bia's quota is smaller than the
 * message, which Postfix's lmtp client declares with SIZE, so correio refuses both at RCPT:
 * 452 4.2.2 (Postfix defers ana alone) and 552 5.2.2 (Postfix bounces bia); nobody is 550 5.1.1
 * (bounced). Postfix's own log shows each outcome. (Clients that declare no SIZE get the quota
 * refusals after the data: t-86.)
 * Needs root (Postfix's master runs as root and drops to `postfix`) and Debian's postfix
 * package; skips with a message otherwise.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSite, waitFor, type Site } from '../helpers/site.js';
import { runCli } from '../helpers/cli.js';
import { freePort, LineClient } from '../helpers/net.js';
import { postfixCtl, postfixDirs, postfixMainCf, postfixMasterCf, writePostfixConf } from '../helpers/postfix-conf.js';

const why = !existsSync('/usr/sbin/postfix')
  ? 'postfix is not installed (apt-get install postfix, then stop its own instance)'
  : process.getuid?.() !== 0
    ? 'Postfix needs root to start (CI runs as root)'
    : spawnSync('id', ['-u', 'postfix']).status !== 0
      ? 'no postfix user'
      : undefined;

let site: Site;
let work = '';
let conf = '';
let port = 0;

const postfix = (args: string[]): { status: number | null; out: string } => postfixCtl(conf, args);

before(async () => {
  if (why) return;
  site = await startSite({
    hostname: 'dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['suzana@dc.uece.br', 'ana@dc.uece.br', 'bia@dc.uece.br'],
    tables: '[lmtp]\nlisten = ["127.0.0.1:0"]\n',
  });
  const lmtpPort = site.app!.smtpAddresses().find((a) => a.mode === 'lmtp')!.port;
  // ana holds one message and may hold one; bia may hold 1500 octets (the message has ~2300)
  const c = await LineClient.connect(site.port, '127.0.0.1');
  for (const [line, want] of [['', /^220/], ['HELO t87', /^250/], ['MAIL FROM:<>', /^250/], ['RCPT TO:<ana@dc.uece.br>', /^250/], ['DATA', /^354/], ['Subject: first\r\n\r\nx\r\n.', /^250/]] as const) {
    if (line !== '') c.write(`${line}\r\n`);
    assert.match((await c.readReply())!, want, line);
  }
  c.close();
  await site.waitForMessages('ana@dc.uece.br', 1);
  for (const args of [['ana@dc.uece.br', '--messages', '1'], ['bia@dc.uece.br', '--storage', '1500']]) {
    const q = await runCli(['user', 'quota', ...args, '--config', site.configFile]);
    assert.equal(q.code, 0, q.stderr);
  }

  work = await mkdtemp(join(tmpdir(), 'correio-postfix-'));
  chmodSync(work, 0o755);
  const dirs = await postfixDirs(work);
  conf = dirs.conf;
  port = await freePort();
  const main = postfixMainCf(dirs, { hostname: 'postfix.dsc.ufpb.br', domain: 'dsc.ufpb.br', mydestination: '', noLookups: true }, [
    `default_transport = lmtp:inet:127.0.0.1:${lmtpPort}`,
    'lmtp_dns_support_level = disabled',
    'alias_maps =',
    // a bounce would go to the sender's (remote) site: keep it in the queue instead
    'bounce_notice_recipient = postmaster',
    'notify_classes =',
  ]);
  // Debian's master.cf without its public smtp service and without chroot, smtpd on our port
  await writePostfixConf(dirs, main, await postfixMasterCf(port, false));
  const started = postfix(['start']);
  assert.equal(started.status, 0, started.out);
});

after(async () => {
  if (why) return;
  postfix(['stop']);
  await site?.destroy();
  await rm(work, { recursive: true, force: true });
});

void test('Postfix lmtp(8) into correio: delivered; a full mailbox deferred (452 4.2.2), a too small one and an unknown user bounced (552 5.2.2, 550 5.1.1)', { skip: why ?? false }, async () => {
  // hand the message to Postfix over SMTP (its smtpd on our port)
  const c = await waitFor('Postfix smtpd', async () => LineClient.connect(port, '127.0.0.1').catch(() => undefined));
  try {
    assert.match((await c.readReply())!, /^220/);
    const body = Array.from({ length: 25 }, (_, i) => `${String(i).padStart(2, '0')} ${'x'.repeat(76)}`).join('\r\n');
    for (const [line, want] of [
      ['EHLO dsc.ufpb.br', /^250/],
      ['MAIL FROM:<helvecio@dsc.ufpb.br>', /^250/],
      ['RCPT TO:<suzana@dc.uece.br>', /^250/],
      ['RCPT TO:<ana@dc.uece.br>', /^250/],
      ['RCPT TO:<bia@dc.uece.br>', /^250/],
      ['RCPT TO:<nobody@dc.uece.br>', /^250/],
      ['DATA', /^354/],
      [`Subject: via postfix\r\n\r\n${body}\r\n.`, /^250/],
    ] as const) {
      c.write(`${line}\r\n`);
      assert.match((await c.readReply())!, want, line);
    }
    c.write('QUIT\r\n');
  } finally {
    c.close();
  }
  const got = await waitFor('suzana has it', async () => (await site.messages('suzana@dc.uece.br')).find((m) => m.includes('Subject: via postfix')), 60_000);
  assert.match(got, /by dc\.uece\.br \(correio\) with LMTP/);
  const log = await waitFor('both outcomes in the Postfix log', async () => {
    const text = await readFile(join(work, 'postfix.log'), 'utf8').catch(() => '');
    return /to=<ana@dc\.uece\.br>.*status=deferred/.test(text) && /to=<nobody@dc\.uece\.br>.*status=bounced/.test(text) && /to=<bia@dc\.uece\.br>.*status=bounced/.test(text) ? text : undefined;
  }, 60_000);
  assert.match(log, /to=<ana@dc\.uece\.br>.*status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 452 4\.2\.2 Mailbox full \(in reply to RCPT TO command\)\)/);
  assert.match(log, /to=<bia@dc\.uece\.br>.*dsn=5\.2\.2, status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 552 5\.2\.2 Mailbox full: message larger than the mailbox quota \(in reply to RCPT TO command\)\)/);
  assert.match(log, /to=<nobody@dc\.uece\.br>.*status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 No such user here \(in reply to RCPT TO command\)\)/);
  assert.match(log, /to=<suzana@dc\.uece\.br>.*status=sent \(250 2\.0\.0 OK: queued as /);
  assert.equal((await site.messages('ana@dc.uece.br')).length, 1, 'only her first message');
  assert.equal((await site.messages('bia@dc.uece.br')).length, 0);
});
