/**
 * The sender rules (who may send as which address), one table per rule: MAIL FROM, the From
 * fields with their display text, the null sender, the header cap; and the sessions they bind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReply, type MessageHeader, type ReversePath, type SessionInfo } from '../core/index.js';
import { SenderRules, addressesInDisplayText, senderRulesApply } from './index.js';

// alice owns alice@example.test and sales@example.test
const rules = new SenderRules({
  mayUse: async (user, a) => user === 'alice@example.test' && ['alice@example.test', 'sales@example.test'].includes(`${a.local}@${a.domain}`.toLowerCase()),
});
const alice: SessionInfo = { protocol: 'ESMTPSA', authUser: 'alice@example.test', mayRelay: true, submission: true };
const aliceOnMx: SessionInfo = { ...alice, submission: false };
const own: ReversePath = { local: 'alice', domain: 'example.test' };
const header = (...lines: string[]): MessageHeader => ({
  fields: lines.map((l) => ({ name: l.slice(0, l.indexOf(':')).toLowerCase(), value: l.slice(l.indexOf(':') + 1).trim() })),
  complete: true,
});
const verdict = async (session: SessionInfo, sender: ReversePath, h: MessageHeader): Promise<string> => {
  const r = await rules.header(session, sender, h);
  return r === undefined ? 'ok' : formatReply(r);
};
const notOwned = '553 5.7.1 Sender address not owned by authenticated user';

test('the rules bind every SMTP AUTH session, on any port, and nothing else', () => {
  assert.equal(senderRulesApply(alice), true);
  assert.equal(senderRulesApply(aliceOnMx), true);
  assert.equal(senderRulesApply({ ...alice, protocol: 'ESMTPA' }), true);
  assert.equal(senderRulesApply({ protocol: 'ESMTPS', mayRelay: false, submission: false }), false);
  assert.equal(senderRulesApply({ protocol: 'local', authUser: 'kamil', mayRelay: true, submission: true }), false);
  assert.equal(senderRulesApply({ protocol: 'ESMTP', authUser: 'kamil', mayRelay: true, submission: true }), false);
});

test('MAIL FROM: owned, or the null sender', async () => {
  const rows: [ReversePath, string][] = [
    [own, 'ok'],
    [{ local: 'Sales', domain: 'EXAMPLE.test' }, 'ok'],
    [null, 'ok'],
    [{ local: 'ceo', domain: 'bank.example' }, notOwned],
  ];
  for (const [sender, want] of rows) {
    for (const s of [alice, aliceOnMx]) {
      const r = await rules.envelope(s, sender);
      assert.equal(r === undefined ? 'ok' : formatReply(r), want, JSON.stringify(sender));
    }
  }
});

test('From: the mailboxes and every address in the display text must be owned', async () => {
  const rows: [string, string][] = [
    ['From: alice@example.test', 'ok'],
    ['From: "Alice" <alice@example.test>', 'ok'],
    ['From: "alice@example.test" <alice@example.test>', 'ok'],
    ['From: "Sales (sales@example.test)" <alice@example.test>', 'ok'],
    ['From: alice@example.test (Alice)', 'ok'],
    ['From: "john doe"@example.test', notOwned],
    // issue 12 item 11: a display name that looks like another address
    ['From: "bob@example.test" <alice@example.test>', notOwned],
    ['From: "Bob <bob@example.test>" <alice@example.test>', notOwned],
    ['From: "bob@example.test via Alice" <alice@example.test>', notOwned],
    ['From: alice@example.test (bob@example.test)', notOwned],
    ['From: Alice <alice@example.test> (bob@example.test)', notOwned],
    ['From: =?utf-8?q?bob=40example=2Etest?= <alice@example.test>', notOwned],
    ['From: =?utf-8?b?Ym9iQGV4YW1wbGUudGVzdA==?= <alice@example.test>', notOwned],
    ['From: =?utf-8?q?bob?= =?utf-8?q?=40example=2Etest?= <alice@example.test>', notOwned],
    ['From: =?utf-8?q?Alice?= =?utf-8?q?_Example?= <alice@example.test>', 'ok'],
    ['From: "bob＠example.test" <alice@example.test>', notOwned],
    ['From: bob@example.test: alice@example.test;', notOwned],
    ['From: "ceo@bank" <alice@example.test>', notOwned],
    ['From: CEO <ceo@bank.example>', notOwned],
  ];
  for (const [line, want] of rows) assert.equal(await verdict(alice, own, header(line)), want, line);
});

test('the null sender needs a From the user owns; a non-null owned sender may go without', async () => {
  assert.equal(await verdict(alice, null, header('Subject: x')), '550 5.7.1 A From header owned by the authenticated user is required');
  assert.equal(await verdict(alice, null, header('From: alice@example.test')), 'ok');
  assert.equal(await verdict(alice, null, header('From: bob@example.test')), notOwned);
  assert.equal(await verdict(alice, own, header('Subject: x')), 'ok');
  // and nothing of this for a session the rules do not bind
  assert.equal(await verdict({ protocol: 'ESMTP', mayRelay: false, submission: false }, null, header('Subject: x')), 'ok');
});

test('a header block past the cap is refused where From is checked (552 5.3.4)', async () => {
  const capped = { ...header('From: alice@example.test'), complete: false };
  assert.equal(await verdict(alice, own, capped), '552 5.3.4 Message header size exceeds fixed maximum');
  assert.equal(await verdict({ protocol: 'ESMTP', mayRelay: false, submission: false }, own, capped), 'ok');
});

test('addressesInDisplayText: what a reader could take for an address, outside the mailboxes', () => {
  const rows: [string, string[]][] = [
    ['alice@x.example', []],
    ['"Alice" <alice@x.example>', []],
    ['"bob@y.example" <alice@x.example>', ['bob@y.example']],
    ['alice@x.example (bob@y.example.)', ['bob@y.example']],
    ['"a, b@y.example" <a@x.example>, c@x.example', ['b@y.example']],
    ['=?ISO-8859-1?Q?b=F6b=40y.example?= <a@x.example>', ['böb@y.example']],
    ['team: a@x.example, b@x.example;', []],
  ];
  for (const [value, want] of rows) assert.deepEqual(addressesInDisplayText(value), want, value);
});
