/**
 * t-14: the server is killed (SIGKILL) during outbound delivery (issue 3; RFC 5321 §6.1:
 * reliable delivery). A child `correio serve` relays to a remote MX (a scripted peer found
 * through a real DNS server) that takes the whole message and then never answers the final ".".
 * The server is killed mid-transaction and restarted; the peer now accepts. Every accepted
 * message arrives, and arrives once: the one duplicate the rules allow (the transaction in flight)
 * cannot happen here, since the peer never accepted it before the kill. A message already
 * delivered locally before the kill is not delivered again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { mxZone } from '../helpers/mx-sites.js';
import { startScriptedPeer, type ScriptedPeer } from '../helpers/scripted-smtp-peer.js';
import { freePort } from '../helpers/net.js';
import { sendMail, siteEnvelopes, startSiteProcess, waitFor, type Site } from '../helpers/site.js';

let dns: DnsTestServer;
let site: Site & { restart(): Promise<void>; kill9(): Promise<void> };
let peer: ScriptedPeer;
let stalled = 0;

before(async () => {
  const port = await freePort('127.0.0.2');
  dns = await startDnsServer(mxZone({ 'far.test': '127.0.0.32' }));
  peer = await startScriptedPeer({
    host: '127.0.0.32',
    port,
    hostname: 'mx.far.test',
    script: {
      DOT: () => {
        stalled++;
        return 'silent';
      },
    },
  });
  // the site's own SMTP port is startSiteProcess's (picked afresh if taken before serve binds it)
  site = await startSiteProcess({
    host: '127.0.0.2',
    hostname: 'mx.dsc.ufpb.br',
    domains: ['dsc.ufpb.br'],
    users: ['helvecio@dsc.ufpb.br', 'maria@dsc.ufpb.br'],
    delivery: { dns_servers: [dns.server], mx_port: port, retry_min: '1s', retry_max: '1s', smtp_timeout: '20s' },
  });
});
after(async () => {
  await site?.destroy();
  await peer?.close();
  await dns?.close();
});

void test('kill -9 while the peer holds the final dot; after restart each message arrives exactly once', async () => {
  const send = async (to: string, subject: string): Promise<void> => {
    const r = await sendMail(site, 'helvecio@dsc.ufpb.br', [to], `From: helvecio@dsc.ufpb.br\nTo: ${to}\nSubject: ${subject}\n\ncorpo de ${subject}\n`, {
      localAddress: '127.0.0.2',
    });
    assert.match(r.final ?? '', /^250/, `${subject} accepted`);
  };
  await send('maria@dsc.ufpb.br', 'local-before-kill');
  await site.waitForMessages('maria@dsc.ufpb.br', 1);
  await send('ana@far.test', 'remote-1');
  await send('bia@far.test', 'remote-2');
  // the peer has the whole of at least one message and holds back its reply to the final "."
  // (the other is in a second transaction or still waiting in the spool)
  await waitFor('the peer holding a transaction at the final dot', () => stalled >= 1);
  assert.equal(peer.messages.length, 0, 'nothing accepted by the peer before the kill');

  await site.kill9();
  const queued = await siteEnvelopes(site);
  assert.deepEqual(
    queued.map((e) => `${e.recipient.local}@${e.recipient.domain}`).sort(),
    ['ana@far.test', 'bia@far.test'],
    'both remote envelopes survive the kill',
  );

  peer.script = {};
  await site.restart();
  await waitFor('both remote messages at the peer', () => peer.messages.length >= 2);
  await waitFor('an empty spool', async () => (await siteEnvelopes(site)).length === 0);

  const subjects = peer.messages.map((m) => /^Subject: (.*)\r$/m.exec(m.data.toString('latin1'))?.[1]).sort();
  assert.deepEqual(subjects, ['remote-1', 'remote-2'], 'each remote message exactly once');
  assert.equal((await site.messages('maria@dsc.ufpb.br')).length, 1, 'the local message was not delivered again');
  assert.deepEqual(await site.mailbox('helvecio@dsc.ufpb.br'), [], 'no bounce or notice');
});
