/**
 * t-12: a message that cannot be delivered for a while (issue 3; RFC 3464, RFC 3461 §4.1).
 * The remote MX (a scripted peer found through a real DNS server) answers 451 to every RCPT.
 * With delay_warning = 2s and max_queue_lifetime = 5s the sender gets one delay warning
 * (Action: delayed), then a failure report (Action: failed, X.4.7 delivery time expired, with the
 * last remote reply), and the spool is empty.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { mxZone } from '../helpers/mx-sites.js';
import { startScriptedPeer, type ScriptedPeer } from '../helpers/scripted-smtp-peer.js';
import { freePort } from '../helpers/net.js';
import { sendMail, siteEnvelopes, startSite, waitFor, type Site } from '../helpers/site.js';
import { parseDsn } from '../../src/protocol/mime/parse-dsn.js';

let dns: DnsTestServer;
let site: Site;
let peer: ScriptedPeer;

before(async () => {
  const port = await freePort('127.0.0.2');
  dns = await startDnsServer(mxZone({ 'slow.test': '127.0.0.30' }));
  peer = await startScriptedPeer({ host: '127.0.0.30', port, hostname: 'mx.slow.test', script: { RCPT: '451 4.2.1 mailbox busy, try later' } });
  site = await startSite({
    host: '127.0.0.2',
    port,
    hostname: 'mx.dsc.ufpb.br',
    domains: ['dsc.ufpb.br'],
    users: ['helvecio@dsc.ufpb.br'],
    delivery: {
      dns_servers: [dns.server],
      mx_port: port,
      retry_min: '1s',
      retry_max: '1s',
      delay_warning: '2s',
      max_queue_lifetime: '5s',
      smtp_timeout: '2s',
    },
  });
});
after(async () => {
  await site?.destroy();
  await peer?.close();
  await dns?.close();
});

void test('one delay warning, then expiry: a failure DSN with Action failed; the spool is empty', async () => {
  const r = await sendMail(site, 'helvecio@dsc.ufpb.br', ['ana@slow.test'], 'Subject: devagar\n\ncorpo\n', { localAddress: '127.0.0.2' });
  assert.match(r.final ?? '', /^250/);

  const isFailure = (m: string): boolean => parseDsn(m)?.recipients[0]?.action === 'failed';
  const all = await waitFor('the failure report', async () => {
    const ms = await site.messages('helvecio@dsc.ufpb.br');
    return ms.some(isFailure) ? ms : undefined;
  });
  const reports = all.map((m) => ({ text: m, dsn: parseDsn(m) }));
  for (const rep of reports) assert.ok(rep.dsn, `every notice is a DSN:\n${rep.text}`);

  const delays = reports.filter((rep) => rep.dsn?.recipients[0]?.action === 'delayed');
  assert.equal(delays.length, 1, 'exactly one delay warning');
  const [d] = delays[0].dsn?.recipients ?? [];
  assert.equal(d.finalRecipient, 'ana@slow.test');
  assert.match(d.status, /^4\./);
  assert.ok(d.willRetryUntil, 'a delay warning says until when it retries');

  const failures = reports.filter((rep) => rep.dsn?.recipients[0]?.action === 'failed');
  assert.equal(failures.length, 1, 'exactly one failure report');
  const [f] = failures[0].dsn?.recipients ?? [];
  assert.equal(f.finalRecipient, 'ana@slow.test');
  assert.match(f.status, /^[45]\.4\.7$/, 'delivery time expired (RFC 3463 X.4.7)');
  assert.equal(f.remoteMta, 'mx.slow.test');
  assert.match(f.diagnostic ?? '', /451 4\.2\.1 mailbox busy/);
  assert.match(failures[0].text, /^Return-Path: <>/);
  assert.match(failures[0].text, /Subject: devagar/);

  assert.equal(peer.messages.length, 0);
  assert.ok(peer.commands.filter((c) => c.startsWith('RCPT')).length >= 2, 'retried before giving up');
  await waitFor('an empty spool', async () => (await siteEnvelopes(site)).length === 0);
  // nothing more arrives once it has expired (no second warning, no second failure)
  const count = all.length;
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal((await site.messages('helvecio@dsc.ufpb.br')).length, count);
});
