/**
 * Units of policy/trust: organizational domain and alignment, DMARC policy discovery and
 * disposition (sp, pct, strict/relaxed, temperror), the Authentication-Results field, and DKIM
 * signing checked by two verifiers that are not ours: mailauth over a real DNS server, and
 * Python's dkimpy (`dkimverify`, Debian package python3-dkim) when installed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, stat, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { startDnsServer, type DnsTestServer } from '../../../test/helpers/dns-server.js';
import { pythonWithModule } from '../../../test/helpers/python.js';
import { execFile } from 'node:child_process';
import { DnsResolver } from '../../dns/index.js';
import { aligned, evaluateDmarc, organizationalDomain, parseDmarcRecord, type TxtLookup } from './dmarc.js';
import { claimsAuthservId, formatAuthResults } from './auth-results.js';
import { BodyHasher, signatureField, rawFields, type SigningKey } from './dkim-sign.js';
import { generateDkimKey, keyRecordValue, loadDkimKeys } from './dkim-keys.js';
import { DkimSigner } from './dkim-signer.js';
import { authenticateInbound } from './inbound.js';

test('organizational domain: two labels, three under a known two-label suffix', () => {
  assert.equal(organizationalDomain('mail.example.com'), 'example.com');
  assert.equal(organizationalDomain('a.b.example.co.uk'), 'example.co.uk');
  assert.equal(organizationalDomain('Example.COM.'), 'example.com');
  assert.equal(organizationalDomain('localhost'), 'localhost');
  assert.ok(aligned('news.example.com', 'example.com', 'r'));
  assert.ok(!aligned('news.example.com', 'example.com', 's'));
  assert.ok(aligned('EXAMPLE.com', 'example.com.', 's'));
  assert.ok(!aligned('example.co.uk', 'other.co.uk', 'r'));
});

test('DMARC record: v=DMARC1 first, p required, defaults for sp, adkim, aspf and pct; rua mailto: only', () => {
  assert.deepEqual(parseDmarcRecord('v=DMARC1; p=reject'), { p: 'reject', sp: 'reject', adkim: 'r', aspf: 'r', pct: 100, rua: [], ruf: [], fo: ['0'] });
  assert.deepEqual(parseDmarcRecord('v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=s;pct=20'), { p: 'quarantine', sp: 'none', adkim: 's', aspf: 's', pct: 20, rua: [], ruf: [], fo: ['0'] });
  // RFC 7489 §6.3: a comma-separated list of URIs, each with an optional "!size" limit
  assert.deepEqual(parseDmarcRecord('v=DMARC1; p=none; rua=mailto:a@x.example!10m, https://r.example/in,mailto:b@y.example')?.rua, ['mailto:a@x.example', 'mailto:b@y.example']);
  assert.equal(parseDmarcRecord('p=reject; v=DMARC1'), undefined);
  assert.equal(parseDmarcRecord('v=DMARC1; p=bogus'), undefined);
  assert.equal(parseDmarcRecord('v=spf1 -all'), undefined);
});

const zone = (records: Record<string, string[] | 'temp'>): TxtLookup => (name) => {
  const r = records[name];
  if (r === 'temp') return Promise.resolve({ kind: 'temporary', error: 'SERVFAIL' });
  return Promise.resolve(r ? { kind: 'found', records: r } : { kind: 'not-found' });
};
const noDkim = { spf: { result: 'fail', domain: 'x.example' }, dkim: [] };

test('DMARC evaluation: alignment modes, sp at the organizational domain, pct, temperror', async () => {
  const txt = zone({
    '_dmarc.example.com': ['v=DMARC1; p=reject; sp=quarantine; adkim=s'],
    '_dmarc.sampled.example': ['v=DMARC1; p=reject; pct=10'],
    '_dmarc.down.example': 'temp',
    '_dmarc.two.example': ['v=DMARC1; p=reject', 'v=DMARC1; p=none'],
  });
  // relaxed SPF alignment passes for a subdomain's MAIL FROM
  const spfSub = { spf: { result: 'pass', domain: 'bounce.example.com' }, dkim: [] };
  assert.equal((await evaluateDmarc('example.com', spfSub, txt)).result, 'pass');
  // adkim=s: a signature of a subdomain does not align
  const dkimSub = { spf: { result: 'fail', domain: 'x.example' }, dkim: [{ result: 'pass', domain: 'mail.example.com' }] };
  const strict = await evaluateDmarc('example.com', dkimSub, txt);
  assert.deepEqual([strict.result, strict.disposition], ['fail', 'reject']);
  // no record at news.example.com: the organizational domain's, with sp
  const sub = await evaluateDmarc('news.example.com', noDkim, txt);
  assert.deepEqual([sub.result, sub.policy, sub.disposition], ['fail', 'quarantine', 'quarantine']);
  // pct=10: inside the sample reject, outside it the next weaker policy (RFC 7489 §6.6.4)
  assert.equal((await evaluateDmarc('sampled.example', noDkim, txt, () => 5)).disposition, 'reject');
  assert.equal((await evaluateDmarc('sampled.example', noDkim, txt, () => 50)).disposition, 'quarantine');
  // a DNS failure is temperror, never fail
  const temp = await evaluateDmarc('down.example', noDkim, txt);
  assert.deepEqual([temp.result, temp.disposition], ['temperror', 'none']);
  // two DMARC records: none at all (RFC 7489 §6.6.3)
  assert.equal((await evaluateDmarc('two.example', noDkim, txt)).result, 'none');
  assert.equal((await evaluateDmarc('nothing.example', noDkim, txt)).result, 'none');
});

test('Authentication-Results: one field, our authserv-id recognized in any case, values quoted', () => {
  const f = formatAuthResults('mx.example.org', [
    { method: 'spf', result: 'pass', props: [['smtp.mailfrom', 'a b@example.com']] },
    { method: 'dmarc', result: 'fail', comment: 'p=REJECT (x)', props: [['header.from', 'example.com\r\nX-Evil: 1']] },
  ]);
  assert.equal(f.split('\r\n')[0], 'Authentication-Results: mx.example.org;');
  assert.match(f, /smtp\.mailfrom="a b@example\.com"/);
  assert.ok(!/\r\nX-Evil/.test(f), 'no header injection');
  assert.ok(claimsAuthservId('MX.Example.ORG; spf=pass', 'mx.example.org'));
  assert.ok(claimsAuthservId(' (comment) mx.example.org 1; none', 'mx.example.org'));
  assert.ok(!claimsAuthservId('mx.example.org.evil; spf=pass', 'mx.example.org'));
  assert.ok(!claimsAuthservId('other.example; spf=pass', 'mx.example.org'));
});

test('relaxed body hash: the RFC 6376 §3.4.4 rules, the same whatever the chunking', () => {
  const whole = (s: string): string => {
    const h = new BodyHasher();
    h.update(Buffer.from(s, 'latin1'));
    return h.digest();
  };
  const chunked = (s: string): string => {
    const h = new BodyHasher();
    for (const c of s) h.update(Buffer.from(c, 'latin1'));
    return h.digest();
  };
  const body = 'Hello  \t world \r\n\r\nline\t\r\n\r\n\r\n';
  assert.equal(whole(body), whole('Hello world\r\n\r\nline\r\n'));
  assert.equal(chunked(body), whole(body));
  assert.equal(whole('no newline'), whole('no newline\r\n'));
  // an empty body hashes as the empty string in relaxed mode
  assert.equal(whole(''), whole('\r\n\r\n'));
  assert.equal(whole(''), '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=');
});

let dns: DnsTestServer;
let dir: string;
before(async () => {
  dns = await startDnsServer({});
  dir = await mkdtemp(join(tmpdir(), 'correio-dkim-'));
});
after(async () => {
  await dns.close();
  await rm(dir, { recursive: true, force: true });
});

const message =
  'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: signed  test\r\n' +
  'Date: Fri, 04 Dec 2026 21:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\nHello,\r\n\r\n  body line \r\n\r\n';

test('keygen: key files 0600 in 0700 folders, refused over an existing key, TXT records', async () => {
  const ed = generateDkimKey(dir, 'Example.org', 'ed1', 'ed25519');
  const rsa = generateDkimKey(dir, 'example.org', 'rsa1', 'rsa-2048');
  assert.equal((await stat(ed.file)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, 'dkim', 'example.org'))).mode & 0o777, 0o700);
  assert.equal(ed.name, 'ed1._domainkey.example.org');
  assert.match(ed.value, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
  assert.match(rsa.value, /^v=DKIM1; k=rsa; p=MIIB/);
  assert.throws(() => generateDkimKey(dir, 'example.org', 'ed1', 'ed25519'), /exists already/);
  assert.throws(() => generateDkimKey(dir, '../etc', 'x', 'ed25519'), /not a domain name/);
  assert.throws(() => generateDkimKey(dir, 'example.org', 'a/b', 'ed25519'), /not a selector/);
  const { keys, problems } = loadDkimKeys(dir);
  assert.deepEqual(problems, []);
  assert.deepEqual(keys.get('example.org')?.map((k) => `${k.selector}:${k.algorithm}`), ['ed1:ed25519-sha256', 'rsa1:rsa-sha256']);
});

test('signing: two signatures (Ed25519 and RSA), oversigned From, verified by mailauth over DNS', async () => {
  const { keys } = loadDkimKeys(dir);
  for (const k of keys.get('example.org')!) {
    const value = keyRecordValue(k.privateKey);
    // the test DNS server writes one character-string per record: split long RSA keys (RFC 7208 §3.3 joins them)
    dns.zone[`${k.selector}._domainkey.example.org`] = { txt: [value] };
  }
  const signer = new DkimSigner(keys);
  assert.equal(signer.applies({ protocol: 'ESMTP', mayRelay: false, submission: false }), false);
  assert.equal(signer.applies({ protocol: 'ESMTPSA', authUser: 'alice', mayRelay: true, submission: true }), true);
  assert.equal(signer.applies({ protocol: 'local', mayRelay: true, submission: true }), true);
  const sigs = await signer.sign(Buffer.from(message));
  assert.equal(sigs.length, 2);
  assert.match(sigs[0], /h=from:from:reply-to:subject:subject:date:date:to:to:cc:message-id:message-id:/);
  const signed = Buffer.from(sigs.join('\r\n') + '\r\n' + message);
  const resolver = new DnsResolver({ servers: [dns.server] });
  const r = await dkimVerify(signed, { resolver: resolver.rawLookup as never });
  assert.deepEqual(r.results.map((x) => `${x.selector}:${x.status.result}`), ['ed1:pass', 'rsa1:pass']);
  // a second From added later breaks the signature (oversigning, RFC 6376 §8.15)
  const forged = Buffer.from(sigs.join('\r\n') + '\r\nFrom: mallory@evil.example\r\n' + message);
  const f = await dkimVerify(forged, { resolver: resolver.rawLookup as never });
  assert.ok(f.results.every((x) => x.status.result !== 'pass'), JSON.stringify(f.results.map((x) => x.status)));
  await writeFile(join(dir, 'signed.eml'), signed);
});

test('signing: nothing for a From domain without a key, nor for From in two domains', async () => {
  const { keys } = loadDkimKeys(dir);
  const signer = new DkimSigner(keys);
  assert.deepEqual(await signer.sign(Buffer.from(message.replace('alice@example.org', 'alice@other.example'))), []);
  assert.deepEqual(await signer.sign(Buffer.from(message.replace('<alice@example.org>', '<alice@example.org>, x@other.example'))), []);
});

test('signing: verified by dkimpy (python3-dkim), an independent implementation', async (t) => {
  const python = await pythonWithModule('dkim');
  if (python === undefined) {
    t.skip('Python module dkim missing: install the Debian package python3-dkim');
    return;
  }
  // RSA only: dkimpy resolves keys itself, so the record is handed to it through dnsfunc
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key: SigningKey = { domain: 'example.org', selector: 'py', algorithm: 'rsa-sha256', privateKey: pair.privateKey };
  const ed = generateKeyPairSync('ed25519');
  const edKey: SigningKey = { domain: 'example.org', selector: 'pyed', algorithm: 'ed25519-sha256', privateKey: ed.privateKey };
  const body = Buffer.from(message);
  const h = new BodyHasher();
  h.update(body.subarray(body.indexOf('\r\n\r\n') + 4));
  const bh = h.digest();
  const fields = rawFields(message.slice(0, message.indexOf('\r\n\r\n') + 2));
  const now = Math.floor(Date.now() / 1000);
  const signed = (await Promise.all([signatureField(edKey, fields, bh, now), signatureField(key, fields, bh, now)])).join('\r\n') + '\r\n' + message;
  const file = join(dir, 'py.eml');
  await writeFile(file, signed);
  const records = { 'py._domainkey.example.org.': keyRecordValue(key.privateKey), 'pyed._domainkey.example.org.': keyRecordValue(edKey.privateKey) };
  const script = [
    'import dkim, json, sys',
    'recs = json.loads(sys.argv[2])',
    'def dnsfunc(name, timeout=5):',
    '    n = name.decode() if isinstance(name, bytes) else name',
    '    return recs.get(n, "").encode()',
    'msg = open(sys.argv[1], "rb").read()',
    'd = dkim.DKIM(msg)',
    'print(d.verify(idx=0, dnsfunc=dnsfunc), d.verify(idx=1, dnsfunc=dnsfunc))',
  ].join('\n');
  const r = await run(python, ['-c', script, file, JSON.stringify(records)]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), 'True True', r.err);
  assert.ok((await readFile(file)).length > 0);
});

function run(cmd: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000 }, (error, out, err) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, out, err });
    });
  });
}

test('inbound: temperror = "defer" answers 451 4.7.0, "accept" records it; p=reject refusal is 550 5.7.1', async () => {
  dns.zone['tmp.example'] = { servfail: true };
  dns.zone['_dmarc.tmp.example'] = { servfail: true };
  dns.zone['rej.example'] = { txt: ['v=spf1 -all'] };
  dns.zone['_dmarc.rej.example'] = { txt: ['v=DMARC1; p=reject'] };
  const resolver = new DnsResolver({ servers: [dns.server] });
  const deps = { lookup: resolver.rawLookup, txt: (n: string) => resolver.findTxt(n) };
  const base = { authservId: 'mx.test', dmarcReject: 'reject' as const, dkimMinKeyBits: 1024 };
  const session = { protocol: 'ESMTP', heloName: 'client.test', remoteAddress: '::ffff:127.0.0.9', mayRelay: false, submission: false };
  const msg = (from: string): { buf: Buffer; fields: { name: string; value: string }[] } => ({
    buf: Buffer.from(`From: ${from}\r\nSubject: t\r\n\r\nbody\r\n`),
    fields: [{ name: 'from', value: from }, { name: 'subject', value: 't' }],
  });
  const t1 = msg('a@tmp.example');
  const deferred = await authenticateInbound({ ...base, temperror: 'defer' }, deps, session, { local: 'a', domain: 'tmp.example' }, t1.buf, t1.fields);
  assert.equal(deferred.refusal?.code, 451);
  assert.equal(deferred.refusal?.status, '4.7.0');
  const accepted = await authenticateInbound({ ...base, temperror: 'accept' }, deps, session, { local: 'a', domain: 'tmp.example' }, t1.buf, t1.fields);
  assert.equal(accepted.refusal, undefined);
  assert.match(accepted.fields[0], /spf=temperror/);
  const t2 = msg('a@rej.example');
  const rejected = await authenticateInbound({ ...base, temperror: 'defer' }, deps, session, { local: 'a', domain: 'rej.example' }, t2.buf, t2.fields);
  assert.equal(rejected.refusal?.code, 550);
  assert.equal(rejected.refusal?.status, '5.7.1');
  // a null sender is checked as postmaster@HELO (RFC 7208 §2.4) and recorded as smtp.helo
  const nul = await authenticateInbound({ ...base, temperror: 'accept', dmarcReject: 'none' }, deps, session, null, t2.buf, t2.fields);
  assert.match(nul.fields[0], /smtp\.helo=client\.test/);
  assert.match(nul.fields[0], /dmarc=fail/);
  assert.equal(nul.refusal, undefined);
  assert.ok(nul.remove('authentication-results', 'MX.TEST; spf=pass'));
  assert.ok(!nul.remove('authentication-results', 'other.test; spf=pass'));
});

test('bad input: malformed signatures and keys, an SPF include loop, a huge header: clear results, no refusal', async () => {
  dns.zone['loop1.example'] = { txt: ['v=spf1 include:loop2.example -all'] };
  dns.zone['loop2.example'] = { txt: ['v=spf1 include:loop1.example -all'] };
  dns.zone['badkey._domainkey.loop1.example'] = { txt: ['v=DKIM1; k=rsa; p=not-base64!!'] };
  const resolver = new DnsResolver({ servers: [dns.server] });
  const deps = { lookup: resolver.rawLookup, txt: (n: string) => resolver.findTxt(n) };
  const settings = { authservId: 'mx.test', dmarcReject: 'reject' as const, temperror: 'defer' as const, dkimMinKeyBits: 1024 };
  const session = { protocol: 'ESMTP', heloName: 'client.test', remoteAddress: '127.0.0.9', mayRelay: false, submission: false };
  const sigs = [
    'DKIM-Signature: v=1; a=rsa-sha256; d=loop1.example; s=badkey; h=from; bh=AAAA; b=AAAA',
    'DKIM-Signature: garbage without tags',
    'DKIM-Signature: v=1; a=rsa-sha256; d=loop1.example; s=missing; h=from; bh=; b=%%%',
  ];
  const huge = 'X-Long: ' + 'a'.repeat(200_000);
  const text = `${sigs.join('\r\n')}\r\n${huge}\r\nFrom: a@loop1.example\r\nSubject: bad\r\n\r\nbody\r\n`;
  const v = await authenticateInbound(settings, deps, session, { local: 'a', domain: 'loop1.example' }, Buffer.from(text), [
    { name: 'from', value: 'a@loop1.example' },
  ]);
  // the include loop ends in permerror (RFC 7208 §4.6.4 limits), never a hang or a temperror
  assert.match(v.fields[0], /spf=permerror/);
  assert.ok(!/dkim=pass/.test(v.fields[0]), v.fields[0]);
  assert.match(v.fields[0], /dkim=(neutral|permerror|fail|policy)/);
  // no DMARC record: nothing to refuse, and no temporary error to defer
  assert.equal(v.refusal, undefined);
});
