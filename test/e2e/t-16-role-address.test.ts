/**
 * t-16: the seed's role address (§2: a directory maps mail names, including roles such as
 * "head of department", to mailboxes independent of hosts; issue 4). chefe-de-departamento at
 * dc.uece.br follows the current holder: mail sent from another site (found through a real DNS
 * server) goes to suzana while she holds the role; once the holder changes to pascal, the next
 * message goes to pascal, at once, with no restart; and to a holder at another site, forwarded.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMxSites, type MxSites } from '../helpers/mx-sites.js';
import { sendMail, siteEnvelopes, waitFor, type Site } from '../helpers/site.js';

let mx: MxSites;
let s1: Site;
let s2: Site;
const role = 'chefe-de-departamento@dc.uece.br';

before(async () => {
  mx = await startMxSites(
    [
      { domain: 'dsc.ufpb.br', ip: '127.0.0.2', users: ['helvecio@dsc.ufpb.br'] },
      { domain: 'dc.uece.br', ip: '127.0.0.3', users: ['suzana@dc.uece.br', 'pascal@dc.uece.br'] },
    ],
    { retry_min: '1s', retry_max: '1s', smtp_timeout: '5s' },
  );
  [s1, s2] = mx.sites;
});
after(async () => mx?.destroy());

async function sendToRole(subject: string): Promise<void> {
  const r = await sendMail(s1, 'helvecio@dsc.ufpb.br', [role], `From: helvecio@dsc.ufpb.br\nTo: ${role}\nSubject: ${subject}\n\npara a chefia\n`, {
    localAddress: '127.0.0.2',
  });
  assert.match(r.final ?? '', /^250/);
}

void test('chefe-de-departamento follows the current holder', async () => {
  const directory = s2.app?.backends.directory;
  assert.ok(directory);
  await directory.setRole(role, 'suzana@dc.uece.br', 'chefe do departamento de computação');

  await sendToRole('primeira');
  const [first] = await s2.waitForMessages('suzana@dc.uece.br', 1);
  assert.match(first, /^Subject: primeira$/m);
  assert.match(first, /^Delivered-To: suzana@dc\.uece\.br$/m);
  await waitFor('S1 empty', async () => (await siteEnvelopes(s1)).length === 0);
  await waitFor('S2 empty', async () => (await siteEnvelopes(s2)).length === 0);

  // the department elects a new head
  await directory.setRole(role, 'pascal@dc.uece.br');
  await sendToRole('segunda');
  const [second] = await s2.waitForMessages('pascal@dc.uece.br', 1);
  assert.match(second, /^Subject: segunda$/m);
  await waitFor('S2 empty', async () => (await siteEnvelopes(s2)).length === 0);
  const suzana = await s2.messages('suzana@dc.uece.br');
  assert.equal(suzana.length, 1, 'suzana no longer gets the role mail');
  assert.deepEqual(await s1.mailbox('helvecio@dsc.ufpb.br'), [], 'no bounce');

  // a holder at another site (on leave, say, at UFPB): the role's mail is forwarded there
  await directory.setRole(role, 'helvecio@dsc.ufpb.br');
  await sendToRole('terceira');
  const [third] = await s1.waitForMessages('helvecio@dsc.ufpb.br', 1);
  assert.match(third, /^Subject: terceira$/m);
  assert.match(third, /^Delivered-To: helvecio@dsc\.ufpb\.br$/m);
  await waitFor('both spools empty', async () => (await siteEnvelopes(s1)).length + (await siteEnvelopes(s2)).length === 0);
  assert.equal((await s2.messages('pascal@dc.uece.br')).length, 1);
});
