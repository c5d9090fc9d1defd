/**
 * t-68 (received): reports other sites send us (issue 15). A site with `[reports] receive =
 * ["reports@example.org"]` gets, over SMTP, a TLS report as RFC 8460 §5.3 mails it (made by
 * correio's own sender), a DMARC aggregate report zipped (Mail::DMARC's fixture from the
 * shared corpus) and a DMARC failure report (RFC 6591, as correio's own sender makes it); all
 * stay in the mailbox and are listed by `correio tls-report list` and `correio dmarc report
 * --records` (`correio dmarc-report list` is the same command). The same DMARC mail to another
 * user is not read, and a report sent twice is listed once. A bad `--days` is a usage error (64).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSite, sendMail, type Site } from '../helpers/site.js';
import { runCli } from '../helpers/cli.js';
import { corporaDir, corporaSkip } from '../helpers/paths.js';
import { buildTlsReport, dmarcFailureMessage, tlsReportMessage } from '../../src/policy/index.js';
import { composeMessage } from '../../src/protocol/mime/compose-message.js';

let site: Site | undefined;

before(async () => {
  site = await startSite({ domains: ['example.org'], users: ['reports@example.org', 'other@example.org'], tables: '[reports]\nreceive = ["Reports@example.org"]\n' });
});
after(async () => {
  await site?.destroy();
});

async function send(to: string, message: Buffer): Promise<void> {
  const r = await sendMail(site!, 'postmaster@sender.test', [to], message.toString('latin1'));
  assert.match(r.final ?? '', /^250 /);
}

void test('a TLS report, a zipped DMARC report and a DMARC failure report delivered to the receive address are listed; other recipients are not read', async (t) => {
  const skip = corporaSkip('auth/dmarc/mail-dmarc');
  if (skip) return t.skip(skip);
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const meta = { domain: 'example.org', day, submitter: 'mx.sender.test', organization: 'Sender Org', contact: 'postmaster@sender.test', reportId: 'tls-1' };
  const rows = [
    { domain: 'example.org', policyType: 'sts' as const, policyStrings: ['version: STSv1', 'mode: enforce'], mxHost: 'mx.example.org', receivingIp: '192.0.2.1', result: 'success', info: '', count: 12 },
    { domain: 'example.org', policyType: 'sts' as const, policyStrings: ['version: STSv1', 'mode: enforce'], mxHost: 'mx.example.org', receivingIp: '192.0.2.1', result: 'certificate-expired', info: '', count: 3 },
  ];
  await send('reports@example.org', tlsReportMessage(buildTlsReport(rows, meta), meta, 'postmaster@sender.test', 'reports@example.org'));
  const zip = await readFile(join(corporaDir, 'auth', 'dmarc', 'mail-dmarc', 'test_dmarc.xml.zip'));
  const dmarcMail = composeMessage({ from: [{ email: 'noreply@test.example' }], to: [{ email: 'reports@example.org' }], subject: 'Report Domain: example.com Submitter: test.example Report-ID: <1234567890>', attachments: [{ type: 'application/zip', data: zip, name: 'test.example!example.com!1609459200!1609545600.zip' }], domain: 'test.example' });
  await send('reports@example.org', dmarcMail);
  await send('reports@example.org', dmarcMail);
  const at = Date.now() - 60_000;
  const failure = { domain: 'example.org', headerFrom: 'example.org', ruf: ['mailto:reports@example.org'], sourceIp: '192.0.2.66', mailFrom: 'x@forger.test', authResults: 'mx.sender.test; spf=fail; dmarc=fail header.from=example.org', delivery: 'reject' as const, unaligned: ['dkim' as const, 'spf' as const], header: 'From: <ceo@example.org>\r\nSubject: pay now\r\n', at };
  await send('reports@example.org', dmarcFailureMessage(failure, 'mx.sender.test', 'postmaster@sender.test', 'reports@example.org'));
  await send('other@example.org', composeMessage({ from: [{ email: 'x@other.test' }], to: [{ email: 'other@example.org' }], subject: 'another', attachments: [{ type: 'application/zip', data: zip, name: 'other.zip' }], domain: 'other.test' }));
  await site!.waitForMessages('reports@example.org', 4);
  await site!.waitForMessages('other@example.org', 1);

  const tls = await runCli(['--config', site!.configFile, 'tls-report', 'list']);
  assert.equal(tls.code, 0, tls.stderr);
  assert.equal(tls.stdout.trim(), `${day} example.org from Sender Org: sts 12 successful, 3 failed (certificate-expired 3) report tls-1`);

  // the corpus report covers 2021-01-01: asked for enough days
  const dmarc = await runCli(['--config', site!.configFile, 'dmarc', 'report', '--days', '3660', '--records']);
  assert.equal(dmarc.code, 0, dmarc.stderr);
  const failureLine = `${new Date(Math.floor(at / 1000) * 1000).toISOString().slice(0, 16).replace('T', ' ')} example.org failure from postmaster@sender.test: 192.0.2.66 dmarc failed, reject, unaligned dkim, spf mail from x@forger.test From: <ceo@example.org> Subject: pay now`;
  assert.deepEqual(dmarc.stdout.trim().split('\n'), [
    '2021-01-01..2021-01-02 example.com from Test Sender: 1 messages, 1 pass, 0 fail (p=none) report 1234567890',
    '  1.2.3.4 ×1 none dkim=pass spf=pass from example.com',
    failureLine,
  ], 'listed once although received twice; the other user\'s zip is not read');
  // the 2021 aggregate report is outside the last 30 days; the failure report, received now, is not
  const recent = await runCli(['--config', site!.configFile, 'dmarc-report', 'list']);
  assert.equal(recent.stdout.trim(), failureLine);
  const bad = await runCli(['--config', site!.configFile, 'dmarc-report', 'list', '--days', 'many']);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /--days: expected a number of days from 1 to 3660/);
});
