/**
 * t-89 (issue 14, quota): local delivery over a mailbox quota defers with 452 4.2.2, and when it
 * persists the sender gets DSNs: one delay warning, then at the end of max_queue_lifetime a
 * failure report carrying the last reply. The message reaches the queue through an alias whose
 * other member has room (a recipient whose mailboxes are all full would be refused at RCPT).
 * Standards: RFC 3463 X.2.2 (mailbox full, persistent transient), X.4.7 (delivery time
 *   expired); RFC 3464 (DSN); RFC 3461 §4.1 (delay warnings).
 * Security: loopback only.
 * Limitations: the queue's times are shortened (retry 1 s, warning 2 s, lifetime 5 s).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCliOk } from '../helpers/cli.js';
import { sendMail, siteEnvelopes, startSite, waitFor, type Site } from '../helpers/site.js';
import { parseDsn } from '../../src/protocol/mime/parse-dsn.js';

let site: Site;

const cli = (...args: string[]): Promise<string> => runCliOk(site.configFile, ...args);

before(async () => {
  site = await startSite({
    hostname: 'mx.dc.uece.br',
    domains: ['dc.uece.br'],
    users: ['helvecio@dc.uece.br', 'suzana@dc.uece.br', 'pascal@dc.uece.br'],
    delivery: { retry_min: '1s', retry_max: '1s', delay_warning: '2s', max_queue_lifetime: '5s' },
  });
  const r = await sendMail(site, 'helvecio@dc.uece.br', ['pascal@dc.uece.br'], 'Subject: primeira\n\nocupa a caixa\n');
  assert.match(r.final ?? '', /^250/);
  await site.waitForMessages('pascal@dc.uece.br', 1);
  await cli('user', 'quota', 'pascal@dc.uece.br', '--messages', '1');
  await cli('alias', 'set', 'equipe@dc.uece.br', 'pascal@dc.uece.br', 'suzana@dc.uece.br');
});
after(async () => {
  await site?.destroy();
});

void test('a full mailbox defers 4.2.2; the sender gets a delay warning, then a failure DSN with the 452 4.2.2 reply', async () => {
  const r = await sendMail(site, 'helvecio@dc.uece.br', ['equipe@dc.uece.br'], 'Subject: para a equipe\n\ncorpo\n');
  assert.match(r.final ?? '', /^250/);
  // the member with room gets it at once
  await site.waitForMessages('suzana@dc.uece.br', 1);

  const isFailure = (m: string): boolean => parseDsn(m)?.recipients[0]?.action === 'failed';
  const all = await waitFor('the failure report', async () => {
    const ms = await site.messages('helvecio@dc.uece.br');
    return ms.some(isFailure) ? ms : undefined;
  });
  const reports = all.map((m) => parseDsn(m)).filter((d) => d !== undefined);
  const delays = reports.filter((d) => d.recipients[0]?.action === 'delayed');
  assert.equal(delays.length, 1, 'exactly one delay warning');
  assert.equal(delays[0].recipients[0].finalRecipient, 'pascal@dc.uece.br');
  assert.equal(delays[0].recipients[0].status, '4.2.2');
  const failures = reports.filter((d) => d.recipients[0]?.action === 'failed');
  assert.equal(failures.length, 1, 'exactly one failure report');
  const [f] = failures[0].recipients;
  assert.equal(f.finalRecipient, 'pascal@dc.uece.br');
  assert.match(f.status, /^[45]\.4\.7$/, 'delivery time expired (RFC 3463 X.4.7)');
  assert.match(f.diagnostic ?? '', /452 4\.2\.2 Mailbox full/);

  // pascal's mailbox still holds only its first message; the spool is empty
  assert.equal((await site.messages('pascal@dc.uece.br')).length, 1);
  await waitFor('an empty spool', async () => (await siteEnvelopes(site)).length === 0);
});
