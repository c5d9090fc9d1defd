/**
 * t-81 (issue 18): LMTP out. Site A (dsc.ufpb.br) routes two domains to site B's LMTP listeners
 * (`[delivery.routes]`: one `lmtp:unix:/path`, one `lmtp:[127.0.0.1]:port`); mail sent into A
 * over SMTP reaches B's mailboxes, and a recipient B refuses comes back to the sender as a DSN
 * from A (the LMTP per-recipient reply became a per-recipient result).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSite, sendMail, waitFor, type Site } from '../helpers/site.js';

let a: Site;
let b: Site;

before(async () => {
  b = await startSite({
    hostname: 'mx.dc.uece.br',
    domains: ['dc.uece.br', 'uece.br'],
    users: ['suzana@dc.uece.br', 'ana@uece.br'],
    tables: '[lmtp]\nlisten = ["127.0.0.1:0", "unix:lmtp.sock"]\n',
  });
  const lmtp = b.app!.smtpAddresses().filter((x) => x.mode === 'lmtp');
  const sock = lmtp.find((x) => x.path !== undefined)!.path!;
  const port = lmtp.find((x) => x.path === undefined)!.port;
  a = await startSite({
    hostname: 'mx.dsc.ufpb.br',
    domains: ['dsc.ufpb.br'],
    users: ['helvecio@dsc.ufpb.br'],
    delivery: { smtp_timeout: '10s' },
    tables: `[delivery.routes]\n"dc.uece.br" = "lmtp:unix:${sock}"\n"uece.br" = "lmtp:[127.0.0.1]:${port}"\n`,
  });
});

after(async () => {
  await a.destroy();
  await b.destroy();
});

void test('mail routed over LMTP (UNIX socket and TCP) reaches the other site\'s mailboxes; a refused recipient bounces', async () => {
  const r = await sendMail(a, 'helvecio@dsc.ufpb.br', ['suzana@dc.uece.br', 'ghost@dc.uece.br', 'ana@uece.br'], 'From: helvecio@dsc.ufpb.br\nSubject: via lmtp\n\ncorpo\n');
  // A is trusted (127.0.0.1 in trusted_networks) and relays all three
  assert.deepEqual(r.rcpt.map((x) => x.slice(0, 3)), ['250', '250', '250']);
  assert.match(r.final ?? '', /^250 /);
  const s = await b.waitForMessages('suzana@dc.uece.br', 1);
  assert.match(s[0], /Subject: via lmtp/);
  // B's trace field for the hop: LMTP
  assert.match(s[0], /by mx\.dc\.uece\.br \(correio\) with LMTP/);
  const an = await b.waitForMessages('ana@uece.br', 1);
  assert.match(an[0], /Subject: via lmtp/);
  // ghost: B answered 550 5.1.1 at RCPT, A sends helvecio a failure DSN naming it
  const dsn = await waitFor('the DSN for ghost', async () => (await a.messages('helvecio@dsc.ufpb.br')).find((m) => m.includes('ghost@dc.uece.br')));
  assert.match(dsn, /Action: failed/);
  assert.match(dsn, /Status: 5\.1\.1/);
  assert.match(dsn, /Remote-MTA: dns; unix:/);
});
