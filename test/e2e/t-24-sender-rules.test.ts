/**
 * t-24: the sender rules over real sockets (issue 12 items 1, 3, 11). AUTH is not offered on
 * the MX port by default (`smtp.auth_on_mx = false`); with `auth_on_mx = true` an authenticated
 * MX session gets the same rules as submission (a forged MAIL FROM and a forged From are both
 * refused, nothing is queued for the remote domain). On submission: a From hidden past the
 * 256 KB header cap, a display name naming another address, and the null sender without a From
 * are refused; a message whose first line is a continuation line is refused on every port.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSite, siteEnvelopes, type Site } from '../helpers/site.js';
import { freePort } from '../helpers/net.js';
import { SmtpTestClient, tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';

let plain: Site; // auth_on_mx left at its default
let mxAuth: Site; // auth_on_mx = true
let closed: number;

async function site(authOnMx?: boolean): Promise<Site> {
  return startSite({
    domains: ['localhost'],
    hostname: 'mx.localhost',
    users: ['u1@localhost', 'u2@localhost'],
    smtp: {
      submission: ['127.0.0.1:0'],
      tls_cert: tlsCertFile,
      tls_key: tlsKeyFile,
      trusted_networks: ['127.0.0.1/32'],
      ...(authOnMx === undefined ? {} : { auth_on_mx: authOnMx }),
    },
    // nothing leaves the machine: no DNS but a closed local port, and no retry soon
    delivery: { dns_servers: [`127.0.0.1:${closed}`], retry_min: '1h', retry_max: '1h' },
  });
}
const port = (s: Site, mode: string): number => s.app!.smtpAddresses().find((a) => a.mode === mode)!.port;

before(async () => {
  closed = await freePort();
  plain = await site();
  mxAuth = await site(true);
});
after(async () => {
  await plain.destroy();
  await mxAuth.destroy();
});

/** EHLO, STARTTLS, EHLO from the untrusted 127.0.0.9; returns the client and the second EHLO reply. */
async function tlsSession(p: number): Promise<{ c: SmtpTestClient; ehlo: string }> {
  const c = await SmtpTestClient.open(p, { localAddress: '127.0.0.9' });
  assert.match((await c.readReply())!, /^220 /);
  await c.command('EHLO client.test');
  await c.smtpStartTls();
  return { c, ehlo: (await c.command('EHLO client.test'))! };
}

async function submit(s: Site, mode = 'submission'): Promise<SmtpTestClient> {
  const { c } = await tlsSession(port(s, mode));
  assert.equal(await c.authPlain('u1@localhost', 'secret'), '235 2.7.0 Authentication successful');
  return c;
}

const notOwned = '553 5.7.1 Sender address not owned by authenticated user';

test('AUTH is not offered on the MX port by default (smtp.auth_on_mx = false)', async () => {
  const { c, ehlo } = await tlsSession(port(plain, 'mx'));
  try {
    assert.doesNotMatch(ehlo, /AUTH/);
    assert.equal(await c.authPlain('u1@localhost', 'secret'), '502 5.5.1 Command not implemented');
    // mail for local users is still taken from anyone
    const r = await c.send('someone@far.example', ['u2@localhost'], 'From: someone@far.example\nSubject: hi\n\nmarker-mx-plain\n');
    assert.match(r.final!, /^250 2\.0\.0 /);
  } finally {
    c.close();
  }
  // and submission still offers it
  const s = await submit(plain);
  s.close();
});

