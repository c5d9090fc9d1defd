/**
 * t-17: a mailing list ("mail exploder", seed §2) with local and remote members (issue 4;
 * RFC 2369, RFC 2919; RFC 5321 §3.9.2: the list's owner becomes the envelope sender). maria at
 * S1 (127.0.0.2) writes to todos@dc.uece.br at S2 (127.0.0.3), found through a real DNS server.
 * The list has a local member (suzana), a remote member at S1 (helvecio) and a remote member
 * that does not exist (ghost@dsc.ufpb.br), and one that S1 accepts but cannot deliver (cheio,
 * an alias at S1 to a domain that does not exist). Every copy carries List-Id, List-Post and
 * List-Unsubscribe and the owner address as envelope sender; both bounces — the one S2 writes
 * for ghost and the one S1 sends back over SMTP to the owner address — reach the list owner
 * (pascal), not maria.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startMxSites, type MxSites } from '../helpers/mx-sites.js';
import { sendMail, siteEnvelopes, waitFor, type Site } from '../helpers/site.js';
import { parseDsn } from '../../src/protocol/mime/parse-dsn.js';

let mx: MxSites;
let s1: Site;
let s2: Site;
const list = 'todos@dc.uece.br';

before(async () => {
  mx = await startMxSites(
    [
      { domain: 'dsc.ufpb.br', ip: '127.0.0.2', users: ['helvecio@dsc.ufpb.br', 'maria@dsc.ufpb.br'], aliases: { 'cheio@dsc.ufpb.br': ['alguem@nao-existe.test'] } },
      { domain: 'dc.uece.br', ip: '127.0.0.3', users: ['suzana@dc.uece.br', 'pascal@dc.uece.br'] },
    ],
    { retry_min: '1s', retry_max: '1s', smtp_timeout: '5s' },
  );
  [s1, s2] = mx.sites;
  const directory = s2.app?.backends.directory;
  assert.ok(directory);
  await directory.createList(list, 'pascal@dc.uece.br', 'todo o departamento');
  await directory.addListMembers(list, ['suzana@dc.uece.br', 'helvecio@dsc.ufpb.br', 'ghost@dsc.ufpb.br', 'cheio@dsc.ufpb.br']);
});
after(async () => mx?.destroy());

void test('local and remote members get a copy with List-* headers from the owner; the remote bounce goes to the owner', async () => {
  const r = await sendMail(s1, 'maria@dsc.ufpb.br', [list], `From: maria@dsc.ufpb.br\nTo: ${list}\nSubject: aviso geral\n\nreuniao amanha\n`, {
    localAddress: '127.0.0.2',
  });
  assert.match(r.final ?? '', /^250/);

  const [local] = await s2.waitForMessages('suzana@dc.uece.br', 1);
  const [remote] = await s1.waitForMessages('helvecio@dsc.ufpb.br', 1);
  for (const m of [local, remote]) {
    // the owner address (LIST-owner, possibly VERP-tagged) is the envelope sender
    assert.match(m, /^Return-Path: <todos-owner(\+[^@>]*)?@dc\.uece\.br>$/m);
    assert.match(m, /^List-Id: .*<todos\.dc\.uece\.br>$/m);
    assert.match(m, /^List-Post: <mailto:todos@dc\.uece\.br>$/m);
    assert.match(m, /^List-Unsubscribe: .*<mailto:[^>]+>/m);
    assert.match(m, /^From: maria@dsc\.ufpb\.br$/m, 'the author stays in From');
    assert.match(m, /^Subject: aviso geral$/m);
  }

  // ghost does not exist at S1: S1 refuses it at RCPT and S2 bounces to the list owner; cheio
  // is accepted by S1, fails there (NXDOMAIN), and S1 bounces to the owner address over SMTP
  const bounces = await s2.waitForMessages('pascal@dc.uece.br', 2);
  const byRcpt = new Map(bounces.map((b) => {
    const dsn = parseDsn(b);
    assert.ok(dsn, `an RFC 3464 report:\n${b}`);
    assert.equal(dsn.recipients.length, 1);
    assert.match(b, /^Return-Path: <>$/m);
    return [dsn.recipients[0].finalRecipient, { dsn, rec: dsn.recipients[0] }] as const;
  }));
  const ghost = byRcpt.get('ghost@dsc.ufpb.br');
  assert.ok(ghost, [...byRcpt.keys()].join(', '));
  assert.equal(ghost.dsn.reportingMta, 'mx.dc.uece.br');
  assert.equal(ghost.rec.action, 'failed');
  assert.equal(ghost.rec.status, '5.1.1');
  assert.equal(ghost.rec.remoteMta, 'mx.dsc.ufpb.br');
  const far = byRcpt.get('alguem@nao-existe.test');
  assert.ok(far, [...byRcpt.keys()].join(', '));
  assert.equal(far.dsn.reportingMta, 'mx.dsc.ufpb.br');
  assert.equal(far.rec.action, 'failed');
  assert.equal(far.rec.status, '5.1.2');

  await waitFor('both queues empty', async () => (await siteEnvelopes(s1)).length + (await siteEnvelopes(s2)).length === 0);
  assert.deepEqual(await s1.mailbox('maria@dsc.ufpb.br'), [], 'the author gets no bounce');
  assert.equal((await s2.messages('pascal@dc.uece.br')).length, 2, 'the owner gets the two bounces and no copy (pascal is no member)');
  assert.equal((await s2.messages('suzana@dc.uece.br')).length, 1);
  assert.equal((await s1.messages('helvecio@dsc.ufpb.br')).length, 1);
});
