/**
 * t-80 (issue 18): LMTP (RFC 2033) into correio's mailboxes, and SMTP/LMTP on UNIX sockets.
 * A real site with `[lmtp] listen` on TCP and on a UNIX socket: the seed's figure 5 as an LMTP
 * transcript (one reply per accepted recipient after the dot), Debian's swaks with
 * `--protocol LMTP` over TCP and over the socket, Python's smtplib.LMTP over the socket, and
 * the mail found in each recipient's Maildir. UNIX sockets: the file mode is the configured one,
 * a client there may relay (trusted like trusted_networks) while a TCP client outside the
 * trusted networks may not, a stale socket file is replaced and any other file is refused with
 * one line naming the key (exit 78).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { startSite, type Site } from '../helpers/site.js';
import { runDialogFile } from '../helpers/dialog.js';
import { projectRoot } from '../helpers/paths.js';
import { python3 } from '../helpers/python.js';
import { LineClient } from '../helpers/net.js';
import { runCli } from '../helpers/cli.js';

const haveSwaks = existsSync('/usr/bin/swaks');
let site: Site;
let lmtpPort = 0;
let lmtpSocket = '';

before(async () => {
  // the socket paths live in the site's folder (sun_path is short: keep them relative)
  site = await startSite({
    hostname: 'dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['suzana@dc.uece.br', 'pascal@dc.uece.br'],
    smtp: { trusted_networks: [], socket_mode: '0600' },
    tables: '[lmtp]\nlisten = ["127.0.0.1:0", "unix:lmtp.sock"]\nsocket_mode = "0660"\n',
  });
  const lmtp = site.app!.smtpAddresses().filter((a) => a.mode === 'lmtp');
  lmtpPort = lmtp.find((a) => a.path === undefined)!.port;
  lmtpSocket = lmtp.find((a) => a.path !== undefined)!.path!;
});

after(async () => {
  await site.destroy();
});

async function countOf(user: string): Promise<number> {
  return (await site.mailbox(user)).length;
}

void test('LMTP figure 5: one reply per accepted recipient, mail in both mailboxes', async () => {
  const before = [await countOf('suzana@dc.uece.br'), await countOf('pascal@dc.uece.br')];
  await runDialogFile(lmtpPort, join(projectRoot, 'test', 'dialogs', 'lmtp-figure5.txt'));
  const s = await site.waitForMessages('suzana@dc.uece.br', before[0] + 1);
  const p = await site.waitForMessages('pascal@dc.uece.br', before[1] + 1);
  const last = s.find((m) => m.includes('Subject: figure 5'))!;
  assert.ok(last, 'suzana got figure 5');
  assert.match(last, /with LMTP id/);
  // RFC 5321 §4.5.2: the leading period was removed
  assert.match(last, /\r?\n\.\.\.corpo da mensagem/);
  assert.ok(p.some((m) => m.includes('Subject: figure 5')));
});

void test('UNIX socket listeners get their configured file mode', async () => {
  const l = await stat(lmtpSocket);
  assert.ok(l.isSocket());
  assert.equal(l.mode & 0o777, 0o660);
});

void test('swaks --protocol LMTP over TCP: accepted and refused recipients, one reply each', { skip: haveSwaks ? false : 'swaks is not installed (apt-get install swaks)' }, async () => {
  const before = await countOf('pascal@dc.uece.br');
  const out = await swaks(['--server', '127.0.0.1', '--port', String(lmtpPort), '--to', 'pascal@dc.uece.br,nobody@dc.uece.br,suzana@dc.uece.br', '--header', 'Subject: swaks tcp']);
  assert.match(out.text, /<\*\* 550 5\.1\.1 No such user here/);
  // two accepted recipients: two replies after the dot
  assert.equal([...out.text.matchAll(/<- {2}250 2\.0\.0 OK: queued as/g)].length, 2, out.text);
  await site.waitForMessages('pascal@dc.uece.br', before + 1);
  await waitFor(async () => (await site.messages('pascal@dc.uece.br')).some((x) => x.includes('Subject: swaks tcp')));
  await waitFor(async () => (await site.messages('suzana@dc.uece.br')).some((x) => x.includes('Subject: swaks tcp')));
});

void test('swaks --protocol LMTP over the UNIX socket', { skip: haveSwaks ? false : 'swaks is not installed (apt-get install swaks)' }, async () => {
  const out = await swaks(['--socket', lmtpSocket, '--to', 'suzana@dc.uece.br', '--header', 'Subject: swaks socket']);
  assert.equal(out.code, 0, out.text);
  await waitFor(async () => (await site.messages('suzana@dc.uece.br')).some((x) => x.includes('Subject: swaks socket')));
  const got = (await site.messages('suzana@dc.uece.br')).find((x) => x.includes('Subject: swaks socket'))!;
  // a socket peer has no address: Received names the LHLO name only
  assert.match(got, /Received: from dsc\.ufpb\.br\s+by dc\.uece\.br \(correio\) with LMTP/);
});

void test('Python smtplib.LMTP over the UNIX socket: per-recipient results', async (t) => {
  const r = await python3(
    [
      'import smtplib, sys',
      'c = smtplib.LMTP(sys.argv[1])',
      'try:',
      '    c.sendmail("helvecio@dsc.ufpb.br", ["pascal@dc.uece.br", "ghost@dc.uece.br"], "Subject: python lmtp\\r\\n\\r\\nolá\\r\\n".encode())',
      'except smtplib.SMTPRecipientsRefused as e:',
      '    print("refused", e)',
      'else:',
      '    print("ok")',
      'c.quit()',
    ].join('\n'),
    [lmtpSocket],
  ).catch((e: NodeJS.ErrnoException) => ({ code: -1, out: '', err: String(e.code) }));
  if (r.code === -1) return t.skip('python3 is not installed');
  assert.equal(r.code, 0, r.err);
  // smtplib raises only when every recipient is refused: one was taken
  assert.equal(r.out.trim(), 'ok');
  await waitFor(async () => (await site.messages('pascal@dc.uece.br')).some((x) => x.includes('Subject: python lmtp')));
});

void test('LMTP never relays, even from a trusted address', async () => {
  const c = await LineClient.connect(lmtpPort, '127.0.0.1');
  try {
    assert.match((await c.readReply())!, /^220 /);
    c.write('LHLO x\r\n');
    assert.match((await c.readReply())!, /^250/);
    c.write('MAIL FROM:<a@b.example>\r\n');
    assert.match((await c.readReply())!, /^250/);
    c.write('RCPT TO:<x@elsewhere.example>\r\n');
    assert.match((await c.readReply())!, /^554 5\.7\.1/);
  } finally {
    c.close();
  }
});

async function smtpDialog(client: LineClient): Promise<string> {
  assert.match((await client.readReply())!, /^220 /);
  client.write('EHLO local\r\n');
  assert.match((await client.readReply())!, /^250/);
  client.write('MAIL FROM:<helvecio@dsc.ufpb.br>\r\n');
  assert.match((await client.readReply())!, /^250/);
  client.write('RCPT TO:<someone@elsewhere.example>\r\n');
  const r = (await client.readReply())!;
  client.write('QUIT\r\n');
  return r;
}

void test('SMTP on a UNIX socket: mode from smtp.socket_mode, its clients may relay; TCP clients outside trusted_networks may not', async () => {
  const other = await startSite({
    domains: ['dc.uece.br'],
    smtp: { trusted_networks: [], socket_mode: '0600', listen: ['127.0.0.1:0', 'unix:smtp.sock'] },
  });
  try {
    const addrs = other.app!.smtpAddresses();
    const path = addrs.find((a) => a.path !== undefined)!.path!;
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const viaSocket = await smtpDialog(new LineClient(net.connect(path)));
    assert.match(viaSocket, /^250 /);
    const viaTcp = await smtpDialog(await LineClient.connect(addrs.find((a) => a.path === undefined)!.port, '127.0.0.1'));
    assert.match(viaTcp, /^554 5\.7\.1/);
  } finally {
    await other.destroy();
  }
});

void test('a stale socket file is replaced; any other file at the path is refused with the key named', async (t) => {
  const dir = site.dir;
  // a socket file nobody listens on, as a killed server leaves it (bound, then the process gone)
  const stalePath = join(dir, 'stale.sock');
  const made = await python3('import socket, sys\nsocket.socket(socket.AF_UNIX).bind(sys.argv[1])', [stalePath]).catch(() => undefined);
  if (made?.code !== 0) return t.skip('python3 is not installed (it leaves the stale socket file)');
  assert.ok((await stat(stalePath)).isSocket());
  const s2 = await startSite({ domains: ['dc.uece.br'], smtp: { listen: ['127.0.0.1:0', `unix:${stalePath}`] } });
  try {
    const r = await smtpDialog(new LineClient(net.connect(stalePath)));
    assert.match(r, /^250 /);
  } finally {
    await s2.destroy();
  }
  // a regular file is never removed
  const plain = join(dir, 'not-a-socket');
  await writeFile(plain, 'keep me');
  const cfg = join(dir, 'bad-socket.toml');
  await writeFile(cfg, `data_dir = "bad-var"\nlocal_domains = ["dc.uece.br"]\n[smtp]\nlisten = ["unix:${plain}"]\n[imap]\nlisten = []\n[metrics]\nlisten = []\n[log]\nlevel = "silent"\n`);
  const res = await runCli(['serve', '--config', cfg]);
  assert.equal(res.code, 78, res.stderr);
  assert.match(res.stderr, /smtp\.listen: unix:.*not-a-socket exists and is not a socket/);
  assert.equal((await stat(plain)).size, 7);
});

async function waitFor(f: () => Promise<boolean>, ms = 20000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function swaks(args: string[]): Promise<{ code: number; text: string }> {
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/swaks',
      ['--protocol', 'LMTP', '--from', 'helvecio@dsc.ufpb.br', '--helo', 'dsc.ufpb.br', '--body', 'corpo', '--timeout', '20', ...args],
      { timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr }),
    );
  });
}
