/**
 * t-60: inbound SPF, DKIM and DMARC on the MX port, and DKIM signing of submitted mail, over
 * real sockets with a real DNS server (test/helpers/dns-server.ts) answering every lookup
 * through `delivery.dns_servers`. The stranger connects from 127.0.0.9; 127.0.0.1 is trusted.
 * Checks: SPF pass / fail / softfail / temperror recorded in one Authentication-Results field,
 * a forged field claiming our authserv-id removed (a foreign one kept), DMARC p=reject refused
 * 550 5.7.1 at end of data and nothing delivered, p=quarantine marked and delivered to the Junk
 * folder, a DNS failure never
 * refused, trusted clients not judged; the RFC 8463 example message (auth/dkim/mimekit) passes
 * both its signatures; a body over 64 KB (streamed to intake) is checked the same; mail
 * submitted with AUTH, and mail from `correio sendmail`, arrives signed and verifies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { startSite, type Site } from '../helpers/site.js';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { generateDkimKey } from '../../src/policy/index.js';
import { DnsResolver } from '../../src/dns/index.js';
import { SmtpTestClient, tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';
import { runCli } from '../helpers/cli.js';

const corpus = join(import.meta.dirname, '..', '..', '..', '..', 'shared', 'corpora', 'auth');

let site: Site;
let dns: DnsTestServer;
let dataDir: string;
let mx: number;
let submission: number;

before(async () => {
  dns = await startDnsServer({
    'good.example': { txt: ['v=spf1 ip4:127.0.0.9 -all'] },
    '_dmarc.good.example': { txt: ['v=DMARC1; p=reject'] },
    'bad.example': { txt: ['v=spf1 ip4:192.0.2.1 -all'] },
    '_dmarc.bad.example': { txt: ['v=DMARC1; p=reject'] },
    'quar.example': { txt: ['v=spf1 -all'] },
    '_dmarc.quar.example': { txt: ['v=DMARC1; p=quarantine'] },
    'soft.example': { txt: ['v=spf1 ~all'] },
    'down.example': { servfail: true },
    '_dmarc.down.example': { servfail: true },
  });
  dataDir = await mkdtemp(join(tmpdir(), 'correio-t60-'));
  const key = generateDkimKey(dataDir, 'localhost', 'sel1', 'ed25519');
  dns.zone[key.name] = { txt: [key.value] };
  site = await startSite({
    domains: ['localhost'],
    hostname: 'mx.localhost',
    users: ['user@localhost'],
    dataDir,
    smtp: { submission: ['127.0.0.1:0'], tls_cert: tlsCertFile, tls_key: tlsKeyFile, trusted_networks: ['127.0.0.1/32'] },
    delivery: { dns_servers: [dns.server] },
    tables: '[mail_auth]\nverify_inbound = true\n',
  });
  const addrs = site.app!.smtpAddresses();
  mx = addrs.find((a) => a.mode === 'mx')!.port;
  submission = addrs.find((a) => a.mode === 'submission')!.port;
});
after(async () => {
  await site.destroy();
  await dns.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function sendMx(from: string, body: string, localAddress = '127.0.0.9'): Promise<string | undefined> {
  const c = await SmtpTestClient.open(mx, { localAddress });
  try {
    assert.match((await c.readReply())!, /^220 /);
    assert.match((await c.command('EHLO client.test'))!, /^250/);
    const r = await c.send(from, ['user@localhost'], body);
    await c.command('QUIT');
    return r.final;
  } finally {
    c.close();
  }
}

/** The delivered message containing `marker`, waiting for it. */
async function delivered(marker: string): Promise<string> {
  const deadline = Date.now() + 20000;
  for (;;) {
    const m = (await site.messages('user@localhost')).find((x) => x.includes(marker));
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no message with ${marker}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Our Maildir stores LF line ends: the header fields named Authentication-Results, unfolded. */
function authResults(msg: string): string[] {
  const lf = msg.replace(/\r\n/g, '\n');
  const head = lf.slice(0, lf.indexOf('\n\n') + 1);
  return [...head.matchAll(/^Authentication-Results:(.*(?:\n[ \t].*)*)/gim)].map((m) => m[1].replace(/\n[ \t]+/g, ' ').trim());
}

test('SPF and DMARC pass: one Authentication-Results of ours, the forged one removed, a foreign one kept', async () => {
  const final = await sendMx(
    'alice@good.example',
    'Authentication-Results: MX.localhost; spf=pass; dkim=pass; dmarc=pass\n' +
      'Authentication-Results: other.example; spf=fail smtp.mailfrom=x@y\n' +
      'From: Alice <alice@good.example>\nTo: user@localhost\nSubject: good\n\nmarker-good\n',
  );
  assert.match(final!, /^250 2\.0\.0 /);
  const ar = authResults(await delivered('marker-good'));
  const ours = ar.filter((a) => /^mx\.localhost;/i.test(a));
  assert.equal(ours.length, 1, ar.join('\n'));
  assert.match(ours[0], /spf=pass .*smtp\.mailfrom=alice@good\.example/);
  assert.match(ours[0], /dkim=none/);
  assert.match(ours[0], /dmarc=pass \(p=REJECT dis=NONE\) header\.from=good\.example/);
  assert.ok(ar.some((a) => a.startsWith('other.example;')), 'a foreign authserv-id is kept');
});

test('DMARC p=reject and SPF fail: 550 5.7.1 at end of data, nothing delivered', async () => {
  const final = await sendMx('mallory@bad.example', 'From: <ceo@bad.example>\nTo: user@localhost\nSubject: forged\n\nmarker-forged\n');
  assert.match(final!, /^550 5\.7\.1 .*DMARC policy of bad\.example/);
  // a later message arriving means the refused one would have been there before it
  await sendMx('alice@good.example', 'From: alice@good.example\nSubject: after\n\nmarker-after-forged\n');
  await delivered('marker-after-forged');
  assert.ok(!(await site.messages('user@localhost')).some((m) => m.includes('marker-forged')));
});

/** The messages in user@localhost's Junk folder (Maildir++ .Junk). */
async function junk(): Promise<string[]> {
  const dir = join(site.dataDir, 'mail', 'localhost', 'user', '.Junk');
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    if (!existsSync(join(dir, sub))) continue;
    for (const f of await readdir(join(dir, sub))) out.push(readFileSync(join(dir, sub, f), 'utf8'));
  }
  return out;
}

test('SPF softfail is recorded and accepted; p=quarantine is marked and delivered to Junk', async () => {
  assert.match((await sendMx('bob@soft.example', 'From: bob@soft.example\nSubject: soft\n\nmarker-soft\n'))!, /^250 /);
  const soft = authResults(await delivered('marker-soft'));
  assert.match(soft[0], /spf=softfail/);
  assert.match(soft[0], /dmarc=none/);
  assert.match((await sendMx('carol@quar.example', 'From: carol@quar.example\nSubject: quar\n\nmarker-quar\n'))!, /^250 /);
  // RFC 7489 §6.3: quarantine = the recipient's Junk folder ([mail_auth] quarantine = "junk")
  let quar: string | undefined;
  const deadline = Date.now() + 20000;
  while (!(quar = (await junk()).find((m) => m.includes('marker-quar')))) {
    if (Date.now() > deadline) throw new Error('no quarantined message in .Junk');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(authResults(quar)[0], /spf=fail .*dmarc=fail \(p=QUARANTINE dis=QUARANTINE\)/);
  assert.match(quar, /^X-Correio-Quarantine: DMARC policy of quar\.example$/m);
  assert.ok(!(await site.messages('user@localhost')).some((m) => m.includes('marker-quar')), 'not in INBOX');
  assert.ok(!(await junk()).some((m) => m.includes('marker-soft')), 'unmarked mail is not in Junk');
});

test('a DNS failure is temperror and never a refusal', async () => {
  assert.match((await sendMx('dan@down.example', 'From: dan@down.example\nSubject: down\n\nmarker-down\n'))!, /^250 /);
  const ar = authResults(await delivered('marker-down'));
  assert.match(ar[0], /spf=temperror/);
  assert.match(ar[0], /dmarc=temperror/);
});

test('a trusted client is not judged: no refusal and no Authentication-Results', async () => {
  assert.match((await sendMx('x@bad.example', 'From: x@bad.example\nSubject: trusted\n\nmarker-trusted\n', '127.0.0.1'))!, /^250 /);
  assert.deepEqual(authResults(await delivered('marker-trusted')), []);
});

test('RFC 8463 example (auth/dkim/mimekit): Ed25519 and RSA signatures both pass, DMARC passes by DKIM', async (t) => {
  const file = join(corpus, 'dkim', 'mimekit', 'rfc8463-example.msg');
  const records = join(corpus, 'dkim', 'mailauth', 'dns.json');
  if (!existsSync(file) || !existsSync(records)) {
    t.skip(`corpus absent: ${file}`);
    return;
  }
  const zone = JSON.parse(readFileSync(records, 'utf8')) as Record<string, { TXT: string[][] }>;
  for (const [name, v] of Object.entries(zone)) dns.zone[name] = { txt: v.TXT.map((parts) => parts.join('')) };
  dns.zone['_dmarc.football.example.com'] = { txt: ['v=DMARC1; p=reject'] };
  // sent as the RFC has it (a marker would change the body): found by its Message-ID
  const final = await sendMx('joe@football.example.com', readFileSync(file, 'utf8'));
  assert.match(final!, /^250 /);
  const ar = authResults(await delivered('20030712040037.46341.5F8J@football.example.com'))[0];
  assert.match(ar, /dkim=pass header\.d=football\.example\.com header\.s=brisbane/);
  assert.match(ar, /dkim=pass header\.d=football\.example\.com header\.s=test/);
  assert.match(ar, /spf=softfail/);
  assert.match(ar, /dmarc=pass/);
});

test('submission with AUTH: the message arrives DKIM-signed for its From domain, and verifies', async () => {
  const c = await SmtpTestClient.open(submission);
  try {
    assert.match((await c.readReply())!, /^220 /);
    await c.command('EHLO client.test');
    await c.smtpStartTls();
    await c.command('EHLO client.test');
    assert.match((await c.authPlain('user@localhost', 'secret'))!, /^235 /);
    const r = await c.send('user@localhost', ['user@localhost'], 'From: User <user@localhost>\nTo: user@localhost\nSubject: signed\n\nmarker-signed\n');
    assert.match(r.final!, /^250 /);
    await c.command('QUIT');
  } finally {
    c.close();
  }
  const msg = await delivered('marker-signed');
  assert.match(msg, /^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=localhost; s=sel1;/m);
  // the Message-ID and Date added at submission are signed too
  assert.match(msg, /^Message-ID: /m);
  const crlf = msg.replace(/\r?\n/g, '\r\n');
  const res = await dkimVerify(Buffer.from(crlf), { resolver: new DnsResolver({ servers: [dns.server] }).rawLookup as never });
  assert.deepEqual(res.results.map((x) => `${x.signingDomain}:${x.status.result}`), ['localhost:pass']);
});

test('a body over 64 KB (streamed to intake): checked, the forged field removed, ours added once', async () => {
  const big = 'x'.repeat(76) + '\n';
  const body =
    'Authentication-Results: mx.localhost; dmarc=pass\nFrom: alice@good.example\nSubject: big\n\nmarker-big\n' + big.repeat(2000);
  assert.match((await sendMx('alice@good.example', body))!, /^250 /);
  const msg = await delivered('marker-big');
  const ar = authResults(msg);
  assert.equal(ar.length, 1, ar.join('\n'));
  assert.match(ar[0], /^mx\.localhost; spf=pass .*dmarc=pass/);
  assert.ok(msg.length > 150_000);
});

test('DMARC p=reject over a streamed body: 550 5.7.1 as well', async () => {
  const final = await sendMx('mallory@bad.example', 'From: <ceo@bad.example>\nSubject: big forged\n\nmarker-big-forged\n' + 'y'.repeat(76).concat('\n').repeat(2000));
  assert.match(final!, /^550 5\.7\.1 /);
});

test('sendmail (a local sender): the message is signed for its From domain and verifies', async () => {
  const r = await runCli(['--config', site.configFile, 'sendmail', '-i', 'user@localhost'], {
    stdin: 'From: user@localhost\nTo: user@localhost\nSubject: local\n\nmarker-sendmail\n',
  });
  assert.equal(r.code, 0, r.stderr);
  const msg = (await delivered('marker-sendmail')).replace(/\r?\n/g, '\r\n');
  assert.match(msg, /^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=localhost; s=sel1;/m);
  const res = await dkimVerify(Buffer.from(msg), { resolver: new DnsResolver({ servers: [dns.server] }).rawLookup as never });
  assert.deepEqual(res.results.map((x) => `${x.signingDomain}:${x.status.result}`), ['localhost:pass']);
});
