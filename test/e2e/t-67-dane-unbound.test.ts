/**
 * t-67 (signed zone): DANE for outbound mail against really signed DNS (RFC 7672, issue 15).
 * Zones signed with ldnsutils are served by NSD and validated by unbound (test/helpers/
 * dnssec-lab.ts); the sending correio has `delivery.dane = true` and unbound as `dns_servers`,
 * so every AD bit it believes comes from DNSSEC validation. One receiving correio on 127.0.0.17
 * answers with STARTTLS and the fixture certificate. Checks: a signed TLSA record of its key →
 * delivered over TLS; another key → deferred 4.7.5 with the reason in `queue show`; an MX host
 * that is a CNAME → the TLSA record at the expanded name decides, both ways (§2.2.2); SHA2-256
 * of the right key beside a SHA2-512 of a wrong one → deferred, the reverse → delivered (RFC
 * 7671 §9); a TLSA record changed after signing → unbound answers SERVFAIL → deferred 4.4.3;
 * the same wrong record in an unsigned zone → delivered (not validated, ignored). Skips with a
 * message when nsd, unbound or ldnsutils are missing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSite, sendMail, siteEnvelopes, waitFor, type Site } from '../helpers/site.js';
import { missingTools, startDnssecLab, type DnssecLab } from '../helpers/dnssec-lab.js';
import { freePort } from '../helpers/net.js';
import { runCli } from '../helpers/cli.js';
import { fixturesDir } from '../helpers/paths.js';

const RECEIVER = '127.0.0.17';
let lab: DnssecLab | undefined;
let sender: Site | undefined;
let receiver: Site | undefined;
let skip: string | undefined;

const domains = ['sec.test', 'bad.sec.test', 'cn.sec.test', 'cnbad.sec.test', 'dg.sec.test', 'dg2.sec.test', 'bogus.sec.test', 'plain.test'];

before(async () => {
  const missing = await missingTools();
  if (missing.length > 0) {
    skip = `needs ${missing.join(', ')} (Debian packages nsd, unbound, ldnsutils)`;
    return;
  }
  const certFile = join(fixturesDir, 'tls', 'localhost.crt');
  const spki = new X509Certificate(await readFile(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  const good = createHash('sha256').update(spki).digest('hex');
  const good512 = createHash('sha512').update(spki).digest('hex');
  const wrong = 'ab'.repeat(32);
  const wrong512 = 'ab'.repeat(64);
  const tampered = 'cd'.repeat(32);
  const port = await freePort(RECEIVER);
  const mx = (label: string): string => `${label} IN MX 10 mx.${label === '@' ? '' : `${label}.`}sec.test.\nmx${label === '@' ? '' : `.${label}`} IN A ${RECEIVER}\n`;
  const tlsa = (host: string, rdata: string): string => `_${port}._tcp.${host} IN TLSA ${rdata}\n`;
  lab = await startDnssecLab([
    {
      name: 'sec.test',
      records: [
        mx('@'),
        tlsa('mx', `3 1 1 ${good}`),
        mx('bad'),
        tlsa('mx.bad', `3 1 1 ${wrong}`),
        // RFC 7672 §2.2.2: MX hosts that are aliases of the two hosts above
        'cn IN MX 10 mail.cn.sec.test.\nmail.cn IN CNAME mx.sec.test.\n',
        'cnbad IN MX 10 mail.cnbad.sec.test.\nmail.cnbad IN CNAME mx.bad.sec.test.\n',
        // RFC 7671 §9: the SHA2-512 record decides when both are published
        mx('dg'),
        tlsa('mx.dg', `3 1 1 ${good}`),
        tlsa('mx.dg', `3 1 2 ${wrong512}`),
        mx('dg2'),
        tlsa('mx.dg2', `3 1 1 ${wrong}`),
        tlsa('mx.dg2', `3 1 2 ${good512}`),
        mx('bogus'),
        tlsa('mx.bogus', `3 1 1 ${tampered}`),
      ].join(''),
      // the right key put in after signing: the RRSIG no longer verifies (bogus → SERVFAIL)
      tamper: (text) => text.replace(new RegExp(tampered, 'i'), good),
    },
    { name: 'plain.test', signed: false, records: `@ IN MX 10 mx.plain.test.\nmx IN A ${RECEIVER}\n_${port}._tcp.mx IN TLSA 3 1 1 ${wrong}\n` },
  ]);
  receiver = await startSite({
    host: RECEIVER,
    port,
    hostname: 'mx.sec.test',
    domains,
    users: domains.map((d) => `u@${d}`),
    smtp: { tls_cert: certFile, tls_key: join(fixturesDir, 'tls', 'localhost.key') },
  });
  sender = await startSite({
    users: ['alice@localhost'],
    delivery: { dns_servers: [lab.resolver], mx_port: port, retry_min: '1h', retry_max: '1h', smtp_timeout: '5s', dane: true },
  });
});
after(async () => {
  await sender?.destroy();
  await receiver?.destroy();
  await lab?.close();
});

async function send(to: string): Promise<void> {
  const r = await sendMail(sender!, 'alice@localhost', [to], `From: alice@localhost\nTo: ${to}\nSubject: dane ${to}\n\nhello\n`);
  assert.match(r.final ?? '', /^250 /);
}

async function deferral(domain: string): Promise<{ status: string; show: string }> {
  const e = await waitFor(`an attempt for u@${domain}`, async () => (await siteEnvelopes(sender!)).find((x) => x.recipient.domain === domain && x.attempts.length > 0));
  const show = await runCli(['--config', sender!.configFile, 'queue', 'show', e.messageId]);
  assert.equal(show.code, 0, show.stderr);
  assert.deepEqual(await receiver!.messages(`u@${domain}`), [], `nothing delivered to ${domain}`);
  return { status: e.attempts[e.attempts.length - 1].status, show: show.stdout };
}

void test('validated TLSA records: the right key delivers over TLS, another key defers with the reason', async (t) => {
  if (skip) return t.skip(skip);
  await send('u@sec.test');
  const [m] = await receiver!.waitForMessages('u@sec.test', 1);
  assert.match(m, /with ESMTPS/);
  await send('u@bad.sec.test');
  const d = await deferral('bad.sec.test');
  assert.equal(d.status, '4.7.5');
  assert.match(d.show, /DANE for mx\.bad\.sec\.test: the certificate matches none of the TLSA records at _\d+\._tcp\.mx\.bad\.sec\.test/);
});

void test('an MX host that is a CNAME: the TLSA records of the expanded name decide (RFC 7672 §2.2.2)', async (t) => {
  if (skip) return t.skip(skip);
  await send('u@cn.sec.test');
  const [m] = await receiver!.waitForMessages('u@cn.sec.test', 1);
  assert.match(m, /with ESMTPS/);
  await send('u@cnbad.sec.test');
  const d = await deferral('cnbad.sec.test');
  assert.equal(d.status, '4.7.5');
  assert.match(d.show, /DANE for mail\.cnbad\.sec\.test: the certificate matches none of the TLSA records at _\d+\._tcp\.mx\.bad\.sec\.test/);
});

void test('SHA2-512 is preferred to SHA2-256 for the same usage and selector (RFC 7671 §9)', async (t) => {
  if (skip) return t.skip(skip);
  await send('u@dg.sec.test');
  const d = await deferral('dg.sec.test');
  assert.equal(d.status, '4.7.5');
  assert.match(d.show, /\(3 1 2 abab/);
  await send('u@dg2.sec.test');
  const [m] = await receiver!.waitForMessages('u@dg2.sec.test', 1);
  assert.match(m, /with ESMTPS/);
});

void test('a TLSA record changed after signing: the resolver finds it bogus, the mail waits (4.4.3)', async (t) => {
  if (skip) return t.skip(skip);
  await send('u@bogus.sec.test');
  const d = await deferral('bogus.sec.test');
  assert.equal(d.status, '4.4.3');
  assert.match(d.show, /DANE: TLSA lookup for _\d+\._tcp\.mx\.bogus\.sec\.test failed: SERVFAIL/);
});

void test('the same wrong record in an unsigned zone is ignored: delivered', async (t) => {
  if (skip) return t.skip(skip);
  await send('u@plain.test');
  await receiver!.waitForMessages('u@plain.test', 1);
});
