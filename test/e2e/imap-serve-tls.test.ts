/**
 * Issue 14, Protocol: IMAP "on `imap.listen` (STARTTLS) and `imap.listen_tls` (993, RFC 8314)",
 * passwords after TLS as `imap.plaintext_auth` says: the keys as `correio serve` reads them from
 * its config file (the dialogs test drives ImapServer's options directly). With
 * `plaintext_auth = "never"` and the SMTP certificate: the plain listener advertises STARTTLS and
 * LOGINDISABLED, refuses LOGIN with PRIVACYREQUIRED, and after STARTTLS logs in; the listen_tls
 * one speaks TLS from its first octet and logs in; a message sent over SMTP is read over both.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { LineClient } from '../helpers/net.js';
import { sendMail, startSite, type Site } from '../helpers/site.js';
import { tlsCertFile, tlsKeyFile } from './t-20-smtp-tls-client.js';

const user = 'alice@example.org';
let site: Site;
let trust: { ca: Buffer; servername: string };

before(async () => {
  trust = { ca: await readFile(tlsCertFile), servername: 'localhost' };
  site = await startSite({
    domains: ['example.org'],
    users: [user],
    smtp: { tls_cert: tlsCertFile, tls_key: tlsKeyFile },
    tables: ['[imap]', 'listen = ["127.0.0.1:0"]', 'listen_tls = ["127.0.0.1:0"]', 'plaintext_auth = "never"', ''].join('\n'),
  });
  const sent = await sendMail(site, 'bob@example.net', [user], 'From: bob@example.net\r\nSubject: over TLS\r\n\r\nread me\r\n');
  assert.match(sent.final ?? '', /^250/);
  await site.waitForMessages(user, 1);
});
after(async () => {
  await site.destroy();
});

/** LOGIN, then the delivered message's subject from the INBOX */
async function loginAndRead(c: LineClient, tag: string): Promise<void> {
  c.write(`${tag}1 LOGIN ${user} secret\r\n${tag}2 EXAMINE INBOX\r\n${tag}3 FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])\r\n`);
  assert.match((await c.readTagged(`${tag}1`)).at(-1)!, new RegExp(`^${tag}1 OK `));
  await c.readTagged(`${tag}2`);
  const fetched = await c.readTagged(`${tag}3`);
  assert.ok(fetched.includes('Subject: over TLS'), fetched.join('\n'));
}

void test('imap.listen with plaintext_auth = "never": STARTTLS and LOGINDISABLED advertised, LOGIN refused in clear, accepted after STARTTLS', async () => {
  const [plain, implicit] = site.app!.imapAddresses();
  assert.ok(plain && implicit, 'both listeners bound');
  const c = await LineClient.connect(plain.port, '127.0.0.1');
  try {
    const greeting = (await c.readLine()) ?? '';
    assert.match(greeting, /^\* OK \[CAPABILITY [^\]]*\bSTARTTLS\b/);
    assert.match(greeting, /\bLOGINDISABLED\b/);
    assert.doesNotMatch(greeting, /AUTH=PLAIN/);
    c.write(`a LOGIN ${user} secret\r\n`);
    assert.match((await c.readLine()) ?? '', /^a NO \[PRIVACYREQUIRED\] /);
    c.write('b STARTTLS\r\n');
    assert.match((await c.readLine()) ?? '', /^b OK /);
    await c.startTls(trust);
    c.write('c CAPABILITY\r\n');
    const caps = await c.readTagged('c');
    assert.match(caps[0], /AUTH=PLAIN/);
    assert.doesNotMatch(caps[0], /STARTTLS|LOGINDISABLED/);
    await loginAndRead(c, 'd');
  } finally {
    c.close();
  }
});

void test('imap.listen_tls: implicit TLS from the first octet (RFC 8314), passwords accepted, the same mailbox', async () => {
  const [, implicit] = site.app!.imapAddresses();
  const c = await LineClient.connectTls(implicit.port, '127.0.0.1', trust);
  try {
    const greeting = (await c.readLine()) ?? '';
    assert.match(greeting, /^\* OK \[CAPABILITY [^\]]*AUTH=PLAIN/);
    assert.doesNotMatch(greeting, /STARTTLS|LOGINDISABLED/);
    await loginAndRead(c, 'e');
  } finally {
    c.close();
  }
});
