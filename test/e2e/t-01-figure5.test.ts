/**
 * t-01: the seed's figure 5 over the whole system — SMTP session, intake, spool, queue runner,
 * Maildir — driven by a transcript, by Python's smtplib and by nodemailer (real clients nobody
 * here wrote). suzana and pascal get the message; jacques is "No such user here".
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import nodemailer from 'nodemailer';
import { runDialog } from '../helpers/dialog.js';
import { python3 } from '../helpers/python.js';
import { startSite, siteEnvelopes, waitFor, type Site } from '../helpers/site.js';

let site: Site;

before(async () => {
  site = await startSite({
    hostname: 'dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['suzana@dc.uece.br', 'pascal@dc.uece.br'],
  });
});
after(async () => site.destroy());

const figure5 = `
S: 220 dc.uece.br Simple Mail Transfer Service Ready
C: HELO dsc.ufpb.br
S: 250 dc.uece.br
C: MAIL FROM: <helvecio@dsc.ufpb.br>
S: 250 OK
C: RCPT TO:<suzana@dc.uece.br>
S: 250 OK
C: RCPT TO:<jacques@dc.uece.br>
S: 550 No such user here
C: RCPT TO:<pascal@dc.uece.br>
S: 250 OK
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
C: Subject: figura 5
C:
C: .....corpo da mensagem a ser enviada ......
C: ...continua com quantas linhas existirem na
C: mensagem
C: .
S~ 250 OK(: queued as [0-9a-z]+)?
C: QUIT
S: 221 dc.uece.br Service closing transmission channel
`;

test('figure 5 transcript: suzana and pascal receive the message, jacques is refused', async () => {
  await runDialog(site.port, figure5, { address: site.host });
  const [s] = await site.waitForMessages('suzana@dc.uece.br', 1);
  const [p] = await site.waitForMessages('pascal@dc.uece.br', 1);
  for (const m of [s, p]) {
    assert.match(m, /^Return-Path: <helvecio@dsc\.ufpb\.br>\n/);
    assert.match(m, /\nReceived: from dsc\.ufpb\.br \(.*\[127\.0\.0\.1\]\)\n\tby dc\.uece\.br/);
    // RFC 5321 §4.5.2: the server removes the first dot of a line that starts with one; the
    // seed's lines were not stuffed by our transcript, so one dot goes.
    assert.match(m, /\n\.\.\.\.corpo da mensagem a ser enviada \.\.\.\.\.\.\n\.\.continua com quantas linhas existirem na\nmensagem\n$/);
  }
  assert.match(s, /^Delivered-To: suzana@dc\.uece\.br$/m);
  assert.match(p, /^Delivered-To: pascal@dc\.uece\.br$/m);
  // nothing stays in the spool once delivered (the envelope goes just after the Maildir file
  // appears, so the spool is watched, not read once)
  await waitFor('an empty spool', async () => (await siteEnvelopes(site)).length === 0);
});

const python = spawnSync('python3', ['-c', 'import smtplib'], { encoding: 'utf8' });

test('figure 5 with Python smtplib', { skip: python.status === 0 ? false : 'python3 with smtplib is not installed' }, async () => {
  const script = `
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), local_hostname='dsc.ufpb.br')
code, _ = s.helo('dsc.ufpb.br')
assert code == 250, code
try:
    refused = s.sendmail('helvecio@dsc.ufpb.br', ['suzana@dc.uece.br', 'jacques@dc.uece.br', 'pascal@dc.uece.br'],
                         b'Subject: smtplib\\r\\nMessage-ID: <py@dsc.ufpb.br>\\r\\n\\r\\ncorpo via smtplib\\r\\n')
finally:
    s.quit()
for k, v in refused.items():
    print(k, v[0], v[1].decode())
`;
  const { code, out, err } = await python3(script, [site.host, String(site.port)]);
  assert.equal(code, 0, err);
  assert.equal(out.trim(), 'jacques@dc.uece.br 550 No such user here');
  const suzana = await waitForMarked(site, 'suzana@dc.uece.br', 'corpo via smtplib');
  const pascal = await waitForMarked(site, 'pascal@dc.uece.br', 'corpo via smtplib');
  assert.match(suzana, /Message-ID: <py@dsc\.ufpb\.br>/);
  assert.match(pascal, /Message-ID: <py@dsc\.ufpb\.br>/);
});

test('figure 5 with nodemailer: rejected recipient reported, the others delivered', async () => {
  const transport = nodemailer.createTransport({
    host: site.host,
    port: site.port,
    secure: false,
    ignoreTLS: true,
    name: 'dsc.ufpb.br',
  });
  try {
    const info = await transport.sendMail({
      envelope: { from: 'helvecio@dsc.ufpb.br', to: ['suzana@dc.uece.br', 'jacques@dc.uece.br', 'pascal@dc.uece.br'] },
      from: 'helvecio@dsc.ufpb.br',
      to: 'suzana@dc.uece.br, jacques@dc.uece.br, pascal@dc.uece.br',
      subject: 'nodemailer',
      text: 'corpo via nodemailer',
    });
    assert.deepEqual(info.rejected, ['jacques@dc.uece.br']);
    assert.deepEqual([...info.accepted].sort(), ['pascal@dc.uece.br', 'suzana@dc.uece.br']);
    assert.match(info.response, /^250 2\.0\.0 OK: queued as [0-9a-z]+$/);
  } finally {
    transport.close();
  }
  await waitForMarked(site, 'suzana@dc.uece.br', 'corpo via nodemailer');
  await waitForMarked(site, 'pascal@dc.uece.br', 'corpo via nodemailer');
});

function waitForMarked(s: Site, user: string, marker: string): Promise<string> {
  return waitFor(`a message to ${user} containing ${JSON.stringify(marker)}`, async () => (await s.messages(user)).find((m) => m.includes(marker)));
}
