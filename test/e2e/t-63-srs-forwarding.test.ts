/**
 * t-63: SRS for forwarding between two correio sites (issue 15). S1 (s1.test, 127.0.0.2) has
 * `[mail_auth] srs = true` and aliases that forward to S2 (s2.test, 127.0.0.3); S2 checks SPF
 * (`verify_inbound`) with a real DNS server where s3.test's SPF allows only 127.0.0.4 (the
 * original sender's site) and s1.test's allows 127.0.0.1 (where S1's deliveries come from).
 * Checks: the forwarded message reaches S2 with an SRS0 reverse-path in s1.test and
 * `spf=pass` (the same sender sent directly from S1's address fails SPF there); a bounce of
 * forwarded mail (S2 refusing the target) comes back to the original sender at S3; a bounce sent
 * over SMTP to a valid SRS address is reversed and delivered, a forged or expired one refused
 * 550 5.1.1. Shevek's SRS, RFC 7208 §1.2.3, RFC 3464.
 */
import { after, before, test } from 'node:test';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { startMxSites, type MxSites } from '../helpers/mx-sites.js';
import { sendMail, type Site } from '../helpers/site.js';
import { parseDsn } from '../../src/protocol/mime/parse-dsn.js';
import { Srs } from '../../src/policy/index.js';

const SECRET = 'a test secret of some length';
let mx: MxSites;
let s1: Site;
let s2: Site;
let s3: Site;

before(async () => {
  mx = await startMxSites(
    [
      {
        domain: 's1.test',
        ip: '127.0.0.2',
        aliases: { 'fwd@s1.test': ['rcpt@s2.test'], 'fwdgone@s1.test': ['nobody@s2.test'] },
        tables: `[mail_auth]\nsrs = true\nsrs_secret = "${SECRET}"\n`,
      },
      {
        domain: 's2.test',
        ip: '127.0.0.3',
        users: ['rcpt@s2.test'],
        // S1 delivers from 127.0.0.1: it must not count as trusted here, or nothing is checked
        smtp: { trusted_networks: ['192.0.2.0/24'] },
        // srs without a secret: one is generated into data_dir/srs-secret
        tables: '[mail_auth]\nverify_inbound = true\nsrs = true\n',
      },
      { domain: 's3.test', ip: '127.0.0.4', users: ['alice@s3.test'] },
    ],
    { retry_min: '1s', retry_max: '1s', smtp_timeout: '5s' },
  );
  [s1, s2, s3] = mx.sites;
  mx.dns.zone['s3.test'] = { ...mx.dns.zone['s3.test'], txt: ['v=spf1 ip4:127.0.0.4 -all'] };
  mx.dns.zone['s1.test'] = { ...mx.dns.zone['s1.test'], txt: ['v=spf1 ip4:127.0.0.1 -all'] };
});
after(async () => mx?.destroy());

const authResults = (msg: string): string => /^Authentication-Results: mx\.s2\.test;[^\n]*(\n[ \t][^\n]*)*/m.exec(msg.replace(/\r\n/g, '\n'))?.[0] ?? '';

void test('a forwarded message arrives with an SRS0 reverse-path in s1.test and passes SPF at S2', async () => {
  const r = await sendMail(s1, 'alice@s3.test', ['fwd@s1.test'], 'From: alice@s3.test\nTo: fwd@s1.test\nSubject: via s1\n\nforwarded\n', { localAddress: '127.0.0.4' });
  assert.match(r.final ?? '', /^250/);
  const [msg] = await s2.waitForMessages('rcpt@s2.test', 1);
  const returnPath = /^Return-Path: <([^>]*)>/m.exec(msg)?.[1] ?? '';
  assert.match(returnPath, /^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=s3\.test=alice@s1\.test$/);
  const ar = authResults(msg);
  assert.match(ar, /spf=pass/, ar);
  // RFC 8601 §2.2: a value with '=' is written as a quoted-string
  assert.ok(ar.includes(`smtp.mailfrom="${returnPath}"`), ar);
});

void test('without SRS the same sender from S1\'s address fails SPF at S2 (the check can fail)', async () => {
  const r = await sendMail(s2, 'alice@s3.test', ['rcpt@s2.test'], 'From: alice@s3.test\nSubject: direct\n\nno srs\n', { localAddress: '127.0.0.1' });
  assert.match(r.final ?? '', /^250/);
  const msgs = await s2.waitForMessages('rcpt@s2.test', 2);
  const direct = msgs.find((m) => m.includes('Subject: direct'));
  assert.ok(direct);
  assert.match(authResults(direct), /spf=fail/);
});

void test('a bounce of forwarded mail returns to the original sender at S3', async () => {
  const r = await sendMail(s1, 'alice@s3.test', ['fwdgone@s1.test'], 'From: alice@s3.test\nTo: fwdgone@s1.test\nSubject: to nobody\n\nbounce me\n', { localAddress: '127.0.0.4' });
  assert.match(r.final ?? '', /^250/);
  const [bounce] = await s3.waitForMessages('alice@s3.test', 1);
  const dsn = parseDsn(bounce);
  assert.ok(dsn, `an RFC 3464 report:\n${bounce}`);
  assert.equal(dsn.recipients[0].action, 'failed');
  assert.match(dsn.recipients[0].finalRecipient, /nobody@s2\.test/i);
  assert.match(bounce, /Subject: to nobody/);
  assert.match(bounce, /^Return-Path: <>/m);
});

void test('a bounce over SMTP to a valid SRS address is delivered to the original sender; forged and expired ones are refused', async () => {
  const srs = new Srs({ secrets: [SECRET], domain: 's1.test', maxAgeDays: 21, keepDomains: ['s1.test'] });
  const valid = srs.forward({ local: 'alice', domain: 's3.test' });
  const before = (await s3.messages('alice@s3.test')).length;
  const dsnText = 'From: MAILER-DAEMON@s2.test\nTo: alice@s3.test\nSubject: Undelivered Mail (srs test)\n\nreturned\n';
  const ok = await sendMail(s1, '', [`${valid.local}@s1.test`], dsnText, { localAddress: '127.0.0.3' });
  assert.match(ok.rcpt[0], /^250/);
  assert.match(ok.final ?? '', /^250/);
  const all = await s3.waitForMessages('alice@s3.test', before + 1);
  assert.ok(all.some((m) => m.includes('Subject: Undelivered Mail (srs test)')));

  const forged = valid.local.replace(/^SRS0=..../, 'SRS0=AAAA');
  const old = new Srs({ secrets: [SECRET], domain: 's1.test', maxAgeDays: 21, keepDomains: [], now: () => Date.now() - 30 * 86_400_000 }).forward({ local: 'alice', domain: 's3.test' });
  const refused = await sendMail(s1, '', [`${forged}@s1.test`, `${old.local}@s1.test`], dsnText, { localAddress: '127.0.0.3' });
  assert.match(refused.rcpt[0], /^550 5\.1\.1 Invalid SRS address \(hash\)/);
  assert.match(refused.rcpt[1], /^550 5\.1\.1 Invalid SRS address \(expired\)/);
  assert.equal(refused.final, undefined);
});

void test('without srs_secret the secret is generated once into data_dir/srs-secret, mode 0600', () => {
  const file = join(s2.dataDir, 'srs-secret');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(readFileSync(file, 'utf8').trim().length >= 32);
});
