/**
 * t-21: relay control over the whole running system (issue 5). The site trusts 127.0.0.1 only;
 * the stranger connects from 127.0.0.9, so "untrusted" is real. Port 25 takes mail for local
 * domains from anyone; relaying to other domains, plainly or through the old tricks (`%` hack,
 * quoted "@", source routes, bang paths), is refused at RCPT and nothing reaches the spool.
 * The same plain relay from the trusted address, or after AUTH, is queued for the remote route.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSite, siteEnvelopes, type Site } from '../helpers/site.js';
import { freePort } from '../helpers/net.js';
import type { Envelope } from '../../src/core/index.js';
import { SmtpTestClient, tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';

let site: Site;
let mx: number;
let submission: number;
let closed: number;

before(async () => {
  closed = await freePort();
  site = await startSite({
    domains: ['localhost'],
    hostname: 'mx.localhost',
    users: ['user@localhost', 'u1@localhost'],
    smtp: { submission: ['127.0.0.1:0'], tls_cert: tlsCertFile, tls_key: tlsKeyFile, trusted_networks: ['127.0.0.1/32'] },
    // other.example's next hop is a closed local port: relayed mail waits in the spool, and
    // nothing is looked up outside the machine
    delivery: { dns_servers: [`127.0.0.1:${closed}`], retry_min: '1h', retry_max: '1h' },
    tables: `[delivery.routes]\n"other.example" = "smtp:[127.0.0.1]:${closed}"\n`,
  });
  const addrs = site.app!.smtpAddresses();
  mx = addrs.find((a) => a.mode === 'mx')!.port;
  submission = addrs.find((a) => a.mode === 'submission')!.port;
});
after(async () => site.destroy());

const denied = '554 5.7.1 Relay access denied';
const noSuchUser = '550 5.1.1 No such user here';

/** RCPT path → the reply an untrusted client must get (never 250). */
const tricks: [string, string][] = [
  ['user@other.example', denied],
  ['USER@OTHER.EXAMPLE', denied],
  ['user@other.example.', '501 5.1.3 Bad recipient address syntax'],
  ['user@[127.0.0.2]', denied],
  // RFC 5321 §3.6.1 / appendix C: the `%` hack and quoted "@" are local parts, never routes
  ['user%other.example@localhost', noSuchUser],
  ['"user@other.example"@localhost', noSuchUser],
  ['"user%other.example"@localhost', noSuchUser],
  // RFC 5321 §4.1.2: a source route is accepted and ignored, so the real recipient is remote
  ['@a.example:user@other.example', denied],
  ['@localhost:user@other.example', denied],
  ['@a.example,@localhost:user@other.example', denied],
  // UUCP bang path in the local part
  ['other.example!user@localhost', noSuchUser],
  ['"other.example!user"@localhost', noSuchUser],
  ['user@other.example@localhost', '501 5.1.3 Bad recipient address syntax'],
];

async function mxSession(localAddress: string): Promise<SmtpTestClient> {
  const c = await SmtpTestClient.open(mx, { localAddress });
  assert.match((await c.readReply())!, /^220 /);
  assert.match((await c.command('EHLO client.test'))!, /^250-mx\.localhost/);
  return c;
}

async function spool(): Promise<Envelope[]> {
  return siteEnvelopes(site);
}

test('untrusted client (127.0.0.9): every relay trick is refused at RCPT and nothing is queued', async () => {
  const c = await mxSession('127.0.0.9');
  try {
    assert.equal(await c.command('MAIL FROM:<stranger@far.example>'), '250 2.1.0 OK');
    for (const [path, want] of tricks) {
      assert.equal(await c.command(`RCPT TO:<${path}>`), want, `RCPT TO:<${path}>`);
    }
    // RFC 5321 §3.3 / RFC 2920 §3.1: no valid recipient, so DATA fails
    assert.equal(await c.command('DATA'), '554 5.5.1 No valid recipients');
    await c.command('QUIT');
  } finally {
    c.close();
  }
  // the same tricks in one pipelined group (RFC 2920) change nothing (a new session: each 5xx
  // counts toward the session's error limit)
  const p = await mxSession('127.0.0.9');
  try {
    p.write(['MAIL FROM:<stranger@far.example>', ...tricks.map(([p]) => `RCPT TO:<${p}>`), 'DATA', ''].join('\r\n'));
    assert.equal(await p.readReply(), '250 2.1.0 OK');
    for (const [path, want] of tricks) assert.equal(await p.readReply(), want, `pipelined RCPT TO:<${path}>`);
    assert.equal(await p.readReply(), '554 5.5.1 No valid recipients');
    await p.command('QUIT');
  } finally {
    p.close();
  }
  assert.deepEqual(await spool(), []);
});