test('auth_on_mx = true: the MX port offers AUTH, and the sender rules bind it as on submission', async () => {
  const before = (await siteEnvelopes(mxAuth)).length;
  const { c, ehlo } = await tlsSession(port(mxAuth, 'mx'));
  try {
    assert.match(ehlo, /\n250-AUTH PLAIN LOGIN\n/);
    assert.equal(await c.authPlain('u1@localhost', 'secret'), '235 2.7.0 Authentication successful');
    // the forged envelope sender
    assert.equal(await c.command('MAIL FROM:<ceo@bank.example>'), notOwned);
    // the forged From, relayed to a remote domain under the user's own envelope sender
    const r = await c.send('u1@localhost', ['victim@far.example'], 'From: CEO <ceo@bank.example>\nSubject: wire\n\nmarker-forged\n');
    assert.equal(r.rcpt[0], '250 2.1.5 OK');
    assert.equal(r.final, notOwned);
    // the honest message goes through
    const ok = await c.send('u1@localhost', ['friend@far.example'], 'From: u1@localhost\nSubject: hi\n\nmarker-honest\n');
    assert.match(ok.final!, /^250 2\.0\.0 /);
  } finally {
    c.close();
  }
  const envs = await siteEnvelopes(mxAuth);
  assert.equal(envs.length, before + 1);
  assert.ok(envs.every((e) => e.recipient.local !== 'victim'));
});

test('submission: a From past the 256 KB header cap is refused 552 5.3.4, whoever it names', async () => {
  const padding = Array.from({ length: 300 }, (_, i) => `X-Pad-${i}: ${'p'.repeat(900)}`).join('\n');
  const c = await submit(plain);
  try {
    for (const from of ['u2@localhost', 'u1@localhost']) {
      const r = await c.send('u1@localhost', ['u2@localhost'], `${padding}\nFrom: ${from}\nSubject: padded\n\nmarker-padded\n`);
      assert.equal(r.final, '552 5.3.4 Message header size exceeds fixed maximum', from);
    }
    // a large header within the cap is fine
    const within = padding.split('\n').slice(0, 200).join('\n');
    const r = await c.send('u1@localhost', ['u2@localhost'], `${within}\nFrom: u1@localhost\nSubject: padded\n\nmarker-within\n`);
    assert.match(r.final!, /^250 2\.0\.0 /);
  } finally {
    c.close();
  }
});

test('submission: a display name naming another address is refused; the own address is not', async () => {
  const c = await submit(plain);
  try {
    const bad = await c.send('u1@localhost', ['u2@localhost'], 'From: "u2@localhost" <u1@localhost>\nSubject: x\n\nmarker-display\n');
    assert.equal(bad.final, notOwned);
    const good = await c.send('u1@localhost', ['u2@localhost'], 'From: "u1@localhost" <u1@localhost>\nSubject: x\n\nmarker-display-own\n');
    assert.match(good.final!, /^250 2\.0\.0 /);
  } finally {
    c.close();
  }
});

test('submission: the null sender needs a From the user owns', async () => {
  const c = await submit(plain, 'submission');
  try {
    const none = await c.send('', ['u2@localhost'], 'Subject: anonymous\n\nmarker-null\n');
    assert.equal(none.final, '550 5.7.1 A From header owned by the authenticated user is required');
    const other = await c.send('', ['u2@localhost'], 'From: u2@localhost\nSubject: x\n\nmarker-null-other\n');
    assert.equal(other.final, notOwned);
    const own = await c.send('', ['u2@localhost'], 'From: u1@localhost\nSubject: x\n\nmarker-null-own\n');
    assert.match(own.final!, /^250 2\.0\.0 /);
  } finally {
    c.close();
  }
});

test('a first header line that is a continuation line is refused 554 5.6.0 on every port', async () => {
  const folded = ' X-Injected: yes\nSubject: folded\n\nmarker-folded\n';
  const c = await submit(plain);
  try {
    const r = await c.send('u1@localhost', ['u2@localhost'], folded);
    assert.equal(r.final, '554 5.6.0 Message header begins with a continuation line');
  } finally {
    c.close();
  }
  const { c: mx } = await tlsSession(port(plain, 'mx'));
  try {
    const r = await mx.send('someone@far.example', ['u2@localhost'], `\t${folded.trimStart()}`);
    assert.equal(r.final, '554 5.6.0 Message header begins with a continuation line');
  } finally {
    mx.close();
  }
  const all = (await plain.messages('u2@localhost')).join('\n');
  assert.doesNotMatch(all, /marker-folded/);
});
