/**
 * t-67: DANE for outbound mail (RFC 7672, issue 15). A real DNS server publishes MX and TLSA
 * records and sets the AD bit for the names marked secure, as a validating resolver (unbound)
 * would; the sending correio has `delivery.dane = true` and that server as `dns_servers`. One
 * receiving correio on 127.0.0.7 answers with STARTTLS and the fixture certificate. Checks: a
 * TLSA record of that certificate's key → delivered over TLS; a TLSA record of another key →
 * deferred, `queue show` naming DANE and the TLSA name, nothing delivered; the same wrong record
 * without the AD bit → delivered (unvalidated records are ignored).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
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
const domains = ['match.test', 'mismatch.test', 'unsigned.test'];

before(async () => {
  const cert = join(fixturesDir, 'tls', 'localhost.crt');
  const good = tlsaRecordFor(await readFile(cert)).data.toString('hex');
  const port = await freePort('127.0.0.7');
  const zone: DnsZone = {};
  for (const d of domains) {
    zone[d] = { mx: [{ preference: 10, exchange: `mx.${d}` }] };
    zone[`mx.${d}`] = { a: ['127.0.0.7'] };
    const data = d === 'match.test' ? good : 'ab'.repeat(32);
    zone[`_${port}._tcp.mx.${d}`] = { tlsa: [{ usage: 3, selector: 1, matchingType: 1, data }], secure: d !== 'unsigned.test' };
  }
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
    users: ['alice@localhost'],
    delivery: { dns_servers: [dns.server], mx_port: port, retry_min: '1h', retry_max: '1h', smtp_timeout: '5s', dane: true },
  });
});
after(async () => {
  await sender?.destroy();
  await receiver?.destroy();
  await dns?.close();
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