test('untrusted client: a message with one local and one relayed recipient goes to the local one only', async () => {
  const c = await mxSession('127.0.0.9');
  try {
    const r = await c.send('stranger@far.example', ['user@localhost', 'victim@other.example', '@x.example:victim2@other.example'], 'Subject: mixed\n\nmarker-mixed\n');
    assert.deepEqual(r.rcpt, ['250 2.1.5 OK', denied, denied]);
    assert.match(r.final!, /^250 2\.0\.0 /);
  } finally {
    c.close();
  }
  const [m] = await site.waitForMessages('user@localhost', 1);
  assert.match(m, /marker-mixed/);
  assert.deepEqual((await spool()).filter((e) => e.recipient.domain === 'other.example'), []);
});

test('untrusted client on port 25 may still mail local users and postmaster (RFC 5321 §4.5.1)', async () => {
  const c = await mxSession('127.0.0.9');
  try {
    assert.equal(await c.command('MAIL FROM:<>'), '250 2.1.0 OK');
    assert.equal(await c.command('RCPT TO:<postmaster>'), '250 2.1.5 OK');
    assert.equal(await c.command('RCPT TO:<Postmaster@localhost>'), '250 2.1.5 OK');
    assert.equal(await c.command('RCPT TO:<u1@localhost>'), '250 2.1.5 OK');
    await c.command('RSET');
  } finally {
    c.close();
  }
});

/** Sends one relayed message and returns the spool envelopes for other.example it made. */
async function relayThrough(c: SmtpTestClient, from: string, rcpt: string, marker: string): Promise<Envelope[]> {
  const r = await c.send(from, [rcpt], `From: ${from}\nSubject: relay\n\n${marker}\n`);
  assert.deepEqual(r.rcpt, ['250 2.1.5 OK']);
  const m = /^250 2\.0\.0 OK: queued as (\S+)$/.exec(r.final ?? '');
  assert.ok(m, `end of data: ${r.final}`);
  const envs = (await spool()).filter((e) => e.messageId === m[1]);
  return envs;
}

test('trusted client (127.0.0.1): relay is queued for the remote route', async () => {
  const c = await mxSession('127.0.0.1');
  try {
    const plain = await relayThrough(c, 'someone@localhost', 'user@other.example', 'marker-trusted');
    assert.equal(plain.length, 1);
    assert.deepEqual(plain[0].route, { transport: 'smtp', nextHop: `[127.0.0.1]:${closed}` });
    assert.deepEqual(plain[0].recipient, { local: 'user', domain: 'other.example' });
    // the source route is ignored (RFC 5321 §4.1.2, appendix C): the mailbox is what counts
    const routed = await relayThrough(c, 'someone@localhost', '@a.example:user2@other.example', 'marker-trusted-route');
    assert.equal(routed.length, 1);
    assert.deepEqual(routed[0].recipient, { local: 'user2', domain: 'other.example' });
    // the `%` hack is not a route even for trusted clients
    assert.equal(await c.command('MAIL FROM:<someone@localhost>'), '250 2.1.0 OK');
    assert.equal(await c.command('RCPT TO:<user%other.example@localhost>'), noSuchUser);
    await c.command('RSET');
  } finally {
    c.close();
  }
});

test('authenticated session from the untrusted address: relay is queued for the remote route', async () => {
  const c = await SmtpTestClient.open(submission, { localAddress: '127.0.0.9' });
  try {
    await c.readReply();
    await c.command('EHLO client.test');
    await c.smtpStartTls();
    await c.command('EHLO client.test');
    // before AUTH, the submission port takes nothing at all (RFC 6409 §4.3)
    assert.equal(await c.command('MAIL FROM:<u1@localhost>'), '530 5.7.0 Authentication required');
    assert.equal(await c.authPlain('u1@localhost', 'secret'), '235 2.7.0 Authentication successful');
    const envs = await relayThrough(c, 'u1@localhost', 'friend@other.example', 'marker-auth');
    assert.equal(envs.length, 1);
    assert.deepEqual(envs[0].route, { transport: 'smtp', nextHop: `[127.0.0.1]:${closed}` });
    assert.equal(envs[0].sender?.local, 'u1');
  } finally {
    c.close();
  }
});
