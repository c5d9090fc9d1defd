/**
 * t-69: the list sealer reads its keys again at a reload (issue 15). A site with a list and no
 * DKIM key sends list copies without an ARC set; after `correio dkim keygen`'s key is made for
 * the list's domain and the configuration is reloaded (what SIGHUP and `correio reload` do),
 * the next copy carries an ARC set and the list domain's DKIM signature, without a restart.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSite, sendMail, type Site } from '../helpers/site.js';
import { generateDkimKey } from '../../src/policy/index.js';

const sites: Site[] = [];
after(async () => {
  for (const s of sites) await s.destroy();
});

void test('a key made while serving seals list copies after a reload', async () => {
  const site = await startSite({ users: ['owner@localhost', 'bob@localhost'] });
  sites.push(site);
  const directory = site.app?.backends.directory;
  assert.ok(directory);
  await directory.createList('team@localhost', 'owner@localhost', 'the team');
  await directory.addListMembers('team@localhost', ['bob@localhost']);

  const before = await sendMail(site, 'owner@localhost', ['team@localhost'], 'From: owner@localhost\nSubject: before\n\nno key yet\n');
  assert.match(before.final ?? '', /^250 /);
  const [first] = await site.waitForMessages('bob@localhost', 1);
  assert.doesNotMatch(first, /^ARC-Seal:/m, 'no key: no seal');

  generateDkimKey(site.dataDir, 'localhost', 'list', 'rsa-2048');
  assert.equal((await site.app!.reload()).ok, true);
  const after = await sendMail(site, 'owner@localhost', ['team@localhost'], 'From: owner@localhost\nSubject: after\n\nkey made\n');
  assert.match(after.final ?? '', /^250 /);
  const copies = await site.waitForMessages('bob@localhost', 2);
  const sealed = copies.find((m) => /^Subject: .*after/m.test(m)) ?? '';
  assert.match(sealed, /^ARC-Seal: i=1; a=rsa-sha256; .*d=localhost; s=list/m);
  assert.match(sealed, /^DKIM-Signature: .*d=localhost/m);
});
