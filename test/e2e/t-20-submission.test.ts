/**
 * t-20: message submission (RFC 6409) and TLS (RFC 3207, RFC 8314) over the whole running
 * system: STARTTLS then AUTH PLAIN on the submission listener (Python's smtplib, nodemailer and a
 * raw client), AUTH refused before TLS, wrong passwords answered 535 5.7.8 and then 421 per
 * client IP, sender spoofing (MAIL FROM and the From header) refused 553 5.7.1, Message-ID and
 * Date added when missing, implicit TLS on the submissions listener, STARTTLS on the MX port.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { startSite, siteEnvelopes, waitFor, type Site } from '../helpers/site.js';
import { freePort } from '../helpers/net.js';
import { runPython } from '../helpers/python.js';
import { SmtpTestClient, tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';

let site: Site;
let mx: number;
let submission: number;
let submissions: number;

before(async () => {
  const closed = await freePort();
  site = await startSite({
    domains: ['localhost'],
    hostname: 'mx.localhost',
    users: ['u1@localhost', 'u2@localhost'],
    aliases: { 'sales@localhost': ['u1@localhost'] },
    smtp: {
      submission: ['127.0.0.1:0'],
      submissions: ['127.0.0.1:0'],
      tls_cert: tlsCertFile,
      tls_key: tlsKeyFile,
      trusted_networks: ['127.0.0.1/32'],
    },
    // nothing leaves the machine: no DNS but a closed local port
    delivery: { dns_servers: [`127.0.0.1:${closed}`], retry_min: '1h', retry_max: '1h' },
  });
  const addrs = site.app!.smtpAddresses();
  const port = (mode: string): number => addrs.find((a) => a.mode === mode)!.port;
  mx = port('mx');
  submission = port('submission');
  submissions = port('submissions');
});
after(async () => site.destroy());

/** EHLO, STARTTLS, EHLO, AUTH PLAIN as `user` on the submission port. */
async function submit(user = 'u1@localhost', localAddress?: string): Promise<SmtpTestClient> {
  const c = await SmtpTestClient.open(submission, { localAddress });
  assert.match((await c.readReply())!, /^220 mx\.localhost /);
  assert.match((await c.command('EHLO client.test'))!, /\n250-STARTTLS\n/);
  await c.smtpStartTls();
  const ehlo = (await c.command('EHLO client.test'))!;
  assert.match(ehlo, /\n250-AUTH PLAIN LOGIN\n/);
  assert.doesNotMatch(ehlo, /STARTTLS/);
  assert.equal(await c.authPlain(user, 'secret'), '235 2.7.0 Authentication successful');
  return c;
}

/** Messages in the mailbox whose text matches `marker`. */
async function waitForMarked(user: string, marker: string): Promise<string> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const hit = (await site.messages(user)).find((m) => m.includes(marker));
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`${user}: no message with ${marker}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const python = spawnSync('python3', ['-c', 'import smtplib, ssl'], { encoding: 'utf8' }).status === 0;

const smtplibSubmit = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.test')
s.starttls(context=ctx)
s.ehlo('client.test')
s.login('u1@localhost', 'secret')
refused = s.sendmail('u1@localhost', ['u2@localhost'], b'From: u1@localhost\\r\\nTo: u2@localhost\\r\\nSubject: via smtplib\\r\\n\\r\\nmarker-smtplib\\r\\n')
# the same login may not send as u2 (RFC 6409 section 6.1)
try:
    s.sendmail('u2@localhost', ['u1@localhost'], b'Subject: spoof\\r\\n\\r\\nx\\r\\n')
    print('spoof accepted')
except smtplib.SMTPSenderRefused as e:
    print('spoof', e.smtp_code, e.smtp_error.decode())
s.quit()
print('refused', len(refused))
`;

test('Python smtplib: STARTTLS + AUTH PLAIN on the submission port, delivered; spoofed MAIL FROM 553', { skip: python ? false : 'python3 with smtplib and ssl is not installed' }, async () => {
  const out = await runPython(smtplibSubmit, [String(submission), tlsCertFile]);
  assert.deepEqual(out.trim().split('\n'), ['spoof 553 5.7.1 Sender address not owned by authenticated user', 'refused 0']);
  const m = await waitForMarked('u2@localhost', 'marker-smtplib');
  // RFC 3848: ESMTPSA = ESMTP + TLS + AUTH
  assert.match(m, /^Received: from client\.test \(unknown \[127\.0\.0\.1\]\)\n\t\(using TLSv1\.[23] with cipher \S+\)\n\tby mx\.localhost \(correio\) with ESMTPSA id /m);
  // RFC 6409 §8.2, §8.3: the submission server adds the missing Message-ID and Date
  assert.match(m, /^Message-ID: <[^>]+@mx\.localhost>$/m);
  assert.match(m, /^Date: /m);
});

