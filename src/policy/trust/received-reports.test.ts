/**
 * Reports others send us (received-reports.ts, report-files.ts, received-store.ts): the DMARC
 * aggregate reports of the shared corpus (`auth/dmarc/`): Mail::DMARC's one report as plain
 * XML, gzip and ZIP (an entry with an empty name) reads the same three times; OpenDMARC's three
 * well-formed reports give their 754, 50 and 254 records; its deliberately broken AOL report is
 * refused with a reason, no crash. Our own TLS report and DMARC report messages are read back.
 * DMARC failure reports (RFC 6591): our own, and the three auth-failure ARF messages of the
 * sisimai corpus (`dsn/sisimai-set-of-emails/arf-18..20`), are read; its abuse reports are not
 * failure reports. The store keeps a report once per reporter and id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { corporaDir, corporaSkip } from '../../../test/helpers/paths.js';
import { parseDmarcReport, parseTlsReport, readReports } from './received-reports.js';
import { parseXml, unpack } from './report-files.js';
import { ReceivedReportStore } from './received-store.js';
import { buildTlsReport, tlsReportMessage } from './tls-report.js';
import { dmarcReportMessage } from './dmarc-report.js';
import { dmarcFailureMessage } from './dmarc-failure.js';
import { composeMessage } from '../../protocol/mime/compose-message.js';

const dmarcDir = join(corporaDir, 'auth', 'dmarc');

void test('Mail::DMARC: the same report as XML, gzip and ZIP reads the same', async (t) => {
  const skip = corporaSkip('auth/dmarc/mail-dmarc');
  if (skip) return t.skip(skip);
  const read = async (name: string): Promise<ReturnType<typeof parseDmarcReport>[]> => unpack(await readFile(join(dmarcDir, 'mail-dmarc', name))).map((f) => parseDmarcReport(f.data.toString('utf8')));
  const [plain] = await read('test_dmarc.xml');
  assert.deepEqual(plain, {
    org: 'Test Sender',
    reportId: '1234567890',
    domain: 'example.com',
    policy: 'none',
    begin: 1609459200,
    end: 1609545600,
    records: [{ sourceIp: '1.2.3.4', count: 1, disposition: 'none', dkim: 'pass', spf: 'pass', headerFrom: 'example.com' }],
  });
  assert.deepEqual(await read('test_dmarc.xml.gz'), [plain]);
  assert.deepEqual(await read('test_dmarc.xml.zip'), [plain]);
});

void test('OpenDMARC: three real 2012 reports read with every record; the broken AOL report is refused with a reason', async (t) => {
  const skip = corporaSkip('auth/dmarc/opendmarc');
  if (skip) return t.skip(skip);
  const files = (await readdir(join(dmarcDir, 'opendmarc'))).filter((f) => f.endsWith('.xml'));
  const counts: Record<string, number> = {};
  for (const f of files) {
    const text = await readFile(join(dmarcDir, 'opendmarc', f), 'latin1');
    if (f.startsWith('bad.com')) {
      assert.throws(() => parseDmarcReport(text), /XML: /);
      continue;
    }
    const r = parseDmarcReport(text);
    assert.equal(r.domain, 'example.com');
    assert.ok(r.begin > 1_300_000_000, 'float timestamps read as seconds');
    counts[f.split('!')[0]] = r.records.length;
  }
  assert.deepEqual(counts, { '163.com': 50, 'good.com': 754, 'yeah.net': 254 });
});

void test('malformed input: clear errors, never a crash', () => {
  assert.throws(() => parseXml('<a><b></a>'), /does not close/);
  assert.throws(() => parseXml('<a>'), /not closed/);
  assert.throws(() => parseXml('<a>&bogus;</a>'), /unknown entity/);
  assert.equal(parseXml('<x:a xmlns:x="u"><b>1 &lt; 2<![CDATA[ & ]]></b><!-- c --></x:a>').children[0].text, '1 < 2 & ');
  assert.throws(() => parseDmarcReport('<feedback><report_metadata/></feedback>'), /no report_metadata or policy_published domain/);
  assert.throws(() => parseDmarcReport('<feedback><report_metadata><date_range><begin>x</begin></date_range></report_metadata><policy_published><domain>a.test</domain></policy_published></feedback>'), /not a count/);
  assert.throws(() => parseTlsReport('{"policies": 3}'), /no policies/);
  assert.throws(() => unpack(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0])), /ZIP: no end of central directory/);
  assert.throws(() => unpack(Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(20)])));
});

void test('our own TLS and DMARC report messages are read back; a ZIP with a deflated entry too; the store keeps each report once', async () => {
  const meta = { domain: 'example.org', day: '2026-12-04', submitter: 'mx.sender.test', organization: 'Sender Org', contact: 'postmaster@sender.test', reportId: 'r-1' };
  const rows = [
    { domain: 'example.org', policyType: 'sts' as const, policyStrings: ['version: STSv1'], mxHost: 'mx.example.org', receivingIp: '192.0.2.1', result: 'success', info: '', count: 7 },
    { domain: 'example.org', policyType: 'sts' as const, policyStrings: ['version: STSv1'], mxHost: 'mx.example.org', receivingIp: '192.0.2.1', result: 'starttls-not-supported', info: '', count: 2 },
  ];
  const tlsMail = tlsReportMessage(buildTlsReport(rows, meta), meta, 'postmaster@sender.test', 'reports@example.org');
  const tls = await readReports(tlsMail);
  assert.deepEqual(tls.problems, []);
  assert.deepEqual(tls.tls, [{ org: 'Sender Org', reportId: 'r-1', begin: Date.parse('2026-12-04T00:00:00Z') / 1000, end: Date.parse('2026-12-04T23:59:59Z') / 1000, policies: [{ type: 'sts', domain: 'example.org', success: 7, failure: 2, failures: { 'starttls-not-supported': 2 } }] }]);

  const policy = { domain: 'example.org', adkim: 'r' as const, aspf: 'r' as const, p: 'reject', sp: 'reject', pct: 100, rua: ['mailto:reports@example.org'] };
  const dmarcRows = [{ count: 3, row: { sourceIp: '192.0.2.9', headerFrom: 'example.org', disposition: 'reject' as const, dkim: 'fail' as const, spf: 'fail' as const, dkimResults: [], spfResult: { domain: 'x.test', scope: 'mfrom' as const, result: 'fail' } } }];
  const dmarcMail = dmarcReportMessage(policy, dmarcRows, { day: '2026-12-04', orgName: 'mx.sender.test', email: 'postmaster@sender.test' }, 'mx.sender.test', 'postmaster@sender.test', 'reports@example.org');
  const dmarc = await readReports(dmarcMail);
  assert.deepEqual(dmarc.problems, []);
  assert.equal(dmarc.dmarc.length, 1);
  assert.equal(dmarc.dmarc[0].domain, 'example.org');
  assert.deepEqual(dmarc.dmarc[0].records, [{ sourceIp: '192.0.2.9', count: 3, disposition: 'reject', dkim: 'fail', spf: 'fail', headerFrom: 'example.org' }]);

  // a ZIP entry compressed with deflate (method 8), written here by hand (APPNOTE §4.3.7, §4.3.12)
  const xml = Buffer.from('<feedback><report_metadata><org_name>Zipper</org_name><report_id>z</report_id><date_range><begin>1</begin><end>2</end></date_range></report_metadata><policy_published><domain>example.org</domain><p>none</p></policy_published></feedback>');
  const packed = deflateRawSync(xml);
  const name = Buffer.from('r.xml');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(packed.length, 18);
  local.writeUInt32LE(xml.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(packed.length, 20);
  central.writeUInt32LE(xml.length, 24);
  central.writeUInt16LE(name.length, 28);
  central.writeUInt32LE(0, 42);
  const cdStart = local.length + name.length + packed.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12);
  end.writeUInt32LE(cdStart, 16);
  const zip = Buffer.concat([local, name, packed, central, name, end]);
  const zipMail = composeMessage({ from: [{ email: 'a@zipper.test' }], to: [{ email: 'reports@example.org' }], subject: 'Report Domain: example.org', attachments: [{ type: 'application/zip', data: zip, name: 'zipper!example.org!1!2.zip' }, { type: 'application/gzip', data: Buffer.from('not gzip'), name: 'broken.xml.gz' }], domain: 'zipper.test' });
  const zipped = await readReports(zipMail);
  assert.equal(zipped.dmarc[0].org, 'Zipper');
  assert.equal(zipped.problems.length, 1, 'the broken part is named, the good one kept');
  assert.match(zipped.problems[0], /^broken\.xml\.gz: /);

  const store = ReceivedReportStore.open(':memory:');
  assert.equal(store.addTls(tls.tls[0], 1000), true);
  assert.equal(store.addTls(tls.tls[0], 2000), false, 'the same report id from the same reporter is kept once');
  assert.equal(store.addDmarc(dmarc.dmarc[0], 1000), true);
  assert.equal(store.tlsSince(0).length, 1);
  assert.equal(store.dmarcSince(0)[0].report.records[0].count, 3);
  assert.equal(store.dmarcSince(Date.parse('2030-01-01') / 1000).length, 0);
  store.close();
});

void test('DMARC failure reports (RFC 6591): ours and three real ones are read and kept once; abuse reports are not failure reports', async (t) => {
  const header = 'From: Ana <ana@example.org>\r\nSubject: forged\r\nMessage-ID: <m1@x.test>\r\n\r\n';
  const ours = dmarcFailureMessage(
    { domain: 'example.org', headerFrom: 'example.org', ruf: ['mailto:ruf@example.org'], sourceIp: '192.0.2.7', mailFrom: 'x@bad.test', authResults: 'mx.test; spf=fail; dmarc=fail header.from=example.org', delivery: 'reject', unaligned: ['dkim', 'spf'], header, at: Date.parse('2026-12-04T10:00:00Z') },
    'mx.test', 'postmaster@mx.test', 'ruf@example.org',
  );
  const read = await readReports(ours);
  assert.deepEqual(read.dmarc, []);
  assert.equal(read.failures.length, 1);
  const f = read.failures[0];
  assert.deepEqual({ ...f, reportId: '' }, {
    reporter: 'postmaster@mx.test', reportId: '', domain: 'example.org', sourceIp: '192.0.2.7', arrival: Date.parse('2026-12-04T10:00:00Z') / 1000,
    authFailure: 'dmarc', delivery: 'reject', mailFrom: 'x@bad.test', authResults: 'mx.test; spf=fail; dmarc=fail header.from=example.org',
    alignment: 'dkim, spf', from: 'Ana <ana@example.org>', subject: 'forged', messageId: '<m1@x.test>',
  });
  assert.match(f.reportId, /^<[0-9a-f]+@mx\.test>$/);

  const store = ReceivedReportStore.open(':memory:');
  assert.equal(store.addFailure(f, 5000), true);
  assert.equal(store.addFailure(f, 6000), false, 'the same report from the same reporter is kept once');
  assert.deepEqual(store.failuresSince(0).map((x) => x.report), [f]);
  assert.equal(store.failuresSince(10).length, 0, 'received before the window');
  store.close();

  const skip = corporaSkip('dsn/sisimai-set-of-emails');
  if (skip) return t.skip(skip);
  const sisimai = (n: string): Promise<Buffer> => readFile(join(corporaDir, 'dsn', 'sisimai-set-of-emails', n));
  const real = await Promise.all(['arf-18.eml', 'arf-19.eml', 'arf-20.eml'].map(async (n) => (await readReports(await sisimai(n))).failures));
  assert.deepEqual(real.map((r) => r.map((x) => [x.reporter, x.domain, x.sourceIp, x.authFailure, x.mailFrom, x.messageId])), [
    [['dmarc-noreply@example.com', 'example.net', '192.0.2.222', 'dmarc', 'sironeko@example.org', '<000000002.2222222.1500000000022@example.net>']],
    [['abuse@126.example.com', 'example.net', '203.0.113.2', '', 'sironeko@neko.example.com', '<000000000.2222222.0000000000002@example.net>']],
    [['opendmarc-postmaster@example.net', 'example.net', '203.0.113.2', 'dmarc', 'dmarc-bounces@ietf.example.org', '<000000000eee@example.net>']],
  ]);
  assert.equal(real[0][0].arrival, Date.parse('2015-04-29T23:34:45Z') / 1000);
  for (const n of ['arf-01.eml', 'arf-16.eml']) assert.deepEqual((await readReports(await sisimai(n))).failures, [], `${n} is an abuse report`);
});
