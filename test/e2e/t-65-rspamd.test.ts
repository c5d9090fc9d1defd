/**
 * t-65 (rspamd): the content scan by a real rspamd (Debian's package, started on loopback by
 * test/helpers/rspamd.ts; the tests skip with a message when it is missing or does not start).
 * A site with `[policy] rspamd_url` refuses GTUBE at the end of data with 550 5.7.1 (nothing
 * delivered) and delivers ordinary mail with rspamd's action and score in the header, and a
 * forged `X-Spam` field removed, and a body over 64 KB (streamed into the spool, read back from
 * there for rspamd) scanned too; a site whose rspamd is down still takes mail (fail open), and
 * with `rspamd_failure = "defer"` answers 451 4.7.1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSite, sendMail, type Site } from '../helpers/site.js';
import { startRspamd, type RspamdPeer } from '../helpers/rspamd.js';
import { freePort } from '../helpers/net.js';

// the GTUBE line (rspamd's and SpamAssassin's test pattern), split so that this file is not spam
const GTUBE = ['XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD', '-ANTI-UBE-TEST-EMAIL*C.34X'].join('');
let rspamd: RspamdPeer | string = 'not started';
const sites: Site[] = [];
// the client connects from 127.0.0.9, outside trusted_networks: a stranger, whose mail is scanned
const stranger = { localAddress: '127.0.0.9' };
const smtp = { trusted_networks: ['127.0.0.1/32'] };

before(async () => {
  rspamd = await startRspamd();
});
after(async () => {
  for (const s of sites) await s.destroy();
  if (typeof rspamd !== 'string') await rspamd.close();
});

void test('GTUBE is refused 550 5.7.1 at the end of data; ordinary mail is delivered with the action and score', async (t) => {
  if (typeof rspamd === 'string') return t.skip(rspamd);
  const site = await startSite({ users: ['u@localhost'], smtp, tables: `[policy]\nrspamd_url = "${rspamd.url}"\n# a loaded machine: rspamd may still be compiling its expressions\nrspamd_timeout = "120s"\n` });
  sites.push(site);
  const spam = await sendMail(site, 'spammer@spam.test', ['u@localhost'], `From: spammer@spam.test\nTo: u@localhost\nSubject: buy\n\n${GTUBE}\n`, stranger);
  assert.match(spam.final ?? '', /^550 5\.7\.1 Message rejected as spam/);
  const ham = await sendMail(site, 'friend@ham.test', ['u@localhost'], 'From: Friend <friend@ham.test>\nTo: u@localhost\nSubject: lunch\nX-Spam: No\n\nSee you at noon.\n', stranger);
  assert.match(ham.final ?? '', /^250 /);
  const [m] = await site.waitForMessages('u@localhost', 1);
  assert.match(m, /^X-Rspamd-Action: (no action|add header|rewrite subject)$/m);
  assert.match(m, /^X-Rspamd-Score: -?\d+\.\d\d \/ \d+\.\d\d$/m);
  assert.doesNotMatch(m, /^X-Spam: No$/m, 'the sender\'s X-Spam field is removed');
  assert.doesNotMatch(m, /GTUBE/, 'the refused message was not delivered');
  // a body over 64 KB streams into the spool: rspamd gets it read back from there, whole
  const lines = Array.from({ length: 3000 }, (_, i) => `Line ${i} of the quarterly report, nothing to see here.`).join('\n');
  const big = await sendMail(site, 'friend@ham.test', ['u@localhost'], `From: Friend <friend@ham.test>\nTo: u@localhost\nSubject: report\n\n${lines}\n`, stranger);
  assert.match(big.final ?? '', /^250 /);
  const all = await site.waitForMessages('u@localhost', 2);
  const report = all.find((x) => /^Subject: report$/m.test(x)) ?? '';
  assert.ok(report.length > 150_000, `the big message was delivered whole (${report.length} octets)`);
  assert.match(report, /^X-Rspamd-Action: (no action|add header|rewrite subject|greylist)$/m, 'rspamd answered for the spooled body');
});

void test('rspamd down: mail flows (fail open), or 451 4.7.1 with rspamd_failure = "defer"', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const open = await startSite({ users: ['u@localhost'], smtp, tables: `[policy]\nrspamd_url = "${dead}"\nrspamd_timeout = "2s"\n` });
  sites.push(open);
  const r = await sendMail(open, 'a@b.test', ['u@localhost'], 'From: a@b.test\nSubject: x\n\nx\n', stranger);
  assert.match(r.final ?? '', /^250 /);
  const [m] = await open.waitForMessages('u@localhost', 1);
  assert.match(m, /^X-Rspamd-Action: unavailable/m);
  const closed = await startSite({ users: ['u@localhost'], smtp, tables: `[policy]\nrspamd_url = "${dead}"\nrspamd_failure = "defer"\n` });
  sites.push(closed);
  const d = await sendMail(closed, 'a@b.test', ['u@localhost'], 'From: a@b.test\nSubject: x\n\nx\n', stranger);
  assert.match(d.final ?? '', /^451 4\.7\.1 /);
});
