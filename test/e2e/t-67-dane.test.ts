/**
 * t-67: DANE for outbound mail (RFC 7672, issue 15). A real DNS server publishes MX and TLSA
 * records and sets the AD bit for the names marked secure, as a validating resolver (unbound)
 * would; the sending correio has `delivery.dane = true` and that server as `dns_servers`. One
 * receiving correio on 127.0.0.7 answers with STARTTLS and the fixture certificate. Checks: a
 * TLSA record of that certificate's key → delivered over TLS; a TLSA record of another key →
 * deferred, `queue show` naming DANE and the TLSA name, nothing delivered; the same wrong record
 * without the AD bit → delivered (unvalidated records are ignored). Then TLS-RPT (RFC 8460):
 * `correio tls-report send` for the day mails match.test's report to a local mailbox and POSTs
 * mismatch.test's to an HTTPS server (both named by `_smtp._tls` records); the reports count the
 * DANE success and the validation failure; a second run sends nothing again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import PostalMime from 'postal-mime';
import { join } from 'node:path';
import { startSite, sendMail, siteEnvelopes, waitFor, type Site } from '../helpers/site.js';
import { startDnsServer, type DnsTestServer, type DnsZone } from '../helpers/dns-server.js';
import { freePort } from '../helpers/net.js';
import { runCli } from '../helpers/cli.js';
import { fixturesDir } from '../helpers/paths.js';
import { tlsaRecordFor } from '../../src/dns/index.js';

let dns: DnsTestServer | undefined;
let sender: Site | undefined;
let receiver: Site | undefined;
let reportServer: https.Server | undefined;
const posted: { type: string; body: Buffer }[] = [];
let good = '';
const domains = ['match.test', 'mismatch.test', 'unsigned.test'];

before(async () => {
  const cert = join(fixturesDir, 'tls', 'localhost.crt');
  good = tlsaRecordFor(await readFile(cert)).data.toString('hex');
  reportServer = https.createServer({ key: await readFile(join(fixturesDir, 'tls', 'localhost.key')), cert: await readFile(cert) }, (req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      posted.push({ type: req.headers['content-type'] ?? '', body: Buffer.concat(parts) });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((r) => reportServer!.listen(0, '127.0.0.1', r));
  const reportPort = (reportServer.address() as AddressInfo).port;
  const port = await freePort('127.0.0.7');
  const zone: DnsZone = {};
  for (const d of domains) {
    zone[d] = { mx: [{ preference: 10, exchange: `mx.${d}` }] };
    zone[`mx.${d}`] = { a: ['127.0.0.7'], secure: true };
    const data = d === 'match.test' ? good : 'ab'.repeat(32);
    zone[`_${port}._tcp.mx.${d}`] = { tlsa: [{ usage: 3, selector: 1, matchingType: 1, data }], secure: d !== 'unsigned.test' };
  }
  zone['_smtp._tls.match.test'] = { txt: ['v=TLSRPTv1; rua=mailto:tlsrpt@localhost'] };
  zone['_smtp._tls.mismatch.test'] = { txt: [`v=TLSRPTv1; rua=https://127.0.0.1:${reportPort}/tlsrpt`] };
  dns = await startDnsServer(zone);
  receiver = await startSite({
    host: '127.0.0.7',
    port,
    hostname: 'mx.match.test',
    domains,
    users: domains.map((d) => `u@${d}`),
    smtp: { tls_cert: cert, tls_key: join(fixturesDir, 'tls', 'localhost.key') },
  });
  sender = await startSite({
    users: ['alice@localhost', 'tlsrpt@localhost'],
    // mta_sts_ca: the report server's certificate is trusted for the POST as for policy hosts
    delivery: { dns_servers: [dns.server], mx_port: port, retry_min: '1h', retry_max: '1h', smtp_timeout: '5s', dane: true, mta_sts_ca: cert },
  });
});
after(async () => {
  await sender?.destroy();
  await receiver?.destroy();
  await dns?.close();
  await new Promise((r) => (reportServer ? reportServer.close(r) : r(undefined)));
});

async function send(to: string): Promise<void> {
  const r = await sendMail(sender!, 'alice@localhost', [to], `From: alice@localhost\nTo: ${to}\nSubject: dane ${to}\n\nhello\n`);
  assert.match(r.final ?? '', /^250 /);
}

void test('a validated TLSA record of the MX certificate: delivered over TLS', async () => {
  await send('u@match.test');
  const [m] = await receiver!.waitForMessages('u@match.test', 1);
  assert.match(m, /with ESMTPS/, 'received over TLS');
});

void test('a validated TLSA record of another key: deferred with the DANE reason in queue show, nothing delivered', async () => {
  await send('u@mismatch.test');
  const e = await waitFor('an attempt for u@mismatch.test', async () => (await siteEnvelopes(sender!)).find((x) => x.recipient.domain === 'mismatch.test' && x.attempts.length > 0));
  const a = e.attempts[e.attempts.length - 1];
  assert.equal(a.status, '4.7.5');
  const show = await runCli(['--config', sender!.configFile, 'queue', 'show', e.messageId]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /DANE for mx\.mismatch\.test: the certificate matches none of the TLSA records at _\d+\._tcp\.mx\.mismatch\.test/);
  assert.deepEqual(await receiver!.messages('u@mismatch.test'), []);
});

void test('the same wrong record without the AD bit is ignored: delivered', async () => {
  await send('u@unsigned.test');
  await receiver!.waitForMessages('u@unsigned.test', 1);
});

interface Policy {
  policy: { 'policy-type': string; 'policy-string'?: string[]; 'policy-domain': string; 'mx-host': string[] };
  summary: { 'total-successful-session-count': number; 'total-failure-session-count': number };
  'failure-details'?: { 'result-type': string; 'receiving-mx-hostname': string; 'receiving-ip'?: string; 'failed-session-count': number }[];
}

void test('TLS-RPT: the reports of the day go by mail and HTTPS POST to the _smtp._tls destinations, once', async () => {
  const day = new Date().toISOString().slice(0, 10);
  const run = await runCli(['--config', sender!.configFile, 'tls-report', 'send', '--day', day]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`^match\\.test: report for ${day} sent to mailto:tlsrpt@localhost$`, 'm'));
  assert.match(run.stdout, /^mismatch\.test: report for .* sent to https:\/\/127\.0\.0\.1:\d+\/tlsrpt$/m);
  assert.match(run.stdout, /^unsigned\.test: no TLS-RPT record, nothing sent$/m);

  // RFC 8460 §5.3: the mail
  const [raw] = await sender!.waitForMessages('tlsrpt@localhost', 1);
  assert.match(raw, /^Content-Type: multipart\/report; report-type="tlsrpt"/m);
  assert.match(raw, /^TLS-Report-Domain: match\.test$/m);
  const mail = await PostalMime.parse(raw);
  assert.match(mail.subject ?? '', /^Report Domain: match\.test Submitter: \S+ Report-ID: <[^>]+>$/);
  const att = mail.attachments.find((a) => a.mimeType === 'application/tlsrpt+gzip');
  assert.ok(att, 'the gzipped JSON is attached');
  assert.match(att.filename ?? '', /^[^!]+!match\.test!\d+!\d+\.json\.gz$/);
  const mailed = JSON.parse(gunzipSync(Buffer.from(att.content as ArrayBuffer)).toString('utf8')) as { 'date-range': { 'start-datetime': string }; policies: Policy[] };
  assert.equal(mailed['date-range']['start-datetime'], `${day}T00:00:00Z`);
  const ok = mailed.policies.find((p) => p.policy['policy-type'] === 'tlsa');
  assert.ok(ok, JSON.stringify(mailed));
  assert.deepEqual(ok.policy['policy-string'], [`3 1 1 ${good}`]);
  assert.deepEqual(ok.policy['mx-host'], ['mx.match.test']);
  assert.ok(ok.summary['total-successful-session-count'] >= 1);
  assert.equal(ok.summary['total-failure-session-count'], 0);

  // RFC 8460 §5.4: the POST
  assert.equal(posted.length, 1);
  assert.equal(posted[0].type, 'application/tlsrpt+gzip');
  const report = JSON.parse(gunzipSync(posted[0].body).toString('utf8')) as { policies: Policy[] };
  const failed = report.policies.find((p) => p.policy['policy-type'] === 'tlsa');
  assert.ok(failed, JSON.stringify(report));
  assert.equal(failed.summary['total-successful-session-count'], 0);
  assert.ok(failed.summary['total-failure-session-count'] >= 1);
  assert.equal(failed['failure-details']?.[0]['result-type'], 'validation-failure');
  assert.equal(failed['failure-details']?.[0]['receiving-mx-hostname'], 'mx.mismatch.test');
  assert.equal(failed['failure-details']?.[0]['receiving-ip'], '127.0.0.7');

  const again = await runCli(['--config', sender!.configFile, 'tls-report', 'send', '--day', day]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^match\.test: the report for .* was sent already$/m);
  assert.equal(posted.length, 1, 'not posted twice');
  const bad = await runCli(['--config', sender!.configFile, 'tls-report', 'send', '--day', '2026-13-01']);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /--day: expected a date as YYYY-MM-DD/);
});
