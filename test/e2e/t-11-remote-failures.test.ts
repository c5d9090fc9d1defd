/**
 * t-11: what the whole system does when the remote MX misbehaves or DNS says no (issue 3;
 * RFC 5321 §4.5.4, §5.1; RFC 7505; RFC 3464). A site on 127.0.0.2 relays for its users to
 * domains whose MX (found through a real DNS server) is a scripted SMTP peer on another loopback
 * address, same port. 4xx, a dropped connection and silence defer the recipient: the attempt is
 * recorded on the envelope, it is retried (retry_min 1s) and delivered once the peer accepts;
 * 5xx bounces to the sender. Null MX → 5.1.10, NXDOMAIN → 5.1.2, SERVFAIL → deferred 4.4.3.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { mxZone } from '../helpers/mx-sites.js';
import { startScriptedPeer, type PeerScript, type ScriptedPeer } from '../helpers/scripted-smtp-peer.js';
import { freePort } from '../helpers/net.js';
import { sendMail, siteEnvelopes, startSite, waitFor, type Site } from '../helpers/site.js';
import { parseDsn, type ParsedDsn } from '../../src/protocol/mime/parse-dsn.js';
import type { Envelope } from '../../src/core/index.js';

let dns: DnsTestServer;
let site: Site;
let port: number;
const peers: ScriptedPeer[] = [];

/** Scenario names; each has its own domain, MX host and loopback address. */
const scenarios = ['greet421', 'rcpt451', 'dot552', 'dropdata', 'silent', 'dot451'] as const;
const ipOf = (i: number): string => `127.0.0.${20 + i}`;

before(async () => {
  port = await freePort('127.0.0.2');
  dns = await startDnsServer({
    ...mxZone({ 'dsc.ufpb.br': '127.0.0.2', ...Object.fromEntries(scenarios.map((s, i) => [`${s}.test`, ipOf(i)])) }),
    'nullmx.test': { mx: 'null' },
    'servfail.test': { servfail: true },
  });
  site = await startSite({
    host: '127.0.0.2',
    port,
    hostname: 'mx.dsc.ufpb.br',
    domains: ['dsc.ufpb.br'],
    users: ['helvecio@dsc.ufpb.br', ...scenarios.map((s) => `${s}@dsc.ufpb.br`), 'nullmx@dsc.ufpb.br', 'nx@dsc.ufpb.br', 'sf@dsc.ufpb.br'],
    delivery: { dns_servers: [dns.server], mx_port: port, retry_min: '1s', retry_max: '1s', smtp_timeout: '2s' },
  });
});
after(async () => {
  await site?.destroy();
  for (const p of peers) await p.close();
  await dns?.close();
});

async function peerFor(s: (typeof scenarios)[number], script: PeerScript): Promise<ScriptedPeer> {
  const p = await startScriptedPeer({ host: ipOf(scenarios.indexOf(s)), port, hostname: `mx.${s}.test`, script });
  peers.push(p);
  return p;
}

async function send(from: string, to: string, subject: string): Promise<void> {
  const r = await sendMail(site, from, [to], `From: ${from}\nTo: ${to}\nSubject: ${subject}\n\nolá\n`, { localAddress: '127.0.0.2' });
  assert.match(r.rcpt[0], /^250/);
  assert.match(r.final ?? '', /^250/);
}

async function envelopesTo(rcpt: string): Promise<Envelope[]> {
  return (await siteEnvelopes(site)).filter((e) => `${e.recipient.local}@${e.recipient.domain}` === rcpt);
}

/** Waits until the envelope for rcpt has at least n recorded attempts; returns it. */
async function attempted(rcpt: string, n: number): Promise<Envelope> {
  return waitFor(`${n} attempts to ${rcpt}`, async () => (await envelopesTo(rcpt)).find((e) => e.attempts.length >= n));
}

async function dsnFor(user: string): Promise<{ text: string; dsn: ParsedDsn }> {
  const [text] = await site.waitForMessages(user, 1);
  const dsn = parseDsn(text);
  assert.ok(dsn, `a DSN in ${user}'s mailbox:\n${text}`);
  return { text, dsn };
}

async function spoolEmptyFor(rcpt: string): Promise<void> {
  await waitFor(`no envelope left for ${rcpt}`, async () => (await envelopesTo(rcpt)).length === 0);
}

/** A temporary failure, then success: deferred, attempt recorded, retried, delivered once. */
async function deferredThenDelivered(
  s: (typeof scenarios)[number],
  failing: PeerScript,
  check: (env: Envelope) => void,
): Promise<void> {
  const peer = await peerFor(s, failing);
  const rcpt = `someone@${s}.test`;
  await send(`${s}@dsc.ufpb.br`, rcpt, s);
  const env = await attempted(rcpt, 2); // recorded, and retried at least once
  check(env);
  for (const a of env.attempts) assert.equal(a.host, `mx.${s}.test`);
  assert.equal(peer.messages.length, 0);
  peer.script = {};
  await waitFor(`${s}: the peer accepts the message`, () => peer.messages.length >= 1);
  await spoolEmptyFor(rcpt);
  assert.equal(peer.messages.length, 1, 'delivered once');
  assert.match(peer.messages[0].data.toString('utf8'), new RegExp(`^Subject: ${s}\r$`, 'm'));
  assert.deepEqual(peer.messages[0].rcptTo, [rcpt]);
  assert.deepEqual(await site.mailbox(`${s}@dsc.ufpb.br`), [], 'no notice to the sender');
}