test('nodemailer: STARTTLS + AUTH PLAIN on submission, and implicit TLS on submissions', async () => {
  const ca = readFileSync(tlsCertFile);
  const starttls = nodemailer.createTransport({
    host: '127.0.0.1', port: submission, secure: false, requireTLS: true, name: 'client.test',
    tls: { ca, servername: 'localhost' }, auth: { user: 'u1@localhost', pass: 'secret', method: 'PLAIN' },
  });
  const a = await starttls.sendMail({ from: 'u1@localhost', to: 'u2@localhost', subject: 'starttls', text: 'marker-nodemailer-587' });
  assert.deepEqual(a.accepted, ['u2@localhost']);
  const implicit = nodemailer.createTransport({
    host: '127.0.0.1', port: submissions, secure: true, name: 'client.test',
    tls: { ca, servername: 'localhost' }, auth: { user: 'u2@localhost', pass: 'secret' },
  });
  const b = await implicit.sendMail({ from: 'Two <u2@localhost>', to: 'u1@localhost', subject: 'implicit', text: 'marker-nodemailer-465' });
  assert.deepEqual(b.accepted, ['u1@localhost']);
  starttls.close();
  implicit.close();
  assert.match(await waitForMarked('u2@localhost', 'marker-nodemailer-587'), /\(correio\) with ESMTPSA id /);
  assert.match(await waitForMarked('u1@localhost', 'marker-nodemailer-465'), /\(correio\) with ESMTPSA id /);
  // nodemailer gave its own Message-ID: kept, not doubled
  const m = await waitForMarked('u1@localhost', 'marker-nodemailer-465');
  assert.equal(m.match(/^Message-ID:/gim)?.length, 1);
});

test('implicit TLS (submissions): greeting only after the handshake; AUTH offered at once', async () => {
  const c = await SmtpTestClient.open(submissions, { implicitTls: true });
  try {
    assert.ok(c.encrypted);
    await c.transcript(`
S: 220 mx.localhost Simple Mail Transfer Service Ready
C: EHLO client.test
S: 250-mx.localhost
S~ 250-.*
S~ 250-.*
S~ 250-.*
S~ 250-.*
S~ 250-.*
S~ 250-.*
S~ 250-.*
S: 250-AUTH PLAIN LOGIN
S: 250 HELP
C: MAIL FROM:<u1@localhost>
S: 530 5.7.0 Authentication required
`);
    assert.equal(await c.authPlain('u1@localhost', 'secret'), '235 2.7.0 Authentication successful');
    const r = await c.send('u1@localhost', ['u2@localhost'], 'From: u1@localhost\nSubject: 465\n\nmarker-raw-465\n');
    assert.match(r.final!, /^250 2\.0\.0 OK: queued as /);
    await c.command('QUIT');
  } finally {
    c.close();
  }
  assert.match(await waitForMarked('u2@localhost', 'marker-raw-465'), /\(correio\) with ESMTPSA id /);
});

test('AUTH before TLS is refused (538 5.7.11) and MAIL needs AUTH (530 5.7.0)', async () => {
  const c = await SmtpTestClient.open(submission);
  try {
    await c.transcript(`
S: 220 mx.localhost Simple Mail Transfer Service Ready
C: EHLO client.test
S: 250-mx.localhost
S~ 250-(?!AUTH).*
S~ 250-(?!AUTH).*
S~ 250-(?!AUTH).*
S~ 250-(?!AUTH).*
S~ 250-(?!AUTH).*
S~ 250-(?!AUTH).*
S~ 250-(?!AUTH).*
S: 250-STARTTLS
S: 250 HELP
C: AUTH PLAIN ${Buffer.from('\0u1@localhost\0secret').toString('base64')}
S: 538 5.7.11 Encryption required for requested authentication mechanism
C: AUTH LOGIN
S: 538 5.7.11 Encryption required for requested authentication mechanism
C: MAIL FROM:<u1@localhost>
S: 530 5.7.0 Authentication required
C: QUIT
S: 221 2.0.0 mx.localhost Service closing transmission channel
`);
  } finally {
    c.close();
  }
});

test('wrong password: 535 5.7.8, then 421 for that client address; other addresses unaffected', async () => {
  const bad = async (): Promise<SmtpTestClient> => {
    const c = await SmtpTestClient.open(submission, { localAddress: '127.0.0.11' });
    await c.readReply();
    await c.command('EHLO client.test');
    await c.smtpStartTls();
    await c.command('EHLO client.test');
    return c;
  };
  const c = await bad();
  const replies: string[] = [];
  // smtp-server's default: 5 failures per client IP within the window, then 421 and close
  for (let i = 0; i < 5; i++) replies.push((await c.authPlain('u1@localhost', `wrong${i}`)) ?? '<closed>');
  assert.deepEqual(replies.slice(0, 4), Array(4).fill('535 5.7.8 Authentication credentials invalid'));
  assert.equal(replies[4], '535 5.7.8 Authentication credentials invalid');
  assert.equal(await c.readReply(), '421 4.7.0 mx.localhost Too many authentication failures');
  assert.equal(await c.readReply(), undefined, 'the server closed the connection');
  c.close();
  // a new session from the same address is refused even with the right password
  const again = await bad();
  assert.equal(await again.authPlain('u1@localhost', 'secret'), '421 4.7.0 mx.localhost Too many authentication failures');
  again.close();
  // the limit is per client IP
  const other = await submit('u1@localhost', '127.0.0.12');
  other.close();
});

