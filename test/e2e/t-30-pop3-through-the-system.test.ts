/**
 * t-30: the seed's user reads the mail that arrived: SMTP in, Maildir, POP3 out, through one
 * `correio serve` (startApp) with its configured POP3 listener, read by Python's poplib over
 * STLS with the self-signed certificate the site made for itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runDialog } from '../helpers/dialog.js';
import { freePort } from '../helpers/net.js';
import { python3 } from '../helpers/python.js';
import { startSite } from '../helpers/site.js';

const python = spawnSync('python3', ['-c', 'import poplib, ssl'], { encoding: 'utf8' });

test('a message sent over SMTP is read with poplib over STLS, then deleted at QUIT', { skip: python.status === 0 ? false : 'python3 with poplib/ssl is not installed' }, async () => {
  const pop3Port = await freePort();
  const site = await startSite({
    hostname: 'dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['suzana@dc.uece.br'],
    tables: `[pop3]\nlisten = ["127.0.0.1:${pop3Port}"]\n`,
  });
  try {
    await runDialog(
      site.port,
      `
S~ 220 .*
C: HELO dsc.ufpb.br
S~ 250 .*
C: MAIL FROM:<helvecio@dsc.ufpb.br>
S: 250 OK
C: RCPT TO:<suzana@dc.uece.br>
S: 250 OK
C: DATA
S~ 354 .*
C: Subject: leia-me
C:
C: corpo para POP3
C: ..linha com ponto
C: .
S~ 250 OK.*
C: QUIT
S~ 221 .*
`,
      { address: site.host },
    );
    await site.waitForMessages('suzana@dc.uece.br', 1);
    const script = `
import poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
p.stls(context=ctx)
p.user('suzana@dc.uece.br'); p.pass_('secret')
count, size = p.stat()
print('stat', count, size)
resp, listing, _ = p.list()
print('list', listing[0].decode())
resp, lines, octets = p.retr(1)
text = b'\\r\\n'.join(lines) + b'\\r\\n'
print('octets', octets, len(text))
print('match', int(b'corpo para POP3' in text and b'\\r\\n.linha com ponto\\r\\n' in text))
print('uidl', p.uidl(1).decode().split()[2])
p.dele(1)
p.quit()
`;
    const run = async (): Promise<string> => {
      const { code, out, err } = await python3(script, [String(pop3Port)]);
      assert.equal(code, 0, err);
      return out;
    };
    const out = await run();
    const stat = /^stat (\d+) (\d+)$/m.exec(out);
    assert.ok(stat, out);
    assert.equal(stat[1], '1');
    assert.match(out, new RegExp(`^list 1 ${stat[2]}$`, 'm'));
    assert.match(out, /^match 1$/m);
    // poplib's octet count includes its own line ends; the data itself must equal LIST's size
    const [, , len] = /^octets (\d+) (\d+)$/m.exec(out) ?? [];
    assert.equal(len, stat[2]);
    assert.deepEqual(await site.mailbox('suzana@dc.uece.br'), [], 'DELE + QUIT removed the message');
  } finally {
    await site.destroy();
  }
});

const fetchmail = spawnSync('fetchmail', ['--version'], { encoding: 'utf8' });

test('fetchmail collects over implicit TLS (pop3.listen_tls) and the mailbox is emptied', { skip: fetchmail.error ? 'fetchmail is not installed (Debian package fetchmail)' : false }, async () => {
  const tlsPort = await freePort();
  const site = await startSite({
    hostname: 'dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['pascal@dc.uece.br'],
    tables: `[pop3]\nlisten_tls = ["127.0.0.1:${tlsPort}"]\n`,
  });
  try {
    for (const n of [1, 2]) {
      await runDialog(
        site.port,
        `S~ 220 .*\nC: HELO dsc.ufpb.br\nS~ 250 .*\nC: MAIL FROM:<helvecio@dsc.ufpb.br>\nS: 250 OK\nC: RCPT TO:<pascal@dc.uece.br>\nS: 250 OK\nC: DATA\nS~ 354 .*\nC: Subject: fetch ${n}\nC:\nC: mensagem ${n}\nC: .\nS~ 250 OK.*\nC: QUIT\nS~ 221 .*\n`,
        { address: site.host },
      );
    }
    await site.waitForMessages('pascal@dc.uece.br', 2);
    const out = join(site.dir, 'fetched');
    await mkdir(out);
    const rc = join(site.dir, 'fetchmailrc');
    await writeFile(
      rc,
      `set no bouncemail\npoll 127.0.0.1 service ${tlsPort} protocol POP3 timeout 20\n` +
        `  user "pascal@dc.uece.br" there with password "secret" is "${process.env.USER ?? 'root'}" here\n` +
        `  ssl sslproto "TLS1.2+" no sslcertck\n` +
        `  mda "/bin/sh -c 'cat > ${out}/msg-$$'"\n`,
    );
    await chmod(rc, 0o600);
    const child = spawn('fetchmail', ['-f', rc, '--nodetach', '--nosyslog', '-i', join(site.dir, 'fetchids')], {
      env: { ...process.env, HOME: site.dir, FETCHMAILHOME: site.dir },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 0, err);
    const got = await Promise.all((await readdir(out)).map((f) => readFile(join(out, f), 'utf8')));
    assert.equal(got.length, 2, err);
    assert.deepEqual(got.map((m) => /mensagem (\d)/.exec(m)?.[1]).sort(), ['1', '2']);
    assert.deepEqual(await site.mailbox('pascal@dc.uece.br'), [], 'fetchmail deleted what it collected');
  } finally {
    await site.destroy();
  }
});
