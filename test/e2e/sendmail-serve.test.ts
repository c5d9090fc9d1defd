/**
 * Issue 5: `sendmail -t` while the server is stopped → queued in the spool → delivered into the
 * user's Maildir once `correio serve` starts; with the server running, sendmail (and -bs) wake it
 * and the mail is delivered at once. Real processes, real spool and Maildir in a temp data_dir.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeSite, queueJson, spoolEnvelopes, type Site } from './queue-cli-harness.js';

let site: Site;

before(async () => {
  site = await makeSite();
  for (const u of ['suzana', 'pascal', 'jacques']) assert.equal((await site.run(['user', 'add', `${u}@example.org`])).code, 0);
});
after(() => site.cleanup());

void test('sendmail -t with the server stopped, then delivered when it starts', async () => {
  const msg = 'To: suzana@example.org\nBcc: pascal\nSubject: while you were out\n\nThe server was down.\n';
  const r = await site.run(['sendmail', '-t', '-F', 'Jacques'], { stdin: msg });
  assert.equal(r.code, 0, r.stderr);
  const q = await queueJson(site);
  assert.equal(q.length, 1, 'queued in the spool while no server runs');
  assert.deepEqual(q[0].recipients.map((e) => e.recipient).sort(), ['pascal@example.org', 'suzana@example.org']);
  assert.deepEqual(await site.maildir('suzana'), []);

  const server = await site.serve();
  try {
    const [name] = await site.waitMail('suzana');
    const text = await site.readMail('suzana', name);
    assert.match(text, /^Subject: while you were out$/m);
    assert.match(text, /^From: Jacques <jacques@example\.org>$/m);
    assert.match(text, /^Return-Path: <jacques@example\.org>$/m);
    assert.doesNotMatch(text, /^Bcc:/m);
    assert.match(text, /The server was down\.\n$/);
    const [bcc] = await site.waitMail('pascal');
    assert.doesNotMatch(await site.readMail('pascal', bcc), /^Bcc:/m, 'the Bcc recipient does not see the Bcc field either');
    // delivered envelopes leave the spool
    const deadline = Date.now() + 30_000;
    while ((await spoolEnvelopes(site)).length > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(await spoolEnvelopes(site), []);

    // with the server running, sendmail wakes it: delivered without waiting for a poll
    const again = await site.run(['sendmail', '-i', 'suzana'], { stdin: 'Subject: second\n\nat once\n' });
    assert.equal(again.code, 0, again.stderr);
    const names = await site.waitMail('suzana', 2);
    const texts = await Promise.all(names.map((n) => site.readMail('suzana', n)));
    assert.ok(texts.some((t) => /^Subject: second$/m.test(t)));

    // -bs against the same spool while the server runs
    const bs = await site.run(['sendmail', '-bs'], {
      stdin: 'HELO localhost\nMAIL FROM:<jacques@example.org>\nRCPT TO:<pascal@example.org>\nDATA\nSubject: via -bs\n\nhi\n.\nQUIT\n',
    });
    assert.equal(bs.code, 0, bs.stderr);
    assert.match(bs.stdout, /\r\n250 OK: queued as [0-9a-z]+\r\n221 /);
    const pascal = await site.waitMail('pascal', 2);
    const ptexts = await Promise.all(pascal.map((n) => site.readMail('pascal', n)));
    assert.ok(ptexts.some((t) => /^Subject: via -bs$/m.test(t)));
  } finally {
    await server.stop();
  }
  assert.equal(server.child.exitCode, 0, server.output());
});
