/**
 * t-65: abuse defence on the MX port (issue 15), over real SMTP sockets with a real DNS server:
 * a DNS blocklist (client 127.0.0.9 listed as 127.0.0.2 under bl.test: 554 5.7.1 at connect,
 * naming the zone; 127.0.0.10 not listed; 127.0.0.11 listed but also on the allowlist wl.test:
 * served), a blocklist whose server fails (SERVFAIL: not listed, mail flows), per-client rate
 * limits on connections, messages and recipients per minute (the one over the limit refused
 * 421/451 4.7.x, another client unaffected), and greylisting (451 4.7.1 for a new triplet, again
 * on an immediate retry, 250 after the delay; the triplet is kept in data_dir/greylist.sqlite),
 * and a per-user message limit on the submission port after STARTTLS + AUTH PLAIN; with
 * `dnsbl_stage = "rcpt"` a listed client reaches postmaster and abuse and nobody else.
 * RFC 5782 (DNSBL), RFC 6647 (greylisting), RFC 5321 §3.1, §4.2.5.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startSite, sendMail, type Site } from '../helpers/site.js';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { LineClient } from '../helpers/net.js';
import { SmtpTestClient, tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';

let dns: DnsTestServer;
let lists: Site;
let rates: Site;
let grey: Site;
// every site trusts no loopback client: each test client is a stranger
const smtp = { trusted_networks: ['192.0.2.0/24'] };

before(async () => {
  dns = await startDnsServer({
    '9.0.0.127.bl.test': { a: ['127.0.0.2'] },
    '11.0.0.127.bl.test': { a: ['127.0.0.2'] },
    '11.0.0.127.wl.test': { a: ['127.0.0.2'] },
    // an answer outside 127/8 is no listing (RFC 5782 §2.1): a hijacked list refuses no one
    '12.0.0.127.bl.test': { a: ['192.0.2.1'] },
    '9.0.0.127.broken.test': { servfail: true },
    '13.0.0.127.broken.test': { servfail: true },
  });
  const delivery = { dns_servers: [dns.server] };
  lists = await startSite({ users: ['user@localhost'], smtp, delivery, tables: '[abuse]\ndnsbl = ["bl.test"]\ndnswl = ["wl.test"]\n' });
  rates = await startSite({ users: ['user@localhost'], smtp, delivery, tables: '[abuse]\nrate_connections = 3\nrate_messages = 2\nrate_recipients = 3\n' });
  grey = await startSite({ users: ['user@localhost'], smtp, delivery, tables: '[abuse]\ngreylist = true\ngreylist_delay = "1s"\n' });
});
after(async () => {
  for (const s of [lists, rates, grey]) await s?.destroy();
  await dns?.close();
});

async function greeting(site: Site, localAddress: string): Promise<string> {
  const c = await LineClient.connect(site.port, site.host, localAddress);
  try {
    return (await c.readReply()) ?? '';
  } finally {
    c.close();
  }
}

void test('dnsbl: a listed client is refused 554 5.7.1 at connect; unlisted, allowlisted and bad answers are served', async () => {
  assert.match(await greeting(lists, '127.0.0.9'), /^554 5\.7\.1 .*\[127\.0\.0\.9\] blocked using bl\.test/);
  assert.match(await greeting(lists, '127.0.0.10'), /^220 /);
  assert.match(await greeting(lists, '127.0.0.11'), /^220 /, 'on the allowlist wl.test');
  assert.match(await greeting(lists, '127.0.0.12'), /^220 /, 'an answer outside 127/8');
  const r = await sendMail(lists, 'a@example.net', ['user@localhost'], 'Subject: ok\n\nfrom an unlisted client\n', { localAddress: '127.0.0.10' });
  assert.match(r.final ?? '', /^250 /);
});

void test('dnsbl: a list whose server fails lists no one (fail open) and dnsbl_action = "defer" answers 421', async () => {
  const site = await startSite({ users: ['user@localhost'], smtp, delivery: { dns_servers: [dns.server] }, tables: '[abuse]\ndnsbl = ["broken.test", "bl.test"]\ndnsbl_action = "defer"\n' });
  try {
    assert.match(await greeting(site, '127.0.0.13'), /^220 /, 'SERVFAIL is not a listing');
    assert.match(await greeting(site, '127.0.0.9'), /^421 4\.7\.1 .*listed by bl\.test/);
  } finally {
    await site.destroy();
  }
});

void test('dnsbl_stage = "rcpt": a listed client is served at connect, its recipients refused 550 5.7.1 except postmaster and abuse', async () => {
  const site = await startSite({ users: ['user@localhost', 'abuse@localhost'], smtp, delivery: { dns_servers: [dns.server] }, tables: '[abuse]\ndnsbl = ["bl.test"]\ndnsbl_stage = "rcpt"\n' });
  try {
    assert.match(await greeting(site, '127.0.0.9'), /^220 /, 'not refused at connect');
    const r = await sendMail(site, 'a@example.net', ['user@localhost', 'Postmaster@localhost', 'abuse@localhost'], 'Subject: listed\n\nfrom a listed client\n', { localAddress: '127.0.0.9' });
    assert.match(r.rcpt[0], /^550 5\.7\.1 Recipient refused; client \[127\.0\.0\.9\] blocked using bl\.test/);
    assert.match(r.rcpt[1], /^250 /, 'postmaster still gets mail (RFC 5321 §4.5.1)');
    assert.match(r.rcpt[2], /^250 /);
    assert.match(r.final ?? '', /^250 /);
    await site.waitForMessages('postmaster@localhost', 1);
    assert.deepEqual(await site.messages('user@localhost'), []);
    const other = await sendMail(site, 'a@example.net', ['user@localhost'], 'Subject: ok\n\nunlisted\n', { localAddress: '127.0.0.10' });
    assert.match(other.final ?? '', /^250 /);
  } finally {
    await site.destroy();
  }
});

void test('rate limits: connections, messages and recipients per minute per client; another client is not affected', async () => {
  // recipients: 3 a minute; the fourth RCPT (in a second message) is 451 4.7.1
  const r1 = await sendMail(rates, 'a@example.net', ['user@localhost', 'user@localhost'], 'Subject: 1\n\none\n', { localAddress: '127.0.0.20' });
  assert.deepEqual(r1.rcpt.map((x) => x.slice(0, 3)), ['250', '250']);
  const r2 = await sendMail(rates, 'a@example.net', ['user@localhost', 'user@localhost'], 'Subject: 2\n\ntwo\n', { localAddress: '127.0.0.20' });
  assert.match(r2.rcpt[0], /^250 /);
  assert.match(r2.rcpt[1], /^451 4\.7\.1 Too many recipients/);
  // messages: 2 a minute; the third MAIL is refused (sendMail throws on a refused MAIL)
  await assert.rejects(sendMail(rates, 'a@example.net', ['user@localhost'], 'Subject: 3\n\nthree\n', { localAddress: '127.0.0.20' }), /MAIL: 451 4\.7\.1 Too many messages/);
  // connections: 3 a minute were used above; the fourth is 421 at connect
  assert.match(await greeting(rates, '127.0.0.20'), /^421 4\.7\.0 .*Too many connections/);
  // another client has its own counts
  const other = await sendMail(rates, 'b@example.net', ['user@localhost'], 'Subject: other\n\nanother client\n', { localAddress: '127.0.0.21' });
  assert.match(other.final ?? '', /^250 /);
});

void test('greylisting: a new triplet is 451 4.7.1 until its delay has passed, then accepted; the store is on disk', async () => {
  const send = (): ReturnType<typeof sendMail> => sendMail(grey, 'g@example.net', ['user@localhost'], 'Subject: grey\n\ngreylisted\n', { localAddress: '127.0.0.30' });
  const first = await send();
  assert.match(first.rcpt[0], /^451 4\.7\.1 Greylisted/);
  assert.equal(first.final, undefined);
  const again = await send();
  assert.match(again.rcpt[0], /^451 4\.7\.1 Greylisted/, 'an immediate retry is still early');
  // the client retries later, as an MTA does (RFC 5321 §4.5.4.1); poll until the delay has passed
  let passed: Awaited<ReturnType<typeof sendMail>> | undefined;
  const deadline = Date.now() + 20_000;
  while (!(passed = await send()).final) {
    if (Date.now() > deadline) throw new Error(`still greylisted: ${passed.rcpt[0]}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.match(passed.final, /^250 /);
  await grey.waitForMessages('user@localhost', 1);
  // a known triplet passes at once from now on, also from another address of the same /24
  const later = await sendMail(grey, 'g@example.net', ['user@localhost'], 'Subject: grey 2\n\nknown\n', { localAddress: '127.0.0.31' });
  assert.match(later.rcpt[0], /^250 /);
  // another sender is a new triplet
  const stranger = await sendMail(grey, 'h@example.net', ['user@localhost'], 'Subject: grey 3\n\nnew\n', { localAddress: '127.0.0.30' });
  assert.match(stranger.rcpt[0], /^451 4\.7\.1 Greylisted/);
  assert.ok(existsSync(join(grey.dataDir, 'greylist.sqlite')));
});

void test('rate_messages_per_user: an authenticated user over the limit is refused 451 4.7.1 on submission', async () => {
  const site = await startSite({
    users: ['user@localhost'],
    smtp: { submission: ['127.0.0.1:0'], tls_cert: tlsCertFile, tls_key: tlsKeyFile },
    tables: '[abuse]\nrate_messages_per_user = 2\n',
  });
  try {
    const port = site.app!.smtpAddresses().find((a) => a.mode === 'submission')!.port;
    const c = await SmtpTestClient.open(port);
    try {
      assert.match((await c.readReply())!, /^220 /);
      await c.command('EHLO client.test');
      await c.smtpStartTls();
      await c.command('EHLO client.test');
      assert.match((await c.authPlain('user@localhost', 'secret'))!, /^235 /);
      for (const n of [1, 2]) assert.match((await c.send('user@localhost', ['user@localhost'], `Subject: ${n}\n\nmessage ${n}\n`)).final ?? '', /^250 /);
      const third = await c.send('user@localhost', ['user@localhost'], 'Subject: 3\n\nmessage 3\n');
      assert.match(third.mail, /^451 4\.7\.1 Too many messages from your account/);
    } finally {
      c.close();
    }
  } finally {
    await site.destroy();
  }
});
