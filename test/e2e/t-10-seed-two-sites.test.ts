/**
 * t-10: the seed's example across two sites (seed §2, §3.2; issue 3). helvecio at dsc.ufpb.br
 * (site S1 on 127.0.0.2) sends to suzana, jacques and pascal at dc.uece.br (site S2 on
 * 127.0.0.3, found through the MX records of a real DNS server). S2 has suzana and pascal only:
 * they get the message, and helvecio gets, in his Maildir at S1, a DSN naming jacques (5.1.1).
 * As root (CI) both sites listen on port 25, as the issue asks; unprivileged, on a high port.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { port25IfFree, startMxSites, type MxSites } from '../helpers/mx-sites.js';
import { sendMail, siteEnvelopes, waitFor, type Site } from '../helpers/site.js';
import { parseDsn } from '../../src/protocol/mime/parse-dsn.js';
import { LineClient } from '../helpers/net.js';

let mx: MxSites;
let s1: Site;
let s2: Site;

before(async () => {
  mx = await startMxSites(
    [
      { domain: 'dsc.ufpb.br', ip: '127.0.0.2', users: ['helvecio@dsc.ufpb.br'] },
      { domain: 'dc.uece.br', ip: '127.0.0.3', users: ['suzana@dc.uece.br', 'pascal@dc.uece.br'] },
    ],
    { retry_min: '1s', retry_max: '2s' },
    // the seed's port 25 when the test may bind it (CI runs as root); else a high port + mx_port
    { port: await port25IfFree(['127.0.0.2', '127.0.0.3']) },
  );
  [s1, s2] = mx.sites;
});
after(async () => mx?.destroy());

void test('suzana and pascal get the message; helvecio gets a DSN naming jacques with 5.1.1', async () => {
  const sent = await sendMail(
    s1,
    'helvecio@dsc.ufpb.br',
    ['suzana@dc.uece.br', 'jacques@dc.uece.br', 'pascal@dc.uece.br'],
    'From: helvecio@dsc.ufpb.br\nTo: suzana@dc.uece.br, jacques@dc.uece.br, pascal@dc.uece.br\nSubject: figura 5\n\n.....corpo da mensagem a ser enviada ......\n',
    { localAddress: '127.0.0.2', helo: 'dsc.ufpb.br' },
  );
  // S1 does not know dc.uece.br's users: it accepts all three for relay (RFC 5321 §3.9).
  assert.deepEqual(sent.rcpt.map((r) => r.slice(0, 3)), ['250', '250', '250']);
  assert.match(sent.final ?? '', /^250/);

  const [s] = await s2.waitForMessages('suzana@dc.uece.br', 1);
  const [p] = await s2.waitForMessages('pascal@dc.uece.br', 1);
  for (const m of [s, p]) {
    assert.match(m, /^Return-Path: <helvecio@dsc\.ufpb\.br>/);
    assert.match(m, /^Subject: figura 5$/m);
    // two hops: S1 took it from the client, S2 from S1
    assert.match(m, /by mx\.dc\.uece\.br/);
    assert.match(m, /by mx\.dsc\.ufpb\.br/);
  }
  assert.deepEqual(await s2.mailbox('jacques@dc.uece.br'), []);

  const [bounce] = await s1.waitForMessages('helvecio@dsc.ufpb.br', 1);
  assert.match(bounce, /^Return-Path: <>/);
  const dsn = parseDsn(bounce);
  assert.ok(dsn, 'the bounce is an RFC 3464 report');
  assert.equal(dsn.reportingMta, 'mx.dsc.ufpb.br');
  assert.equal(dsn.recipients.length, 1, 'only jacques failed');
  const [r] = dsn.recipients;
  assert.equal(r.finalRecipient, 'jacques@dc.uece.br');
  assert.equal(r.action, 'failed');
  assert.equal(r.status, '5.1.1');
  assert.equal(r.remoteMta, 'mx.dc.uece.br');
  assert.match(r.diagnostic ?? '', /^550 5\.1\.1 /);
  // the original headers come back with the report
  assert.match(bounce, /Subject: figura 5/);

  // both spools empty afterwards
  await waitFor('both spools empty', async () => (await siteEnvelopes(s1)).length + (await siteEnvelopes(s2)).length === 0);
  // the DNS server was asked for dc.uece.br's MX
  assert.ok(mx.dns.queries.some((q) => /^MX dc\.uece\.br/i.test(q)), mx.dns.queries.join(', '));
});

void test('the sites listen on port 25 when run as root (the seed\'s well-known port)', { skip: process.getuid?.() === 0 ? false : 'needs root to bind port 25' }, async (t) => {
  if (mx.port !== 25) {
    t.skip('port 25 on 127.0.0.2 or 127.0.0.3 is held by another program; the sites used a high port');
    return;
  }
  // each site's own greeting, on port 25 of its own address
  for (const site of [s1, s2]) {
    const c = await LineClient.connect(25, site.host);
    try {
      assert.match((await c.readReply()) ?? '', new RegExp(`^220 ${site.config.hostname.replaceAll('.', '\\.')} `));
    } finally {
      c.close();
    }
  }
});
