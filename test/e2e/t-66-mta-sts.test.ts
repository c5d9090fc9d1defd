/**
 * t-66: MTA-STS for outbound mail (RFC 8461, issue 15). A test CA (made with `openssl`; the
 * test skips with a message without it) signs the policy host's certificate and the MX's; the
 * sending site is told to trust it (`delivery.mta_sts_ca`) and to fetch policies on a high port
 * (`delivery.mta_sts_port`). A real DNS server publishes `_mta-sts` TXT records and the MX
 * records; an HTTPS server on 127.0.0.5 serves each domain's policy; one receiving correio on
 * 127.0.0.6 answers with STARTTLS and a certificate for mx.good.test. Checks: enforce + matching
 * MX + valid certificate → delivered; enforce + an MX whose name the certificate does not
 * carry → deferred, `queue show` giving the MTA-STS reason; enforce + an MX the policy does not
 * list → deferred without connecting; testing mode with the bad name → delivered anyway. Then
 * TLS-RPT (RFC 8460 §4.3): `tls-report send` mails each domain's report, parsed here: testing
 * sessions count under the `sts` policy (success with a valid certificate,
 * certificate-host-mismatch, validation-failure for an MX the policy does not list), the
 * enforce domain without a matching MX counts a validation-failure for its MX host, and domains
 * whose published policy cannot be had count sts-policy-fetch-error (404), sts-policy-invalid
 * (a policy that does not parse) and sts-webpki-invalid (a policy host whose certificate lacks
 * its name) — those three delivered as without MTA-STS.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import PostalMime from 'postal-mime';
import { startSite, sendMail, siteEnvelopes, waitFor, type Site } from '../helpers/site.js';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { freePort } from '../helpers/net.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
let dns: DnsTestServer | undefined;
let policyServer: https.Server | undefined;
let sender: Site | undefined;
let receiver: Site | undefined;
let missing: string | undefined;

const policies: Record<string, string> = {
  'mta-sts.good.test': 'version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 86400\n',
  'mta-sts.bad.test': 'version: STSv1\nmode: enforce\nmx: *.bad.test\nmax_age: 86400\n',
  'mta-sts.nomatch.test': 'version: STSv1\nmode: enforce\nmx: mail.nomatch.test\nmax_age: 86400\n',
  'mta-sts.testmode.test': 'version: STSv1\nmode: testing\nmx: mx.testmode.test\nmax_age: 86400\n',
  'mta-sts.testok.test': 'version: STSv1\nmode: testing\nmx: mx.good.test\nmax_age: 86400\n',
  'mta-sts.testnomx.test': 'version: STSv1\nmode: testing\nmx: elsewhere.example\nmax_age: 86400\n',
  'mta-sts.invalid.test': 'version: STSv1\nmode: bogus\nmax_age: 86400\n',
};
/** served, but the policy host's certificate does not carry this name (sts-webpki-invalid) */
const uncertified: Record<string, string> = { 'mta-sts.webpki.test': 'version: STSv1\nmode: enforce\nmx: mx.webpki.test\nmax_age: 86400\n' };
/** domains whose TLS reports go to tlsrpt@localhost; fetchfail.test has no policy file (404) */
const reported = ['nomatch.test', 'testmode.test', 'testok.test', 'testnomx.test', 'fetchfail.test', 'invalid.test', 'webpki.test'];
const allDomains = ['good.test', 'bad.test', ...reported];

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile('openssl', args, { cwd: dir }, (err, _out, stderr) => (err ? reject(new Error(`openssl ${args[0]}: ${stderr || err.message}`)) : resolve())));
}

