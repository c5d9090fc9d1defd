/**
 * t-68 (failure reports): DMARC failure reports (RFC 7489 §7.3, RFC 6591), off by default. A
 * site with `verify_inbound` and `[reports] dmarc_failure = true`, `dmarc_failure_per_hour = 1`,
 * and a real DNS server where bad.test publishes `p=reject; ruf=mailto:ruf@localhost; fo=1` (and
 * localhost agrees to receive its reports, §7.1), SPF failing for the client. Two forged
 * messages from a stranger are refused 550 5.7.1; one failure report reaches ruf@localhost:
 * multipart/report with a message/feedback-report part (Feedback-Type: auth-failure,
 * Auth-Failure: dmarc, Delivery-Result: reject, Source-IP, Reported-Domain, Identity-Alignment)
 * and the failed message's header (not its body); the second is held back by the hourly limit.
 * quiet.test asks the same but has no agreement record for localhost: nothing is sent to it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSite, sendMail, type Site } from '../helpers/site.js';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';

let site: Site;
let dns: DnsTestServer;
const stranger = { localAddress: '127.0.0.9' };

before(async () => {
  dns = await startDnsServer({
    'bad.test': { txt: ['v=spf1 -all'] },
    '_dmarc.bad.test': { txt: ['v=DMARC1; p=reject; ruf=mailto:ruf@localhost; fo=1'] },
    'bad.test._report._dmarc.localhost': { txt: ['v=DMARC1'] },
    'quiet.test': { txt: ['v=spf1 -all'] },
    '_dmarc.quiet.test': { txt: ['v=DMARC1; p=reject; ruf=mailto:ruf@localhost'] },
  });
  site = await startSite({
    domains: ['localhost'],
    users: ['user@localhost', 'ruf@localhost'],
    smtp: { trusted_networks: ['127.0.0.1/32'] },
    delivery: { dns_servers: [dns.server] },
    tables: '[mail_auth]\nverify_inbound = true\n[reports]\ndmarc_failure = true\ndmarc_failure_per_hour = 1\n',
  });
});
after(async () => {
  await site.destroy();
  await dns.close();
});

void test('a failure report for refused forged mail, with the header only; the hourly limit holds the second; no agreement, no report', async () => {
  for (const n of [1, 2]) {
    const r = await sendMail(site, `x@bad.test`, ['user@localhost'], `From: x@bad.test\nTo: user@localhost\nSubject: forged ${n}\n\nsecret body ${n}\n`, stranger);
    assert.match(r.final ?? '', /^550 5\.7\.1 /);
  }
  const q = await sendMail(site, 'x@quiet.test', ['user@localhost'], 'From: x@quiet.test\nSubject: quiet\n\nq\n', stranger);
  assert.match(q.final ?? '', /^550 5\.7\.1 /);
  const [report] = await site.waitForMessages('ruf@localhost', 1, 60_000);
  assert.match(report, /^Content-Type: multipart\/report; report-type=feedback-report;/m);
  assert.match(report, /^Content-Type: message\/feedback-report\r?$/m);
  for (const f of ['Feedback-Type: auth-failure', 'Auth-Failure: dmarc', 'Delivery-Result: reject', 'Source-IP: 127.0.0.9', 'Reported-Domain: bad.test', 'Original-Mail-From: <x@bad.test>', 'Identity-Alignment: dkim, spf']) {
    assert.match(report, new RegExp(`^${f}\\r?$`, 'm'), f);
  }
  assert.match(report, /^Authentication-Results: mx\.localhost;.*dmarc=fail/m);
  assert.match(report, /^Content-Type: text\/rfc822-headers\r?$/m);
  assert.match(report, /^Subject: forged 1\r?$/m);
  assert.doesNotMatch(report, /secret body/, 'the body is not sent');
  // a marker after both: the limiter decided at the end of data of the second message
  const m = await sendMail(site, 'postmaster@localhost', ['ruf@localhost'], 'From: postmaster@localhost\nSubject: marker\n\nm\n');
  assert.match(m.final ?? '', /^250 /);
  const all = await site.waitForMessages('ruf@localhost', 2, 60_000);
  assert.equal(all.filter((x) => /Feedback-Type: auth-failure/.test(x)).length, 1, 'one report an hour for bad.test; none for quiet.test');
  assert.deepEqual(await site.messages('user@localhost'), [], 'the forged mail was refused');
});
