/**
 * DANE for outbound SMTP (RFC 7672): TLSA matching on real certificates, the AD bit read from
 * the test DNS server (which sets it for names marked secure, as a validating resolver would),
 * and deliveries by the SMTP transport to a real TLS peer (the smtp-server package) whose
 * certificate matches or does not match the published TLSA records. DANE-TA chains are made
 * with `openssl` (those cases skip with a message without it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { DnsResolver, SecureDns, tlsaRecordFor, type TlsaRecord } from '../dns/index.js';
import type { DeliveryRequest } from '../core/index.js';
import { DanePolicies, preferDigests, tlsaMatches, usableTlsa, verifyDane } from './dane.js';
import { SmtpTransport } from './smtp-transport.js';
import { startDnsServer, type DnsTestServer, type DnsZone } from '../../test/helpers/dns-server.js';
import { testEnvelope } from '../../test/helpers/delivery-request.js';
import { fixturesDir } from '../../test/helpers/paths.js';

const certPem = await readFile(join(fixturesDir, 'tls', 'localhost.crt'), 'utf8');
const keyPem = await readFile(join(fixturesDir, 'tls', 'localhost.key'), 'utf8');
const cert = new X509Certificate(certPem);
const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
const sha512 = (b: Buffer): Buffer => createHash('sha512').update(b).digest();
const rec = (usage: number, selector: number, matchingType: number, data: Buffer): TlsaRecord => ({ usage, selector, matchingType, data });

let dir: string;
let dns: DnsTestServer;
let noOpenssl: string | undefined;
const cleanup: (() => Promise<void>)[] = [];

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile('openssl', args, { cwd: dir }, (err, _o, stderr) => (err ? reject(new Error(`openssl ${args[0]}: ${stderr || err.message}`)) : resolve())));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'correio-dane-'));
  dns = await startDnsServer({});
  try {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=correio DANE test CA']);
    await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'mx.key', '-out', 'mx.csr', '-subj', '/CN=mx.ta.test']);
    await writeFile(join(dir, 'mx.ext'), 'subjectAltName=DNS:mx.ta.test,DNS:mx.taname.test\n');
    await openssl(['x509', '-req', '-in', 'mx.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', 'mx.pem', '-extfile', 'mx.ext']);
  } catch (err) {
    noOpenssl = `the openssl command is needed to make a DANE-TA chain (${(err as Error).message.split('\n')[0]})`;
  }
});
after(async () => {
  for (const c of cleanup) await c();
  await dns.close();
  await rm(dir, { recursive: true, force: true });
});

void test('TLSA matching: selectors 0/1 and matching types 0/1/2 on a real certificate; unknown ones never match', () => {
  for (const [selector, data] of [
    [0, cert.raw],
    [1, spki],
  ] as const) {
    assert.equal(tlsaMatches(rec(3, selector, 0, data), cert), true, `${selector} 0`);
    assert.equal(tlsaMatches(rec(3, selector, 1, sha256(data)), cert), true, `${selector} 1`);
    assert.equal(tlsaMatches(rec(3, selector, 2, sha512(data)), cert), true, `${selector} 2`);
    assert.equal(tlsaMatches(rec(3, selector, 1, sha256(Buffer.from('other'))), cert), false);
  }
  assert.equal(tlsaMatches(rec(3, 2, 0, cert.raw), cert), false, 'selector 2 does not exist');
  assert.equal(tlsaMatches(rec(3, 1, 3, sha256(spki)), cert), false, 'matching type 3 does not exist');
  assert.deepEqual(tlsaRecordFor(certPem), rec(3, 1, 1, sha256(spki)));
});

void test('DANE-EE ignores names and dates; DANE-TA needs the chain, the name and valid dates', async (t) => {
  assert.equal(verifyDane([cert], [rec(3, 1, 1, sha256(spki))], '_25._tcp.any.name.test'), undefined);
  assert.match(verifyDane([cert], [rec(3, 1, 1, sha256(Buffer.from('x')))], '_25._tcp.mx.test') ?? '', /matches none of the TLSA records/);
  assert.match(verifyDane([], [rec(3, 1, 1, sha256(spki))], '_25._tcp.mx.test') ?? '', /no certificate/);
  if (noOpenssl) return t.skip(noOpenssl);
  const leaf = new X509Certificate(await readFile(join(dir, 'mx.pem')));
  const ca = new X509Certificate(await readFile(join(dir, 'ca.pem')));
  const ta = rec(2, 0, 1, sha256(ca.raw));
  assert.equal(verifyDane([leaf, ca], [ta], '_25._tcp.mx.ta.test'), undefined);
  assert.match(verifyDane([leaf, ca], [ta], '_25._tcp.other.test') ?? '', /not valid for other\.test/);
  assert.match(verifyDane([leaf], [ta], '_25._tcp.mx.ta.test') ?? '', /matches none/, 'the anchor must be sent');
  assert.match(verifyDane([cert, ca], [ta], '_25._tcp.localhost') ?? '', /does not lead to the trust anchor/);
  const later = Date.now() + 10 * 86_400_000;
  assert.match(verifyDane([leaf, ca], [ta], '_25._tcp.mx.ta.test', later) ?? '', /expired/);
  // a DANE-EE record of the same leaf passes even when expired (RFC 7672 §3.1.1)
  assert.equal(verifyDane([leaf, ca], [rec(3, 0, 0, leaf.raw)], '_25._tcp.x', later), undefined);
});

void test('SecureDns reads the AD bit and the TLSA records; DanePolicies trusts only validated ones', async () => {
  dns.zone = {
    '_25._tcp.signed.test': { tlsa: [{ usage: 3, selector: 1, matchingType: 1, data: sha256(spki).toString('hex') }], secure: true },
    '_25._tcp.unsigned.test': { tlsa: [{ usage: 3, selector: 1, matchingType: 1, data: '00' }] },
    '_25._tcp.pkix.test': { tlsa: [{ usage: 1, selector: 1, matchingType: 1, data: '00' }], secure: true },
    '_25._tcp.broken.test': { servfail: true },
    'nodata.test': { a: ['127.0.0.1'], secure: true },
    // RFC 7672 §2.2.2: the hosts' own addresses, validated
    'signed.test': { a: ['127.0.0.1'], secure: true },
    'unsigned.test': { a: ['127.0.0.1'], secure: true },
    'pkix.test': { a: ['127.0.0.1'], secure: true },
    'broken.test': { a: ['127.0.0.1'], secure: true },
  };
  const sd = new SecureDns({ servers: [dns.server], timeoutMs: 1000 });
  const signed = await sd.findTlsa('_25._tcp.signed.test');
  assert.equal(signed.kind, 'found');
  assert.equal(signed.kind === 'found' && signed.secure, true);
  assert.deepEqual(signed.kind === 'found' && signed.records[0].data, sha256(spki));
  const unsigned = await sd.findTlsa('_25._tcp.unsigned.test');
  assert.equal(unsigned.kind === 'found' && unsigned.secure, false);
  assert.deepEqual(await sd.findTlsa('_25._tcp.nodata.test'), { kind: 'not-found', secure: false, reason: 'nxdomain' });
  assert.deepEqual(await sd.findTlsa('nodata.test'), { kind: 'not-found', secure: true, reason: 'nodata' });
  assert.deepEqual(await sd.findTlsa('_25._tcp.broken.test'), { kind: 'temporary', error: 'SERVFAIL' });

  const dp = new DanePolicies({ dns: sd });
  assert.equal((await dp.forHost('signed.test', 25)).kind, 'dane');
  assert.equal((await dp.forHost('unsigned.test', 25)).kind, 'none');
  assert.equal((await dp.forHost('pkix.test', 25)).kind, 'encrypt', 'only unusable records: TLS without authentication');
  const broken = await dp.forHost('broken.test', 25);
  assert.equal(broken.kind, 'unusable');
  const dead = new SecureDns({ servers: ['127.0.0.1:1'], timeoutMs: 300 });
  assert.equal((await dead.findTlsa('_25._tcp.signed.test')).kind, 'temporary');
});

/** A receiving MX: smtp-server with STARTTLS (or without), counting what it accepted. */
async function mxPeer(o: { key: string; cert: string; starttls?: boolean }): Promise<{ port: number; received: string[] }> {
  const received: string[] = [];
  const server = new SMTPServer({
    key: o.key,
    cert: o.cert,
    authOptional: true,
    disabledCommands: o.starttls === false ? ['AUTH', 'STARTTLS'] : ['AUTH'],
    logger: false,
    onData(stream, session, cb) {
      const parts: Buffer[] = [];
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.on('end', () => {
        received.push(`${session.secure ? 'tls' : 'plain'} ${Buffer.concat(parts).toString('utf8')}`);
        cb();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.server.address() as { port: number }).port, received };
}

function transport(port: number): SmtpTransport {
  const t = new SmtpTransport({
    hostname: 'me.test',
    dns: new DnsResolver({ servers: [dns.server], timeoutMs: 500, tries: 1 }),
    dane: new DanePolicies({ dns: new SecureDns({ servers: [dns.server], timeoutMs: 1000 }) }),
    port,
    timeouts: { connect: 2000, greeting: 2000, command: 2000, mail: 2000, rcpt: 2000, dataInit: 2000, dataBlock: 2000, dataTerm: 2000, quit: 300 },
    reuse: { idleMs: 0 },
  });
  cleanup.push(() => t.close());
  return t;
}

function request(domain: string): DeliveryRequest {
  const body = Buffer.from(`Subject: to ${domain}\r\n\r\nhello\r\n`);
  const env = testEnvelope({ id: `e-${domain}`, messageId: 'm-1', sender: { local: 'a', domain: 'me.test' }, recipient: { local: 'u', domain }, route: { transport: 'smtp', nextHop: domain }, size: body.length });
  return { route: env.route, messageId: 'm-1', sender: env.sender, envelopes: [env], size: body.length, openMessage: () => Promise.resolve(Readable.from([body])) };
}

/** A domain whose MX mx.DOMAIN is 127.0.0.1, with the TLSA records given at _PORT._tcp.mx.DOMAIN. */
function publish(zone: DnsZone, domain: string, port: number, tlsa: TlsaRecord[] | 'servfail', secure = true, addressesSecure = true): void {
  zone[domain] = { mx: [{ preference: 10, exchange: `mx.${domain}` }] };
  zone[`mx.${domain}`] = { a: ['127.0.0.1'], secure: addressesSecure };
  const at = `_${port}._tcp.mx.${domain}`;
  zone[at] = tlsa === 'servfail' ? { servfail: true } : { tlsa: tlsa.map((r) => ({ ...r, data: r.data.toString('hex') })), secure };
}

void test('deliveries: a matching DANE-EE record gets the mail over TLS; a mismatch, a TLSA lookup failure and a missing STARTTLS defer; unvalidated records change nothing', async () => {
  const tlsPeer = await mxPeer({ key: keyPem, cert: certPem });
  const plainPeer = await mxPeer({ key: keyPem, cert: certPem, starttls: false });
  const zone: DnsZone = {};
  const good = tlsaRecordFor(certPem);
  const wrong = rec(3, 1, 1, sha256(Buffer.from('another key')));
  publish(zone, 'match.test', tlsPeer.port, [good]);
  publish(zone, 'mismatch.test', tlsPeer.port, [wrong]);
  publish(zone, 'insecure.test', tlsPeer.port, [wrong], false);
  publish(zone, 'servfail.test', tlsPeer.port, 'servfail');
  publish(zone, 'notls.test', plainPeer.port, [good]);
  dns.zone = zone;
  const signal = new AbortController().signal;

  const [ok] = await transport(tlsPeer.port).deliver(request('match.test'), signal);
  assert.equal(ok.action, 'delivered', ok.error);
  assert.match(tlsPeer.received.at(-1) ?? '', /^tls Subject: to match\.test/);

  const [bad] = await transport(tlsPeer.port).deliver(request('mismatch.test'), signal);
  assert.equal(bad.action, 'delayed');
  assert.equal(bad.status, '4.7.5');
  assert.match(bad.error ?? '', /^DANE for mx\.mismatch\.test: the certificate matches none of the TLSA records at _\d+\._tcp\.mx\.mismatch\.test \(3 1 1 /);
  assert.equal(tlsPeer.received.some((m) => m.includes('to mismatch.test')), false, 'nothing was sent');

  const [insecure] = await transport(tlsPeer.port).deliver(request('insecure.test'), signal);
  assert.equal(insecure.action, 'delivered', 'records without the AD bit are ignored (RFC 7672 §2.2)');

  const [sf] = await transport(tlsPeer.port).deliver(request('servfail.test'), signal);
  assert.equal(sf.action, 'delayed');
  assert.equal(sf.status, '4.4.3');
  assert.match(sf.error ?? '', /DANE: TLSA lookup for _\d+\._tcp\.mx\.servfail\.test failed: SERVFAIL/);

  const [notls] = await transport(plainPeer.port).deliver(request('notls.test'), signal);
  assert.equal(notls.action, 'delayed');
  assert.equal(notls.status, '4.7.5');
  assert.match(notls.error ?? '', /DANE for mx\.notls\.test: STARTTLS not offered/);
  assert.deepEqual(plainPeer.received, [], 'never in plain text');
});

void test('deliveries: DANE-TA passes with the anchor in the chain and the MX name in the certificate, defers without the name', async (t) => {
  if (noOpenssl) return t.skip(noOpenssl);
  const caPem = await readFile(join(dir, 'ca.pem'), 'utf8');
  const chainPem = `${await readFile(join(dir, 'mx.pem'), 'utf8')}${caPem}`;
  const peer = await mxPeer({ key: await readFile(join(dir, 'mx.key'), 'utf8'), cert: chainPem });
  const ta = rec(2, 1, 1, sha256(new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' })));
  const zone: DnsZone = {};
  publish(zone, 'ta.test', peer.port, [ta]);
  publish(zone, 'wrongname.test', peer.port, [ta]);
  dns.zone = zone;
  const signal = new AbortController().signal;
  const [ok] = await transport(peer.port).deliver(request('ta.test'), signal);
  assert.equal(ok.action, 'delivered', ok.error);
  const [bad] = await transport(peer.port).deliver(request('wrongname.test'), signal);
  assert.equal(bad.action, 'delayed');
  assert.match(bad.error ?? '', /DANE for mx\.wrongname\.test: the certificate is not valid for mx\.wrongname\.test/);
});

void test('RFC 7671 §9: per usage and selector, Full(0) and the strongest digest published; a digest of the wrong length is dropped first', () => {
  const good256 = rec(3, 1, 1, sha256(spki));
  const wrong512 = rec(3, 1, 2, sha512(Buffer.from('another key')));
  // a key matching only the weaker "3 1 1" while "3 1 2" is published fails (RFC 7671 §9's example)
  const only512 = preferDigests([good256, wrong512].filter(usableTlsa));
  assert.deepEqual(only512, [wrong512]);
  assert.match(verifyDane([cert], only512, '_25._tcp.mx.test') ?? '', /matches none/);
  // Full(0) stays beside the strongest digest, and matches
  const full = rec(3, 1, 0, spki);
  assert.deepEqual(preferDigests([good256, wrong512, full]), [wrong512, full]);
  assert.equal(verifyDane([cert], preferDigests([good256, wrong512, full]), '_25._tcp.mx.test'), undefined);
  // other usage/selector pairs choose on their own
  const ta256 = rec(2, 0, 1, sha256(Buffer.from('ca')));
  assert.deepEqual(preferDigests([ta256, wrong512]), [ta256, wrong512]);
  // a "3 1 2" of 32 octets is malformed: unusable, so the good SHA2-256 record is used
  const short512 = rec(3, 1, 2, sha256(spki));
  assert.equal(usableTlsa(short512), false);
  assert.deepEqual(preferDigests([good256, short512].filter(usableTlsa)), [good256]);
});

void test('RFC 7672 §2.2.2: no TLSA lookup for hosts with unvalidated addresses; a validated CNAME makes the expanded name the base, the MX name second', async () => {
  const good = { usage: 3, selector: 1, matchingType: 1, data: sha256(spki).toString('hex') };
  dns.zone = {
    'insecure-addr.test': { a: ['127.0.0.1'] },
    '_25._tcp.insecure-addr.test': { tlsa: [good], secure: true },
    'alias.test': { cname: 'real.test', secure: true },
    'real.test': { a: ['127.0.0.1'], secure: true },
    '_25._tcp.real.test': { tlsa: [good], secure: true },
    'alias2.test': { cname: 'real2.test', secure: true },
    'real2.test': { a: ['127.0.0.1'], secure: true },
    '_25._tcp.alias2.test': { tlsa: [good], secure: true },
    'half.test': { cname: 'unsigned-target.test', secure: true },
    'unsigned-target.test': { a: ['127.0.0.1'] },
    '_25._tcp.half.test': { tlsa: [good], secure: true },
    'bogus.test': { servfail: true },
  };
  const sd = new SecureDns({ servers: [dns.server], timeoutMs: 1000 });
  const addr = await sd.findAddresses('alias.test');
  assert.equal(addr.kind === 'found' && addr.name, 'real.test');
  assert.deepEqual(addr.kind === 'found' && addr.records, ['127.0.0.1']);
  const dp = new DanePolicies({ dns: sd });
  assert.equal((await dp.forHost('insecure-addr.test', 25)).kind, 'none', 'addresses not validated: no DANE');
  const expanded = await dp.forHost('alias.test', 25);
  assert.equal(expanded.kind, 'dane');
  assert.equal(expanded.kind === 'dane' && expanded.name, '_25._tcp.real.test');
  assert.deepEqual(expanded.kind === 'dane' && expanded.hosts, ['real.test', 'alias.test']);
  const original = await dp.forHost('alias2.test', 25);
  assert.equal(original.kind === 'dane' && original.name, '_25._tcp.alias2.test', 'nothing at the expanded name: the MX name is asked');
  assert.equal((await dp.forHost('half.test', 25)).kind, 'none', 'a chain ending in an unsigned zone is not validated');
  const bogus = await dp.forHost('bogus.test', 25);
  assert.equal(bogus.kind, 'unusable');
  assert.match(bogus.kind === 'unusable' ? bogus.error : '', /address lookup for bogus\.test failed: SERVFAIL/);
});

void test('deliveries: DANE-TA through a CNAME MX accepts a certificate for the expanded name; unvalidated MX addresses mean no DANE', async (t) => {
  if (noOpenssl) return t.skip(noOpenssl);
  const caPem = await readFile(join(dir, 'ca.pem'), 'utf8');
  const peer = await mxPeer({ key: await readFile(join(dir, 'mx.key'), 'utf8'), cert: `${await readFile(join(dir, 'mx.pem'), 'utf8')}${caPem}` });
  const ta = rec(2, 1, 1, sha256(new X509Certificate(caPem).publicKey.export({ type: 'spki', format: 'der' })));
  const zone: DnsZone = {
    'cn.test': { mx: [{ preference: 10, exchange: 'mail.cn.test' }] },
    'mail.cn.test': { cname: 'mx.ta.test', secure: true },
    'mx.ta.test': { a: ['127.0.0.1'], secure: true },
    [`_${peer.port}._tcp.mx.ta.test`]: { tlsa: [{ ...ta, data: ta.data.toString('hex') }], secure: true },
  };
  // the wrong record is ignored: the host's address records are not validated
  publish(zone, 'addr.test', peer.port, [rec(3, 1, 1, sha256(Buffer.from('x')))], true, false);
  dns.zone = zone;
  const signal = new AbortController().signal;
  const [ok] = await transport(peer.port).deliver(request('cn.test'), signal);
  assert.equal(ok.action, 'delivered', ok.error);
  assert.match(peer.received.at(-1) ?? '', /^tls Subject: to cn\.test/);
  const [plain] = await transport(peer.port).deliver(request('addr.test'), signal);
  assert.equal(plain.action, 'delivered', plain.error);
});
