/**
 * t-68: DMARC aggregate reports (RFC 7489 §7.2, issue 15). A real DNS server publishes the SPF
 * and DMARC records of two sender domains whose `rua` points at a mailbox of the receiving
 * site (dmarc@localhost): b.test has agreed to that destination
 * (`b.test._report._dmarc.localhost`, §7.1), c.test has not. Mail arrives on the MX port from
 * 127.0.0.9 (SPF pass) and 127.0.0.10 (SPF fail). `correio dmarc-report send` mails b.test's
 * report to the mailbox and skips c.test's; the report is parsed by Python's xml.etree (an
 * independent parser): the published policy, one row per source with its count, the evaluated
 * disposition and alignment, the SPF auth result. A second run sends nothing again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import PostalMime from 'postal-mime';
import { startSite, type Site } from '../helpers/site.js';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { SmtpTestClient } from './t-20-smtp-tls-client.js';
import { runCli } from '../helpers/cli.js';
import { python3 } from '../helpers/python.js';

let site: Site;
let dns: DnsTestServer;
let dir: string;
let mx: number;

before(async () => {
  dns = await startDnsServer({
    'b.test': { txt: ['v=spf1 ip4:127.0.0.9 -all'] },
    '_dmarc.b.test': { txt: ['v=DMARC1; p=none; aspf=s; rua=mailto:dmarc@localhost!10m'] },
    'b.test._report._dmarc.localhost': { txt: ['v=DMARC1'] },
    'c.test': { txt: ['v=spf1 ip4:127.0.0.9 -all'] },
    '_dmarc.c.test': { txt: ['v=DMARC1; p=quarantine; rua=mailto:dmarc@localhost'] },
  });
  dir = await mkdtemp(join(tmpdir(), 'correio-t68-'));
  site = await startSite({
    domains: ['localhost'],
    hostname: 'mx.localhost',
    users: ['user@localhost', 'dmarc@localhost'],
    smtp: { trusted_networks: ['127.0.0.1/32'] },
    delivery: { dns_servers: [dns.server] },
    tables: '[mail_auth]\nverify_inbound = true\n',
  });
  mx = site.app!.smtpAddresses().find((a) => a.mode === 'mx')!.port;
});
after(async () => {
  await site.destroy();
  await dns.close();
  await rm(dir, { recursive: true, force: true });
});

async function sendMx(from: string, localAddress: string): Promise<void> {
  const c = await SmtpTestClient.open(mx, { localAddress });
  try {
    assert.match((await c.readReply())!, /^220 /);
    assert.match((await c.command('EHLO client.test'))!, /^250/);
    const r = await c.send(from, ['user@localhost'], `From: <${from}>\nTo: user@localhost\nSubject: dmarc\n\nhello\n`);
    assert.match(r.final ?? '', /^250 /);
    await c.command('QUIT');
  } finally {
    c.close();
  }
}

const parseReport = `
import json, sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
t = lambda e, p: e.findtext(p)
print(json.dumps({
  'root': r.tag,
  'begin': t(r, 'report_metadata/date_range/begin'), 'end': t(r, 'report_metadata/date_range/end'),
  'report_id': t(r, 'report_metadata/report_id'),
  'policy': {k: t(r, 'policy_published/' + k) for k in ['domain', 'adkim', 'aspf', 'p', 'sp', 'pct']},
  'records': [{
    'ip': t(x, 'row/source_ip'), 'count': t(x, 'row/count'),
    'disposition': t(x, 'row/policy_evaluated/disposition'), 'dkim': t(x, 'row/policy_evaluated/dkim'), 'spf': t(x, 'row/policy_evaluated/spf'),
    'header_from': t(x, 'identifiers/header_from'),
    'spf_auth': [t(x, 'auth_results/spf/domain'), t(x, 'auth_results/spf/scope'), t(x, 'auth_results/spf/result')],
  } for x in r.findall('record')],
}))
`;

test('the day of mail from b.test is reported to its rua; c.test is skipped without the §7.1 agreement', async (t) => {
  await sendMx('alice@b.test', '127.0.0.9');
  await sendMx('bob@b.test', '127.0.0.9');
  await sendMx('mallory@b.test', '127.0.0.10');
  await sendMx('carol@c.test', '127.0.0.9');
  await site.waitForMessages('user@localhost', 4);

  const day = new Date().toISOString().slice(0, 10);
  const run = await runCli(['--config', site.configFile, 'dmarc-report', 'send', '--day', day]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`^b\\.test: report for ${day} sent to mailto:dmarc@localhost$`, 'm'));
  assert.match(run.stdout, /^c\.test: dmarc@localhost has not agreed to receive reports for c\.test \(no c\.test\._report\._dmarc record\), skipped$/m);

  const [raw] = await site.waitForMessages('dmarc@localhost', 1);
  const mail = await PostalMime.parse(raw);
  assert.match(mail.subject ?? '', /^Report Domain: b\.test Submitter: mx\.localhost Report-ID: <[^>]+>$/);
  const att = mail.attachments.find((a) => a.mimeType === 'application/gzip');
  assert.ok(att, 'the gzipped XML is attached');
  assert.match(att.filename ?? '', /^mx\.localhost!b\.test!\d+!\d+!.+\.xml\.gz$/);
  const file = join(dir, 'report.xml');
  await writeFile(file, gunzipSync(Buffer.from(att.content as ArrayBuffer)));

  const py = await python3(parseReport, [file]).catch((err: Error) => ({ code: -1, out: '', err: err.message }));
  if (py.code !== 0 && /ENOENT/.test(py.err)) return t.skip('python3 is needed to parse the XML independently');
  assert.equal(py.code, 0, py.err);
  const r = JSON.parse(py.out) as {
    root: string; begin: string; end: string; report_id: string;
    policy: Record<string, string>;
    records: { ip: string; count: string; disposition: string; dkim: string; spf: string; header_from: string; spf_auth: string[] }[];
  };
  assert.equal(r.root, 'feedback');
  assert.equal(Number(r.begin), Date.parse(`${day}T00:00:00Z`) / 1000);
  assert.equal(Number(r.end) - Number(r.begin), 86_399);
  assert.deepEqual(r.policy, { domain: 'b.test', adkim: 'r', aspf: 's', p: 'none', sp: 'none', pct: '100' });
  const byIp = new Map(r.records.map((x) => [x.ip, x]));
  assert.equal(r.records.length, 2, JSON.stringify(r.records));
  assert.deepEqual(byIp.get('127.0.0.9'), { ip: '127.0.0.9', count: '2', disposition: 'none', dkim: 'fail', spf: 'pass', header_from: 'b.test', spf_auth: ['b.test', 'mfrom', 'pass'] });
  assert.deepEqual(byIp.get('127.0.0.10'), { ip: '127.0.0.10', count: '1', disposition: 'none', dkim: 'fail', spf: 'fail', header_from: 'b.test', spf_auth: ['b.test', 'mfrom', 'fail'] });

  const again = await runCli(['--config', site.configFile, 'dmarc-report', 'send', '--day', day]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /^b\.test: the report for .* was sent already$/m);
});