/** A key and a certificate for `names`, signed by the test CA. */
async function leaf(name: string, names: string[]): Promise<void> {
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${names[0]}`]);
  await writeFile(join(dir, `${name}.ext`), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, '-extfile', `${name}.ext`]);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'correio-t66-'));
  try {
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=correio test CA']);
  } catch (err) {
    missing = `the openssl command is needed to make the test CA (${(err as Error).message.split('\n')[0]})`;
    return;
  }
  await leaf('policy', [...Object.keys(policies), 'mta-sts.fetchfail.test']);
  await leaf('mx', ['mx.good.test']);

  policyServer = https.createServer({ key: await readFile(join(dir, 'policy.key')), cert: await readFile(join(dir, 'policy.pem')) }, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const body = req.url === '/.well-known/mta-sts.txt' ? (policies[host] ?? uncertified[host]) : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((r) => policyServer!.listen(0, '127.0.0.5', r));
  const httpsPort = (policyServer.address() as AddressInfo).port;

  const zone: Parameters<typeof startDnsServer>[0] = {};
  for (const d of allDomains) {
    zone[`_mta-sts.${d}`] = { txt: ['v=STSv1; id=20261204'] };
    zone[`mta-sts.${d}`] = { a: ['127.0.0.5'] };
    zone[d] = { mx: [{ preference: 10, exchange: d === 'testok.test' ? 'mx.good.test' : `mx.${d}` }] };
    zone[`mx.${d}`] = { a: ['127.0.0.6'] };
  }
  for (const d of reported) zone[`_smtp._tls.${d}`] = { txt: ['v=TLSRPTv1; rua=mailto:tlsrpt@localhost'] };
  dns = await startDnsServer(zone);
  const port = await freePort('127.0.0.6');
  receiver = await startSite({
    host: '127.0.0.6',
    port,
    hostname: 'mx.good.test',
    domains: allDomains,
    users: allDomains.map((d) => `u@${d}`),
    smtp: { tls_cert: join(dir, 'mx.pem'), tls_key: join(dir, 'mx.key') },
  });
  sender = await startSite({
    users: ['alice@localhost', 'tlsrpt@localhost'],
    delivery: { dns_servers: [dns.server], mx_port: port, retry_min: '1h', retry_max: '1h', smtp_timeout: '5s', mta_sts_port: httpsPort, mta_sts_ca: join(dir, 'ca.pem') },
  });
});
after(async () => {
  await sender?.destroy();
  await receiver?.destroy();
  await dns?.close();
  await new Promise((r) => (policyServer ? policyServer.close(r) : r(undefined)));
  await rm(dir, { recursive: true, force: true });
});

async function send(to: string, subject: string): Promise<void> {
  const r = await sendMail(sender!, 'alice@localhost', [to], `From: alice@localhost\nTo: ${to}\nSubject: ${subject}\n\n${subject}\n`);
  assert.match(r.final ?? '', /^250 /);
}

/** The sender's envelope for `to` once it has an attempt recorded. */
async function attempted(to: string): Promise<{ messageId: string; error: string; status: string }> {
  const e = await waitFor(`an attempt for ${to}`, async () => (await siteEnvelopes(sender!)).find((x) => `${x.recipient.local}@${x.recipient.domain}` === to && x.attempts.length > 0));
  const a = e.attempts[e.attempts.length - 1];
  return { messageId: e.messageId, error: a.error ?? '', status: a.status };
}

void test('enforce: a matching MX with a certificate for its name gets the mail over verified TLS', async (t) => {
  if (missing) return t.skip(missing);
  await send('u@good.test', 'sts good');
  const [m] = await receiver!.waitForMessages('u@good.test', 1);
  assert.match(m, /with ESMTPS/, 'received over TLS');
});

void test('enforce: an MX whose certificate does not carry its name is deferred, the reason shown by queue show', async (t) => {
  if (missing) return t.skip(missing);
  await send('u@bad.test', 'sts bad');
  const a = await attempted('u@bad.test');
  assert.equal(a.status, '4.7.5');
  assert.match(a.error, /MTA-STS policy of bad\.test \(enforce\): .*TLS/);
  const show = await runCli(['--config', sender!.configFile, 'queue', 'show', a.messageId]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /MTA-STS policy of bad\.test \(enforce\)/);
  assert.deepEqual(await receiver!.messages('u@bad.test'), []);
});

void test('enforce: an MX the policy does not list is not tried; testing mode delivers despite the bad name', async (t) => {
  if (missing) return t.skip(missing);
  await send('u@nomatch.test', 'sts nomatch');
  const a = await attempted('u@nomatch.test');
  assert.match(a.error, /MTA-STS policy of nomatch\.test \(enforce\): no MX host matches mail\.nomatch\.test/);
  assert.deepEqual(await receiver!.messages('u@nomatch.test'), []);
  await send('u@testmode.test', 'sts testing');
  await receiver!.waitForMessages('u@testmode.test', 1);
});

interface Policy {
  policy: { 'policy-type': string; 'policy-string'?: string[]; 'mx-host': string[] };
  summary: { 'total-successful-session-count': number; 'total-failure-session-count': number };
  'failure-details'?: { 'result-type': string; 'receiving-mx-hostname'?: string }[];
}

void test('TLS-RPT: testing sessions count under the sts policy; a missing MX match and unobtainable policies are counted by type', async (t) => {
  if (missing) return t.skip(missing);
  for (const d of ['testok.test', 'testnomx.test', 'fetchfail.test', 'invalid.test', 'webpki.test']) await send(`u@${d}`, `sts ${d}`);
  // testing and policies that cannot be had: delivered as without MTA-STS
  for (const d of ['testok.test', 'testnomx.test', 'fetchfail.test', 'invalid.test', 'webpki.test']) await receiver!.waitForMessages(`u@${d}`, 1);
  const day = new Date().toISOString().slice(0, 10);
  const run = await runCli(['--config', sender!.configFile, 'tls-report', 'send', '--day', day]);
  assert.equal(run.code, 0, run.stderr);
  const mails = await sender!.waitForMessages('tlsrpt@localhost', reported.length);
  const reports = new Map<string, Policy[]>();
  for (const raw of mails) {
    const mail = await PostalMime.parse(raw);
    const domain = /^Report Domain: (\S+)/.exec(mail.subject ?? '')?.[1] ?? '';
    const att = mail.attachments.find((a) => a.mimeType === 'application/tlsrpt+gzip');
    assert.ok(att, domain);
    reports.set(domain, (JSON.parse(gunzipSync(Buffer.from(att.content as ArrayBuffer)).toString('utf8')) as { policies: Policy[] }).policies);
  }
  const only = (domain: string): Policy => {
    const ps = reports.get(domain) ?? [];
    assert.equal(ps.length, 1, `${domain}: ${JSON.stringify(ps)}`);
    assert.equal(ps[0].policy['policy-type'], 'sts', domain);
    return ps[0];
  };
  const ok = only('testok.test');
  assert.ok(ok.policy['policy-string']?.includes('mode: testing'));
  assert.ok(ok.summary['total-successful-session-count'] >= 1);
  assert.equal(ok.summary['total-failure-session-count'], 0);
  const types = (domain: string): string[] => [...new Set((only(domain)['failure-details'] ?? []).map((f) => f['result-type']))];
  assert.deepEqual(types('testmode.test'), ['certificate-host-mismatch']);
  assert.equal(only('testmode.test').summary['total-successful-session-count'], 0);
  assert.deepEqual(types('testnomx.test'), ['validation-failure']);
  assert.deepEqual(types('nomatch.test'), ['validation-failure']);
  assert.equal(only('nomatch.test')['failure-details']?.[0]['receiving-mx-hostname'], 'mx.nomatch.test');
  assert.deepEqual(types('fetchfail.test'), ['sts-policy-fetch-error']);
  assert.deepEqual(types('invalid.test'), ['sts-policy-invalid']);
  assert.deepEqual(types('webpki.test'), ['sts-webpki-invalid']);
  assert.equal(only('webpki.test')['failure-details']?.[0]['receiving-mx-hostname'], 'mx.webpki.test');
});
