/**
 * t-66: MTA-STS for outbound mail (RFC 8461, issue 15). A test CA (made with `openssl`; the
 * test skips with a message without it) signs the policy host's certificate and the MX's; the
 * sending site is told to trust it (`delivery.mta_sts_ca`) and to fetch policies on a high port
 * (`delivery.mta_sts_port`). A real DNS server publishes `_mta-sts` TXT records and the MX
 * records; an HTTPS server on 127.0.0.5 serves each domain's policy; one receiving correio on
 * 127.0.0.6 answers with STARTTLS and a certificate for mx.good.test. Checks: enforce + matching
 * MX + valid certificate → delivered; enforce + an MX whose name the certificate does not
 * carry → deferred, `queue show` giving the MTA-STS reason; enforce + an MX the policy does not
 * list → deferred without connecting; testing mode with the bad name → delivered anyway.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
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
};

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
  await leaf('policy', Object.keys(policies));
  await leaf('mx', ['mx.good.test']);

  policyServer = https.createServer({ key: await readFile(join(dir, 'policy.key')), cert: await readFile(join(dir, 'policy.pem')) }, (req, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const body = req.url === '/.well-known/mta-sts.txt' ? policies[host] : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/plain' });
    res.end(body ?? 'not found');
  });
  await new Promise<void>((r) => policyServer!.listen(0, '127.0.0.5', r));
  const httpsPort = (policyServer.address() as AddressInfo).port;

  const zone: Parameters<typeof startDnsServer>[0] = {};
  for (const d of ['good.test', 'bad.test', 'nomatch.test', 'testmode.test']) {
    zone[`_mta-sts.${d}`] = { txt: ['v=STSv1; id=20261204'] };
    zone[`mta-sts.${d}`] = { a: ['127.0.0.5'] };
    zone[d] = { mx: [{ preference: 10, exchange: `mx.${d}` }] };
    zone[`mx.${d}`] = { a: ['127.0.0.6'] };
  }
  dns = await startDnsServer(zone);
  const port = await freePort('127.0.0.6');
  receiver = await startSite({
    host: '127.0.0.6',
    port,
    hostname: 'mx.good.test',
    domains: ['good.test', 'bad.test', 'nomatch.test', 'testmode.test'],
    users: ['u@good.test', 'u@bad.test', 'u@nomatch.test', 'u@testmode.test'],
    smtp: { tls_cert: join(dir, 'mx.pem'), tls_key: join(dir, 'mx.key') },
  });
  sender = await startSite({
    users: ['alice@localhost'],
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
