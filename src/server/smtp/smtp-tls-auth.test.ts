import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import nodemailer from 'nodemailer';
import { SmtpServer, type SmtpServerOptions, type ListenMode } from './index.js';
import { RecordingIntake } from '../../../test/helpers/recording-intake.js';
import { fixturesDir } from '../../../test/helpers/paths.js';
import { LineClient } from '../../../test/helpers/net.js';
import { runPython } from '../../../test/helpers/python.js';

const key = readFileSync(join(fixturesDir, 'tls', 'localhost.key'));
const cert = readFileSync(join(fixturesDir, 'tls', 'localhost.crt'));
const users: Record<string, string> = { 'suzana@dc.uece.br': 's3cret' };
const authenticate = async (u: string, p: string): Promise<boolean> => users[u] === p;

async function withServer(
  opts: Partial<SmtpServerOptions>,
  modes: ListenMode[],
  f: (ports: number[], intake: RecordingIntake) => Promise<void>,
): Promise<void> {
  const intake = await RecordingIntake.create();
  const server = new SmtpServer({ intake, hostname: 'dc.uece.br', tls: { key, cert }, authenticate, ...opts });
  await server.listen(modes.map((mode) => ({ host: '127.0.0.1', port: 0, mode })));
  try {
    await f(server.addresses().map((a) => a.port), intake);
  } finally {
    await server.close();
    await intake.cleanup();
  }
}

const trust = { ca: cert, servername: 'localhost' };
const b64 = (s: string): string => Buffer.from(s).toString('base64');

void test('STARTTLS: pipelined input before the handshake is discarded; AUTH only after TLS', async () => {
  await withServer({}, ['submission'], async ([port], intake) => {
    const c = await LineClient.connect(port);
    assert.match((await c.readReply())!, /^220 /);
    const e1 = (await c.command('EHLO client.test'))!;
    assert.match(e1, /250-STARTTLS/);
    assert.doesNotMatch(e1, /AUTH/);
    assert.equal(await c.command(`AUTH PLAIN ${b64('\0suzana@dc.uece.br\0s3cret')}`), '538 5.7.11 Encryption required for requested authentication mechanism');
    assert.equal(await c.command('MAIL FROM:<suzana@dc.uece.br>'), '530 5.7.0 Authentication required');
    // CVE-2011-0411: the injected RSET/NOOP must never be answered
    c.write('STARTTLS\r\nNOOP\r\nRSET\r\n');
    assert.equal(await c.readReply(), '220 2.0.0 Ready to start TLS');
    await c.startTls(trust);
    const e2 = (await c.command('EHLO client.test'))!;
    assert.match(e2, /^250-dc.uece.br/, 'the first reply over TLS is the EHLO reply');
    assert.match(e2, /250-AUTH PLAIN LOGIN/);
    assert.doesNotMatch(e2, /STARTTLS/);
    assert.equal(await c.command('STARTTLS'), '503 5.5.1 TLS already active');
    assert.equal(await c.command(`AUTH PLAIN ${b64('\0suzana@dc.uece.br\0wrong')}`), '535 5.7.8 Authentication credentials invalid');
    assert.equal(await c.command('AUTH LOGIN'), '334 VXNlcm5hbWU6');
    assert.equal(await c.command(b64('suzana@dc.uece.br')), '334 UGFzc3dvcmQ6');
    assert.equal(await c.command(b64('s3cret')), '235 2.7.0 Authentication successful');
    assert.equal(await c.command('MAIL FROM:<suzana@dc.uece.br>'), '250 2.1.0 OK');
    assert.equal(await c.command('RCPT TO:<someone@elsewhere.test>'), '250 2.1.5 OK');
    const s0 = intake.senders[0].session;
    assert.equal(s0.protocol, 'ESMTPSA');
    assert.equal(s0.authUser, 'suzana@dc.uece.br');
    assert.equal(s0.mayRelay, true);
    assert.equal(s0.submission, true);
    assert.match(s0.tls!.protocol, /^TLS/);
    c.close();
  });
});

void test('AUTH PLAIN with a 334 challenge, cancel with "*", bad base64', async () => {
  await withServer({ allowPlainAuthWithoutTls: true }, ['submission'], async ([port]) => {
    const c = await LineClient.connect(port);
    await c.readReply();
    assert.match((await c.command('EHLO x'))!, /250-AUTH PLAIN LOGIN/);
    assert.equal(await c.command('AUTH PLAIN'), '334');
    assert.equal(await c.command('*'), '501 5.7.0 Authentication cancelled');
    assert.equal(await c.command('AUTH PLAIN !!!'), '501 5.5.2 Cannot decode response');
    assert.equal(await c.command('AUTH CRAM-MD5'), '504 5.5.4 Unrecognized authentication type');
    assert.equal(await c.command('AUTH PLAIN'), '334');
    assert.equal(await c.command(b64('\0suzana@dc.uece.br\0s3cret')), '235 2.7.0 Authentication successful');
    c.close();
  });
});