// The scenarios are independent (own sender, domain and peer): run them side by side.
void describe('remote failures', { concurrency: true }, () => {
  void test('421 at the greeting: deferred with the reply recorded, retried, then delivered', async () => {
    await deferredThenDelivered('greet421', { GREETING: { reply: '421 4.3.2 mx.greet421.test busy', close: true } }, (env) => {
      assert.equal(env.attempts[0].reply?.code, 421);
      assert.equal(env.attempts[0].status, '4.3.2');
      assert.equal(env.attempts[0].ip, ipOf(0));
    });
  });

  void test('451 at RCPT: deferred, retried, then delivered', async () => {
    await deferredThenDelivered('rcpt451', { RCPT: '451 4.3.0 try later' }, (env) => {
      assert.equal(env.attempts[0].reply?.code, 451);
      assert.equal(env.attempts[0].status, '4.3.0');
    });
  });

  void test('451 after the final dot: deferred, retried, then delivered', async () => {
    await deferredThenDelivered('dot451', { DOT: '451 4.3.0 queue trouble' }, (env) => {
      assert.equal(env.attempts[0].reply?.code, 451);
    });
  });

  void test('connection dropped in the middle of DATA: deferred (no reply, a local error), then delivered', async () => {
    await deferredThenDelivered('dropdata', { DATA_BODY: 'drop' }, (env) => {
      assert.equal(env.attempts[0].reply, undefined);
      assert.ok(env.attempts[0].error, 'the local failure is recorded');
      assert.match(env.attempts[0].status, /^4\./);
    });
  });

  void test('a peer that never answers: timeout, deferred, then delivered', async () => {
    await deferredThenDelivered('silent', { GREETING: 'silent' }, (env) => {
      assert.match(env.attempts[0].error ?? '', /timeout|timed out/i);
      assert.match(env.attempts[0].status, /^4\.4\./);
    });
  });

  void test('552 after the final dot: bounced to the sender with the remote reply', async () => {
    const peer = await peerFor('dot552', { DOT: '552 5.3.4 Message too big for system' });
    const rcpt = 'someone@dot552.test';
    await send('dot552@dsc.ufpb.br', rcpt, 'dot552');
    const { dsn } = await dsnFor('dot552@dsc.ufpb.br');
    assert.equal(dsn.recipients.length, 1);
    const [r] = dsn.recipients;
    assert.equal(r.finalRecipient, rcpt);
    assert.equal(r.action, 'failed');
    assert.equal(r.status, '5.3.4');
    assert.equal(r.remoteMta, 'mx.dot552.test');
    assert.match(r.diagnostic ?? '', /^552 5\.3\.4 Message too big/);
    assert.equal(peer.messages.length, 0);
    await spoolEmptyFor(rcpt);
  });

  void test('null MX (RFC 7505): bounced at once with 5.1.10', async () => {
    await send('nullmx@dsc.ufpb.br', 'anyone@nullmx.test', 'nullmx');
    const { dsn } = await dsnFor('nullmx@dsc.ufpb.br');
    assert.equal(dsn.recipients[0].finalRecipient, 'anyone@nullmx.test');
    assert.equal(dsn.recipients[0].action, 'failed');
    assert.equal(dsn.recipients[0].status, '5.1.10');
    await spoolEmptyFor('anyone@nullmx.test');
  });

  void test('NXDOMAIN: bounced at once with 5.1.2', async () => {
    await send('nx@dsc.ufpb.br', 'anyone@no-such-domain.test', 'nx');
    const { dsn } = await dsnFor('nx@dsc.ufpb.br');
    assert.equal(dsn.recipients[0].finalRecipient, 'anyone@no-such-domain.test');
    assert.equal(dsn.recipients[0].action, 'failed');
    assert.equal(dsn.recipients[0].status, '5.1.2');
    await spoolEmptyFor('anyone@no-such-domain.test');
  });

  void test('SERVFAIL: deferred with 4.4.3, never bounced', async () => {
    await send('sf@dsc.ufpb.br', 'anyone@servfail.test', 'servfail');
    const env = await attempted('anyone@servfail.test', 2);
    for (const a of env.attempts) assert.equal(a.status, '4.4.3');
    assert.ok(env.nextAttemptAt > 0, 'a retry is scheduled');
    assert.deepEqual(await site.mailbox('sf@dsc.ufpb.br'), [], 'no bounce for a temporary DNS failure');
  });
});

void test('a bounce that cannot be delivered goes to postmaster, and is never bounced again', async () => {
  // the sender's own domain does not exist: the 5.1.1 bounce for its message fails with 5.1.2
  const r = await sendMail(site, 'lost@no-such-sender.test', ['anyone@nullmx.test'], 'Subject: perdido\n\nx\n', { localAddress: '127.0.0.2' });
  assert.match(r.final ?? '', /^250/);
  const [notice] = await site.waitForMessages('postmaster@dsc.ufpb.br', 1);
  const dsn = parseDsn(notice);
  assert.ok(dsn, `postmaster gets a report:\n${notice}`);
  assert.equal(dsn.recipients[0].finalRecipient, 'lost@no-such-sender.test');
  assert.equal(dsn.recipients[0].status, '5.1.2');
  assert.match(notice, /^Return-Path: <>/);
  await waitFor('an empty spool', async () => (await siteEnvelopes(site)).filter((e) => e.recipient.domain !== 'servfail.test').length === 0);
  assert.equal((await site.messages('postmaster@dsc.ufpb.br')).length, 1, 'one notice, no loop of bounces');
});
