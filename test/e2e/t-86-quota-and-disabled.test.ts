/**
 * t-86 (issues 14, 16, 18): mailbox quotas and disabled accounts through one running site, with
 * clients nobody here wrote. Quotas are set with `correio user quota`: pascal may hold one
 * message (and has one), ana 3000 octets (and holds ~1500), bia 1000 octets.
 * - swaks --protocol LMTP and Python's smtplib.LMTP: per-recipient replies: 452 4.2.2 at RCPT
 *   for a full mailbox, 550 5.1.1 for an unknown user, and after the data one reply per
 *   accepted recipient: 250 (queued) for suzana, 452 4.2.2 for ana (this message takes her
 *   over), 552 5.2.2 for bia (larger than her whole quota); only suzana gets it.
 * - smtplib over SMTP: SIZE declared, so the refusals come at RCPT.
 * - imapflow: GETQUOTAROOT through getQuota, APPEND refused with OVERQUOTA.
 * - `correio user disable`: IMAP and POP3 logins fail, RCPT is 550 5.2.1; enable restores both.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import { startSite, waitFor, type Site } from '../helpers/site.js';
import { runCli } from '../helpers/cli.js';
import { python3 } from '../helpers/python.js';

const haveSwaks = existsSync('/usr/bin/swaks');
let site: Site;
let lmtpPort = 0;
let imapPort = 0;
let pop3Port = 0;

/** a body of about 2000 octets in lines of 80 */
const bigBody = Array.from({ length: 25 }, (_, i) => `${String(i).padStart(2, '0')} ${'x'.repeat(76)}`).join('\n');

async function cli(...args: string[]): Promise<string> {
  const r = await runCli([...args, '--config', site.configFile]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** one message over SMTP, straight into the mailbox (before the quotas are set) */
async function deliver(rcpt: string, body: string): Promise<void> {
  const c = await site.connect();
  try {
    assert.match((await c.readReply())!, /^220/);
    for (const [line, want] of [['EHLO t86', /^250/], ['MAIL FROM:<helvecio@dsc.ufpb.br>', /^250/], [`RCPT TO:<${rcpt}>`, /^250/], ['DATA', /^354/]] as const) {
      c.write(`${line}\r\n`);
      assert.match((await c.readReply())!, want, line);
    }
    c.write(`Subject: filler\r\n\r\n${body.replace(/\n/g, '\r\n')}\r\n.\r\n`);
    assert.match((await c.readReply())!, /^250/);
    c.write('QUIT\r\n');
  } finally {
    c.close();
  }
}

before(async () => {
  site = await startSite({
    hostname: 'dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['suzana@dc.uece.br', 'pascal@dc.uece.br', 'ana@dc.uece.br', 'bia@dc.uece.br'],
    tables: '[lmtp]\nlisten = ["127.0.0.1:0"]\n[imap]\nlisten = ["127.0.0.1:0"]\n[pop3]\nlisten = ["127.0.0.1:0"]\n',
  });
  lmtpPort = site.app!.smtpAddresses().find((a) => a.mode === 'lmtp')!.port;
  imapPort = site.app!.imapAddresses()[0].port;
  pop3Port = site.app!.pop3Addresses()[0].port;
  await deliver('pascal@dc.uece.br', 'one message');
  await deliver('ana@dc.uece.br', bigBody.slice(0, 1400));
  await site.waitForMessages('pascal@dc.uece.br', 1);
  await site.waitForMessages('ana@dc.uece.br', 1);
  await cli('user', 'quota', 'pascal@dc.uece.br', '--messages', '1');
  await cli('user', 'quota', 'ana@dc.uece.br', '--storage', '3000');
  await cli('user', 'quota', 'bia@dc.uece.br', '--storage', '1000');
});

after(async () => {
  await site.destroy();
});

function swaks(args: string[]): Promise<{ code: number; text: string }> {
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/swaks',
      ['--protocol', 'LMTP', '--server', '127.0.0.1', '--port', String(lmtpPort), '--from', 'helvecio@dsc.ufpb.br', '--helo', 'dsc.ufpb.br', '--timeout', '20', ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr }),
    );
  });
}

void test('swaks LMTP: 452 at RCPT for a full mailbox, and after the data 250 / 452 4.2.2 / 552 5.2.2 per recipient', { skip: haveSwaks ? false : 'swaks is not installed (apt-get install swaks)' }, async () => {
  const out = await swaks(['--to', 'suzana@dc.uece.br,pascal@dc.uece.br,ana@dc.uece.br,bia@dc.uece.br,nobody@dc.uece.br', '--header', 'Subject: lmtp quota', '--body', bigBody]);
  assert.match(out.text, /RCPT TO:<pascal@dc\.uece\.br>\n<\*\* +452 4\.2\.2 Mailbox full/, out.text);
  assert.match(out.text, /RCPT TO:<nobody@dc\.uece\.br>\n<\*\* +550 5\.1\.1 No such user here/);
  // after the dot: suzana, ana, bia in RCPT order
  const after = out.text.slice(out.text.lastIndexOf(' .\n'));
  const replies = [...after.matchAll(/^<(?:-|\*\*) +(\d{3} .*)$/gm)].map((m) => m[1]).slice(0, 3);
  assert.match(replies[0], /^250 2\.0\.0 OK: queued as/, after);
  assert.equal(replies[1], '452 4.2.2 Mailbox full');
  assert.equal(replies[2], '552 5.2.2 Mailbox full: message larger than the mailbox quota');
  await waitFor('suzana has it', async () => (await site.messages('suzana@dc.uece.br')).some((m) => m.includes('Subject: lmtp quota')));
  assert.ok(!(await site.messages('ana@dc.uece.br')).some((m) => m.includes('Subject: lmtp quota')));
  assert.equal((await site.messages('bia@dc.uece.br')).length, 0);
});