void test('failed AUTH is delayed and counted per IP, then 421', async () => {
  await withServer({ allowPlainAuthWithoutTls: true, maxAuthFailures: 2, authFailureDelayMs: 20 }, ['submission'], async ([port]) => {
    const c = await LineClient.connect(port);
    await c.readReply();
    await c.command('EHLO x');
    assert.equal(await c.command(`AUTH PLAIN ${b64('\0suzana@dc.uece.br\0a')}`), '535 5.7.8 Authentication credentials invalid');
    assert.equal(await c.command(`AUTH PLAIN ${b64('\0suzana@dc.uece.br\0b')}`), '535 5.7.8 Authentication credentials invalid');
    assert.equal(await c.readReply(), '421 4.7.0 dc.uece.br Too many authentication failures');
    assert.equal(await c.readReply(), undefined);
    // a new connection from the same IP is refused at AUTH, even with the right password
    const c2 = await LineClient.connect(port);
    await c2.readReply();
    await c2.command('EHLO x');
    assert.equal(await c2.command(`AUTH PLAIN ${b64('\0suzana@dc.uece.br\0s3cret')}`), '421 4.7.0 dc.uece.br Too many authentication failures');
    c2.close();
  });
});

void test('submissions: implicit TLS (RFC 8314)', async () => {
  await withServer({}, ['submissions'], async ([port]) => {
    const c = await LineClient.connectTls(port, '127.0.0.1', trust);
    assert.equal(await c.readReply(), '220 dc.uece.br Simple Mail Transfer Service Ready');
    const e = (await c.command('EHLO x'))!;
    assert.match(e, /250-AUTH PLAIN LOGIN/);
    assert.doesNotMatch(e, /STARTTLS/);
    c.close();
  });
});

const python = spawnSync('python3', ['--version']).status === 0;

const figure5Py = `
import smtplib, sys, json
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
code, host = s.helo('dsc.ufpb.br')
refused = s.sendmail('helvecio@dsc.ufpb.br', ['suzana@dc.uece.br', 'jacques@dc.uece.br', 'pascal@dc.uece.br'],
                     b'Subject: figura 5\\r\\n\\r\\ncorpo da mensagem\\r\\n')
s.quit()
print(json.dumps({'helo': [code, host.decode()], 'refused': {k: [v[0], v[1].decode()] for k, v in refused.items()}}))
`;

void test('Python smtplib drives figure 5', { skip: python ? false : 'python3 is not installed' }, async () => {
  await withServer({}, ['mx'], async ([port], intake) => {
    const out = JSON.parse(await runPython(figure5Py, [String(port)])) as { helo: [number, string]; refused: Record<string, [number, string]> };
    assert.deepEqual(out.helo, [250, 'dc.uece.br']);
    assert.deepEqual(out.refused, { 'jacques@dc.uece.br': [550, 'No such user here'] });
    assert.equal(intake.messages.length, 1);
    assert.deepEqual(intake.messages[0].tx.recipients.map((r) => r.address.local), ['suzana', 'pascal']);
  });
});

const submitPy = `
import smtplib, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = smtplib.SMTP('localhost', int(sys.argv[1]))
s.ehlo('client.test')
s.starttls(context=ctx)
s.ehlo('client.test')
s.login('suzana@dc.uece.br', 's3cret')
s.sendmail('suzana@dc.uece.br', ['friend@elsewhere.test'], b'Subject: hi\\r\\n\\r\\nsubmitted\\r\\n')
s.quit()
print('ok')
`;

void test('Python smtplib: submission with STARTTLS and AUTH', { skip: python ? false : 'python3 is not installed' }, async () => {
  await withServer({}, ['submission'], async ([port], intake) => {
    assert.equal((await runPython(submitPy, [String(port), join(fixturesDir, 'tls', 'localhost.crt')])).trim(), 'ok');
    assert.equal(intake.messages.length, 1);
    assert.equal(intake.messages[0].tx.session.protocol, 'ESMTPSA');
    assert.equal(readFileSync(intake.messages[0].file, 'latin1'), 'Subject: hi\r\n\r\nsubmitted\r\n');
  });
});

void test('nodemailer: figure 5 over the MX port, and submission with STARTTLS + AUTH', async () => {
  await withServer({}, ['mx', 'submission'], async ([mx, sub], intake) => {
    const t1 = nodemailer.createTransport({ host: '127.0.0.1', port: mx, secure: false, ignoreTLS: true, name: 'dsc.ufpb.br' });
    const info1 = await t1.sendMail({
      envelope: { from: 'helvecio@dsc.ufpb.br', to: ['suzana@dc.uece.br', 'jacques@dc.uece.br', 'pascal@dc.uece.br'] },
      raw: 'Subject: figura 5\r\n\r\ncorpo\r\n',
    });
    assert.deepEqual(info1.accepted, ['suzana@dc.uece.br', 'pascal@dc.uece.br']);
    assert.deepEqual(info1.rejected, ['jacques@dc.uece.br']);
    const t2 = nodemailer.createTransport({
      host: '127.0.0.1', port: sub, secure: false, requireTLS: true, tls: { ca: cert, servername: 'localhost' },
      auth: { user: 'suzana@dc.uece.br', pass: 's3cret' },
    });
    const info2 = await t2.sendMail({ from: 'suzana@dc.uece.br', to: 'friend@elsewhere.test', subject: 'hi', text: 'x' });
    assert.deepEqual(info2.accepted, ['friend@elsewhere.test']);
    assert.equal(intake.messages.length, 2);
    assert.equal(intake.messages[1].tx.session.authUser, 'suzana@dc.uece.br');
    t1.close();
    t2.close();
  });
});
