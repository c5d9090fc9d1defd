/**
 * POP3 with a real client: Python's poplib (the standard library's POP3 client).
 * Full session byte-exact against the delivered messages, UIDL across a server restart,
 * and STLS with certificate verification.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, startHarness, tlsCredentials, USER, PASSWORD } from './pop3-harness.js';

const python = spawnSync('python3', ['-c', 'import poplib, ssl, json']).status === 0;
const skip = python ? false : 'python3 (with poplib and ssl) is not installed';

// Runs one session; prints a JSON object. Bodies are base64 so that every octet is compared.
const script = String.raw`
import base64, json, os, poplib, ssl
b64 = lambda b: base64.b64encode(b).decode()
port = int(os.environ['POP_PORT'])
p = poplib.POP3('127.0.0.1', port, timeout=10)
out = {'welcome': p.getwelcome().decode()}
if os.environ.get('POP_CA'):
    ctx = ssl.create_default_context(cafile=os.environ['POP_CA'])
    out['stls'] = p.stls(ctx).decode()
out['capa'] = sorted(p.capa().keys())
out['user'] = p.user(os.environ['POP_USER']).decode()
out['pass'] = p.pass_(os.environ['POP_PASS']).decode()
out['stat'] = list(p.stat())
resp, lines, octets = p.list()
out['list'] = [l.decode() for l in lines]
resp, lines, octets = p.uidl()
out['uidl'] = [l.decode() for l in lines]
out['retr'] = []
for i in range(1, out['stat'][0] + 1):
    resp, lines, octets = p.retr(i)
    out['retr'].append({'resp': resp.decode(), 'body': b64(b'\r\n'.join(lines) + b'\r\n'), 'octets': octets})
if out['stat'][0] >= 2:
    resp, lines, octets = p.top(2, 1)
    out['top'] = b64(b'\r\n'.join(lines) + b'\r\n')
if os.environ.get('POP_DELE'):
    out['dele'] = p.dele(1).decode()
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

interface Session {
  welcome: string;
  stls?: string;
  capa: string[];
  user: string;
  pass: string;
  stat: [number, number];
  list: string[];
  uidl: string[];
  retr: { resp: string; body: string; octets: number }[];
  top?: string;
  dele?: string;
  quit: string;
}

async function poplib(port: number, env: Record<string, string> = {}): Promise<Session> {
  const { stdout } = await run('python3', ['-c', script], {
    env: { ...process.env, POP_PORT: String(port), POP_USER: USER, POP_PASS: PASSWORD, ...env },
    timeout: 20_000,
  });
  return JSON.parse(stdout) as Session;
}

// 8-bit text, lines that start with ".", a lone "." line and an empty body line.
const msg1 = Buffer.from(
  'From: Jacques <jacques@dc.uece.br>\r\nTo: suzana@dc.uece.br\r\nSubject: =?utf-8?q?ol=C3=A1?=\r\n\r\n' +
    'Olá, Suzana!\r\n.\r\n..dois pontos\r\n\r\n. um ponto\r\nfim\r\n',
  'utf8',
);
const msg2 = Buffer.from('From: b@example.org\r\nSubject: second\r\n\r\nline 1\r\n.line 2\r\nline 3\r\n');

void test('poplib: full session, byte-exact RETR and TOP, UIDL stable across a restart, DELE at QUIT', { skip }, async () => {
  const h = await startHarness();
  try {
    const k1 = await h.store.put(USER, msg1);
    const k2 = await h.store.put(USER, msg2);
    const s1 = await poplib(h.port);
    assert.equal(s1.welcome, '+OK pop.dc.uece.br POP3 server ready');
    for (const cap of ['USER', 'UIDL', 'TOP', 'PIPELINING', 'RESP-CODES', 'AUTH-RESP-CODE', 'SASL', 'IMPLEMENTATION']) {
      assert.ok(s1.capa.includes(cap), `CAPA has ${cap}`);
    }
    assert.match(s1.pass, /^\+OK maildrop locked and ready, 2 messages/);
    assert.deepEqual(s1.stat, [2, msg1.length + msg2.length]);
    assert.deepEqual(s1.list, [`1 ${msg1.length}`, `2 ${msg2.length}`]);
    assert.deepEqual(s1.uidl, [`1 ${k1}`, `2 ${k2}`]);
    assert.equal(s1.retr[0].resp, `+OK ${msg1.length} octets`);
    assert.deepEqual(Buffer.from(s1.retr[0].body, 'base64'), msg1);
    assert.equal(s1.retr[0].octets, msg1.length, 'poplib counted exactly the stored octets');
    assert.deepEqual(Buffer.from(s1.retr[1].body, 'base64'), msg2);
    assert.equal(Buffer.from(s1.top!, 'base64').toString(), 'From: b@example.org\r\nSubject: second\r\n\r\nline 1\r\n');
    assert.match(s1.quit, /^\+OK .* signing off \(2 messages left\)/);

    await h.restart();
    const s2 = await poplib(h.port, { POP_DELE: '1' });
    assert.deepEqual(s2.uidl, s1.uidl, 'same unique ids after the restart');
    assert.equal(s2.dele, '+OK message 1 deleted');
    assert.match(s2.quit, /signing off \(1 message left\)/);
    assert.deepEqual((await h.store.list(USER)).map((m) => m.key), [k2]);
  } finally {
    await h.cleanup();
  }
});

void test('poplib: STLS with certificate verification, then login', { skip }, async () => {
  const creds = await tlsCredentials();
  if (creds === undefined) return; // reported by the TLS tests; nothing to verify against here
  const h = await startHarness({ tls: creds, allowPlainWithoutTls: false });
  const dir = await mkdtemp(join(tmpdir(), 'correio-pop3-ca-'));
  try {
    await h.store.put(USER, msg2);
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, creds.cert);
    const s = await poplib(h.port, { POP_CA: ca });
    assert.equal(s.stls, '+OK Begin TLS negotiation');
    assert.match(s.pass, /^\+OK maildrop locked and ready, 1 message /);
    assert.deepEqual(Buffer.from(s.retr[0].body, 'base64'), msg2);
  } finally {
    await h.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
});
