/**
 * t-13: 8-bit content to a server without 8BITMIME (seed §3: SMTP's 7-bit heritage; RFC 6152
 * §3, RFC 2045 §6). A client gives the site a BODY=8BITMIME message (a single 8bit part, and a
 * multipart with one 8bit part); the remote MX, a scripted peer found through a real DNS server,
 * offers no 8BITMIME. What the peer receives is all 7-bit, announced without BODY=8BITMIME, and
 * decodes back (postal-mime, a parser nobody here wrote) to the original text.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import PostalMime from 'postal-mime';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { mxZone } from '../helpers/mx-sites.js';
import { startScriptedPeer, type ScriptedPeer } from '../helpers/scripted-smtp-peer.js';
import { freePort } from '../helpers/net.js';
import { sendMail, siteEnvelopes, startSite, waitFor, type Site } from '../helpers/site.js';

let dns: DnsTestServer;
let site: Site;
let peer: ScriptedPeer;

before(async () => {
  const port = await freePort('127.0.0.2');
  dns = await startDnsServer(mxZone({ 'old.test': '127.0.0.31' }));
  peer = await startScriptedPeer({ host: '127.0.0.31', port, hostname: 'mx.old.test', extensions: ['PIPELINING', 'SIZE 10485760', 'ENHANCEDSTATUSCODES'] });
  site = await startSite({
    host: '127.0.0.2',
    port,
    hostname: 'mx.dsc.ufpb.br',
    domains: ['dsc.ufpb.br'],
    users: ['helvecio@dsc.ufpb.br'],
    delivery: { dns_servers: [dns.server], mx_port: port, retry_min: '1s', retry_max: '1s', smtp_timeout: '5s' },
  });
});
after(async () => {
  await site?.destroy();
  await peer?.close();
  await dns?.close();
});

const text = 'Olá, Jacques! A reunião do departamento é às 14h: pauta, ações e orçamento.\nAté já — Hélvécio\n';

async function relay(subject: string, message: string): Promise<Buffer> {
  const before = peer.messages.length;
  const r = await sendMail(site, 'helvecio@dsc.ufpb.br', ['jacques@old.test'], message, { localAddress: '127.0.0.2', mailParams: 'BODY=8BITMIME' });
  assert.match(r.final ?? '', /^250/);
  await waitFor(`the peer receives "${subject}"`, () => peer.messages.length > before);
  await waitFor('an empty spool', async () => (await siteEnvelopes(site)).length === 0);
  const got = peer.messages[before];
  assert.ok(!/BODY=8BITMIME/i.test(peer.commands.filter((c) => c.startsWith('MAIL')).at(-1) ?? ''), 'no BODY=8BITMIME to a server that did not offer it');
  const high = [...got.wire].findIndex((b) => b > 0x7f);
  assert.equal(high, -1, `every octet on the wire is 7-bit (first 8-bit octet at ${high})`);
  assert.deepEqual(await site.mailbox('helvecio@dsc.ufpb.br'), [], 'no bounce');
  return got.data;
}

void test('a single 8bit text part arrives 7-bit and decodes back', async () => {
  const data = await relay(
    'single',
    `From: helvecio@dsc.ufpb.br\nTo: jacques@old.test\nSubject: reuniao\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n${text}`,
  );
  assert.match(data.toString('latin1'), /^Content-Transfer-Encoding: (quoted-printable|base64)\r$/im);
  const parsed = await PostalMime.parse(data);
  assert.equal(parsed.subject, 'reuniao');
  assert.equal(parsed.text?.replace(/\r\n/g, '\n'), text);
});

void test('a multipart message: the 8bit part is converted, the 7bit part and the structure stay', async () => {
  const data = await relay(
    'multipart',
    [
      'From: helvecio@dsc.ufpb.br',
      'To: jacques@old.test',
      'Subject: anexos',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="fronteira"',
      '',
      'preamble',
      '--fronteira',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      text,
      '--fronteira',
      'Content-Type: text/plain; charset=us-ascii; name="notes.txt"',
      'Content-Disposition: attachment; filename="notes.txt"',
      '',
      'plain ascii notes',
      '',
      '--fronteira--',
      '',
    ].join('\n'),
  );
  const parsed = await PostalMime.parse(data);
  assert.equal(parsed.text?.replace(/\r\n/g, '\n').replace(/\n+$/, ''), text.replace(/\n+$/, ''));
  assert.equal(parsed.attachments.length, 1);
  assert.equal(parsed.attachments[0].filename, 'notes.txt');
  assert.equal(Buffer.from(parsed.attachments[0].content as ArrayBuffer).toString('latin1').trim(), 'plain ascii notes');
  assert.match(data.toString('latin1'), /\r\n--fronteira--\r\n/);
});