void test('Python smtplib.LMTP: the reply after the data for each accepted recipient', async (t) => {
  const r = await python3(
    [
      'import smtplib, sys',
      'c = smtplib.LMTP("127.0.0.1", int(sys.argv[1]))',
      'c.ehlo("dsc.ufpb.br")',
      'c.mail("helvecio@dsc.ufpb.br")',
      'print(c.rcpt("pascal@dc.uece.br")[0])',
      'for r in ("suzana@dc.uece.br", "ana@dc.uece.br"): c.rcpt(r)',
      'body = ("Subject: python lmtp quota\\r\\n\\r\\n" + sys.argv[2].replace("\\n", "\\r\\n")).encode()',
      'first = c.data(body)',
      'second = c.getreply()',
      'print(first[0], second[0], second[1].decode())',
      'c.quit()',
    ].join('\n'),
    [String(lmtpPort), bigBody],
  ).catch((e: NodeJS.ErrnoException) => ({ code: -1, out: '', err: String(e.code) }));
  if (r.code === -1) return t.skip('python3 is not installed');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), '452\n250 452 4.2.2 Mailbox full');
});

void test('smtplib over SMTP: with SIZE declared, a full or too small mailbox is refused at RCPT', async (t) => {
  const r = await python3(
    [
      'import smtplib, sys',
      'c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))',
      'refused = c.sendmail("helvecio@dsc.ufpb.br", ["suzana@dc.uece.br", "pascal@dc.uece.br", "bia@dc.uece.br"], ("Subject: smtp quota\\r\\n\\r\\n" + sys.argv[2].replace("\\n", "\\r\\n")).encode())',
      'for k in sorted(refused): print(k, refused[k][0], refused[k][1].decode())',
      'c.quit()',
    ].join('\n'),
    [String(site.port), bigBody],
  ).catch((e: NodeJS.ErrnoException) => ({ code: -1, out: '', err: String(e.code) }));
  if (r.code === -1) return t.skip('python3 is not installed');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), 'bia@dc.uece.br 552 5.2.2 Mailbox full: message larger than the mailbox quota\npascal@dc.uece.br 452 4.2.2 Mailbox full');
});

function imap(user: string): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, tls: { rejectUnauthorized: false }, auth: { user, pass: 'secret' }, logger: false, autoIdleDelay: 60_000 });
}

void test('imapflow: getQuota reads the QUOTA extension; APPEND over the quota gets OVERQUOTA', async () => {
  const c = imap('pascal@dc.uece.br');
  await c.connect();
  try {
    assert.ok(c.capabilities.has('QUOTA'));
    const q = await c.getQuota('INBOX');
    assert.ok(q, 'a quota root');
    // imapflow names each resource after its atom in lower case: MESSAGE → "message"
    assert.deepEqual((q as unknown as Record<string, unknown>).message, { usage: 1, limit: 1, status: '100%' });
    await assert.rejects(c.append('INBOX', 'Subject: more\r\n\r\nx\r\n'), (err: Error & { serverResponseCode?: string }) => {
      assert.equal(err.serverResponseCode, 'OVERQUOTA');
      return true;
    });
  } finally {
    await c.logout();
  }
});

/** Python's poplib after STLS (passwords only over TLS): "+OK …" or "-ERR …" for PASS */
async function pop3Login(user: string): Promise<string> {
  const r = await python3(
    [
      'import poplib, ssl, sys',
      'p = poplib.POP3("127.0.0.1", int(sys.argv[1]))',
      'p.stls(context=ssl._create_unverified_context())',
      'p.user(sys.argv[2])',
      'try:',
      '    print(p.pass_("secret").decode())',
      'except poplib.error_proto as e:',
      '    print(e.args[0].decode())',
      'p.quit()',
    ].join('\n'),
    [String(pop3Port), user],
  );
  assert.equal(r.code, 0, r.err);
  return r.out.trim();
}

void test('a disabled account: no IMAP or POP3 login, RCPT 550 5.2.1; enabled again, both work', async () => {
  await cli('user', 'disable', 'suzana@dc.uece.br');
  try {
    await assert.rejects(imap('suzana@dc.uece.br').connect());
    assert.match(await pop3Login('suzana@dc.uece.br'), /^-ERR/);
    const c = await site.connect();
    try {
      for (const [line, want] of [['', /^220/], ['EHLO t86', /^250/], ['MAIL FROM:<helvecio@dsc.ufpb.br>', /^250/], ['RCPT TO:<suzana@dc.uece.br>', /^550 5\.2\.1 Mailbox disabled/]] as const) {
        if (line !== '') c.write(`${line}\r\n`);
        assert.match((await c.readReply())!, want);
      }
    } finally {
      c.close();
    }
  } finally {
    await cli('user', 'enable', 'suzana@dc.uece.br');
  }
  assert.match(await pop3Login('suzana@dc.uece.br'), /^\+OK/);
  const ok = imap('suzana@dc.uece.br');
  await ok.connect();
  await ok.logout();
});