test('sender spoofing: MAIL FROM of another user → 553 5.7.1; own aliases allowed', async () => {
  const c = await submit('u1@localhost');
  try {
    assert.equal(await c.command('MAIL FROM:<u2@localhost>'), '553 5.7.1 Sender address not owned by authenticated user');
    assert.equal(await c.command('MAIL FROM:<U2@LOCALHOST>'), '553 5.7.1 Sender address not owned by authenticated user');
    assert.equal(await c.command('MAIL FROM:<boss@other.example>'), '553 5.7.1 Sender address not owned by authenticated user');
    // an alias that points at u1 is u1's (RFC 6409 §6.1 leaves the mapping to the site)
    const r = await c.send('sales@localhost', ['u2@localhost'], 'From: Sales <sales@localhost>\nSubject: alias\n\nmarker-alias\n');
    assert.match(r.final!, /^250 2\.0\.0 /);
    // the null sender is not an identity claim (RFC 6409 §6.1 concerns addresses)
    assert.equal(await c.command('MAIL FROM:<>'), '250 2.1.0 OK');
    await c.command('RSET');
  } finally {
    c.close();
  }
  await waitForMarked('u2@localhost', 'marker-alias');
});

test('sender spoofing in the From header → 553 5.7.1 at the end of data, nothing queued', async () => {
  const before = (await siteEnvelopes(site)).length;
  const c = await submit('u1@localhost');
  const spoofs = [
    'From: u2@localhost',
    'From: "u1@localhost" <u2@localhost>',
    'From: u1@localhost, u2@localhost',
    'From: u1@localhost <u2@localhost>',
    'From: Boss\r\n <boss@other.example>',
    'From: Undisclosed recipients:;',
  ];
  try {
    for (const from of spoofs) {
      const r = await c.send('u1@localhost', ['u2@localhost'], `${from}\nSubject: spoof\n\nmarker-spoof\n`);
      assert.equal(r.final, '553 5.7.1 Sender address not owned by authenticated user', from);
    }
    // and two From fields, the second foreign
    const two = await c.send('u1@localhost', ['u2@localhost'], 'From: u1@localhost\nFrom: u2@localhost\nSubject: two\n\nmarker-spoof\n');
    assert.equal(two.final, '553 5.7.1 Sender address not owned by authenticated user');
    // the session goes on: an honest message is accepted
    const ok = await c.send('u1@localhost', ['u2@localhost'], 'From: "U. One" <U1@LocalHost>\nSubject: honest\n\nmarker-honest\n');
    assert.match(ok.final!, /^250 2\.0\.0 /);
  } finally {
    c.close();
  }
  await waitForMarked('u2@localhost', 'marker-honest');
  assert.equal((await site.messages('u2@localhost')).filter((m) => m.includes('marker-spoof')).length, 0);
  // the delivered envelope leaves the spool just after its Maildir file appears: watch, not read once
  await waitFor('the spool back to its size', async () => (await siteEnvelopes(site)).length <= before);
});

test('the MX port does not police From (mail from strangers carries any From); submission adds no Message-ID there', async () => {
  const c = await SmtpTestClient.open(mx, { localAddress: '127.0.0.9' });
  try {
    await c.readReply();
    await c.command('EHLO far.example');
    const r = await c.send('someone@far.example', ['u2@localhost'], 'From: u1@localhost\nSubject: from afar\n\nmarker-mx-from\n');
    assert.match(r.final!, /^250 2\.0\.0 /);
  } finally {
    c.close();
  }
  const m = await waitForMarked('u2@localhost', 'marker-mx-from');
  // RFC 6409 §8: adding Message-ID/Date is a submission server's job, not a relay's
  assert.doesNotMatch(m, /^Message-ID:/im);
  assert.doesNotMatch(m, /^Date:/im);
});

test('STARTTLS on the MX port (RFC 3207) when a certificate is configured', async () => {
  const c = await SmtpTestClient.open(mx, { localAddress: '127.0.0.9' });
  try {
    await c.readReply();
    assert.match((await c.command('EHLO far.example'))!, /\n250-STARTTLS\n/);
    // RFC 3207 §4.2: the client must EHLO again; the server forgot the first one (and with it
    // ENHANCEDSTATUSCODES, so this reply has no enhanced code)
    await c.smtpStartTls();
    assert.ok(c.encrypted);
    assert.equal(await c.command('MAIL FROM:<a@far.example>'), '503 Send HELO/EHLO first');
    const ehlo = (await c.command('EHLO far.example'))!;
    assert.doesNotMatch(ehlo, /STARTTLS/);
    const r = await c.send('a@far.example', ['u1@localhost'], 'Subject: over tls\n\nmarker-mx-tls\n');
    assert.match(r.final!, /^250 2\.0\.0 /);
  } finally {
    c.close();
  }
  assert.match(await waitForMarked('u1@localhost', 'marker-mx-tls'), /by mx\.localhost \(correio\) with ESMTPS id /);
});
