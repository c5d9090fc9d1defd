/**
 * t-15: the seed's §2.1 loop between two sites with conflicting aliases (issue 4). S1
 * (127.0.0.2) maps estacao123 to estacaoBD@S2; S2 (127.0.0.3) maps estacaoBD to estacao123@S1;
 * both are found through the MX records of a real DNS server. One message to estacao123@S1 from
 * a user at a third site S3 (127.0.0.4) ends, within seconds, in exactly one bounce (5.4.6 mail
 * loop detected) to that sender, and every queue is empty afterwards. RFC 5321 §6.3 (loop
 * detection by counting Received fields), max_hops.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMxSites, type MxSites } from '../helpers/mx-sites.js';
import { sendMail, siteEnvelopes, waitFor, type Site } from '../helpers/site.js';
import { parseDsn } from '../../src/protocol/mime/parse-dsn.js';

let mx: MxSites;
let s1: Site;
let s2: Site;
let s3: Site;

before(async () => {
  mx = await startMxSites(
    [
      { domain: 's1.test', ip: '127.0.0.2', users: ['operador@s1.test'], aliases: { 'estacao123@s1.test': ['estacaoBD@s2.test'] } },
      { domain: 's2.test', ip: '127.0.0.3', aliases: { 'estacaoBD@s2.test': ['estacao123@s1.test'] } },
      { domain: 's3.test', ip: '127.0.0.4', users: ['remetente@s3.test'] },
    ],
    // max_hops is left at its default (50): the loop is caught within seconds all the same
    { retry_min: '1s', retry_max: '1s', smtp_timeout: '5s' },
  );
  [s1, s2, s3] = mx.sites;
});
after(async () => mx?.destroy());

void test('a message to estacao123@S1 ends in exactly one bounce to the sender; all queues empty', async () => {
  const r = await sendMail(s3, 'remetente@s3.test', ['estacao123@s1.test'], 'From: remetente@s3.test\nTo: estacao123@s1.test\nSubject: laco\n\nvai e volta\n', {
    localAddress: '127.0.0.4',
  });
  assert.match(r.final ?? '', /^250/);

  const [bounce] = await s3.waitForMessages('remetente@s3.test', 1);
  const dsn = parseDsn(bounce);
  assert.ok(dsn, `an RFC 3464 report:\n${bounce}`);
  assert.equal(dsn.recipients.length, 1);
  const [rec] = dsn.recipients;
  assert.equal(rec.action, 'failed');
  assert.equal(rec.status, '5.4.6', 'mail loop detected');
  assert.match(rec.finalRecipient, /^(estacao123@s1\.test|estacaobd@s2\.test)$/i);
  assert.match(bounce, /Subject: laco/);

  const all = [s1, s2, s3];
  await waitFor('every queue empty', async () => {
    for (const s of all) if ((await siteEnvelopes(s)).length > 0) return false;
    return true;
  });
  // exactly one bounce, and nothing went to postmaster anywhere (no bounce of the bounce)
  assert.equal((await s3.messages('remetente@s3.test')).length, 1, 'exactly one bounce');
  for (const [s, d] of [[s1, 's1.test'], [s2, 's2.test'], [s3, 's3.test']] as const) {
    assert.deepEqual(await s.mailbox(`postmaster@${d}`), [], `nothing for postmaster@${d}`);
  }
});

void test('the same loop started by a user at S1 itself: one bounce to that user, queues empty', async () => {
  const r = await sendMail(s1, 'operador@s1.test', ['estacao123@s1.test'], 'From: operador@s1.test\nSubject: laco local\n\nvai e volta\n', {
    localAddress: '127.0.0.2',
  });
  assert.match(r.final ?? '', /^250/);
  const [bounce] = await s1.waitForMessages('operador@s1.test', 1);
  const dsn = parseDsn(bounce);
  assert.ok(dsn, `an RFC 3464 report:\n${bounce}`);
  assert.equal(dsn.recipients.length, 1);
  assert.equal(dsn.recipients[0].action, 'failed');
  assert.equal(dsn.recipients[0].status, '5.4.6');
  await waitFor('every queue empty', async () => {
    for (const s of [s1, s2, s3]) if ((await siteEnvelopes(s)).length > 0) return false;
    return true;
  });
  assert.equal((await s1.messages('operador@s1.test')).length, 1, 'exactly one bounce');
  assert.deepEqual(await s1.mailbox('postmaster@s1.test'), []);
  assert.deepEqual(await s2.mailbox('postmaster@s2.test'), []);
});
