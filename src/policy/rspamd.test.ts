/**
 * rspamd's actions as verdicts (rspamd.ts), and what an unreachable rspamd does: a closed
 * loopback port gives "accept" with the field saying so, or 451 4.7.1 with "defer" — never a
 * permanent refusal. Two verdicts merge into one (the first refusal, both field lists). The
 * scan against a real rspamd is in test/e2e/t-65-rspamd.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { askRspamd, mergeVerdicts, rspamdScan, rspamdVerdict } from './rspamd.js';
import { freePort } from '../../test/helpers/net.js';

const session = { protocol: 'ESMTP', remoteAddress: '::ffff:192.0.2.7', heloName: 'client.test', mayRelay: false, submission: false };

void test('actions: reject 550, soft reject and greylist 451, add header marks for Junk, no action adds the score only', () => {
  const v = (action: string, message?: string) => rspamdVerdict({ onFailure: 'accept' }, { action, score: 16, required: 15, ...(message ? { message } : {}) });
  const reject = v('reject', 'Gtube pattern\r\nInjected: x');
  assert.equal(reject.refusal?.code, 550);
  assert.equal(reject.refusal?.status, '5.7.1');
  assert.deepEqual(reject.refusal?.lines, ['Message rejected as spam: Gtube pattern Injected: x'], 'rspamd text on one printable line');
  assert.equal(v('soft reject').refusal?.code, 451);
  assert.equal(v('greylist').refusal?.status, '4.7.1');
  const marked = v('add header');
  assert.equal(marked.refusal, undefined);
  assert.deepEqual(marked.fields, ['X-Rspamd-Action: add header', 'X-Rspamd-Score: 16.00 / 15.00', 'X-Spam: Yes', 'X-Correio-Quarantine: rspamd add header (score 16.00)']);
  assert.deepEqual(v('no action').fields, ['X-Rspamd-Action: no action', 'X-Rspamd-Score: 16.00 / 15.00']);
  assert.equal(marked.remove?.('x-spam', 'Yes'), true, 'a sender cannot set our fields');
  assert.equal(marked.remove?.('x-correio-quarantine', 'x'), true);
  assert.equal(marked.remove?.('subject', 'x'), false);
});

/** A message as intake hands it over once spooled: its size and a stream of it. */
const spooled = (text: string): { size: number; read(): Readable } => ({ size: Buffer.byteLength(text), read: () => Readable.from([Buffer.from(text)]) });

void test('rspamd unreachable: accepted with the field saying so, or 451 4.7.1 with defer', async () => {
  const port = await freePort();
  const s = { url: `http://127.0.0.1:${port}`, onFailure: 'accept' as const, timeoutMs: 2000, hostname: 'mx.test' };
  const a = await askRspamd(s, session, { local: 'a', domain: 'b.test' }, Buffer.from('Subject: x\r\n\r\nx\r\n'));
  assert.ok('error' in a && /ECONNREFUSED/.test(a.error), JSON.stringify(a));
  const open = await rspamdScan(s, session, null).finish(spooled('x'));
  assert.equal(open.refusal, undefined);
  assert.match(open.fields[0], /^X-Rspamd-Action: unavailable \(.*ECONNREFUSED/);
  const closed = await rspamdScan({ ...s, onFailure: 'defer' }, session, null).finish(spooled('x'));
  assert.equal(closed.refusal?.code, 451);
  assert.equal(closed.refusal?.status, '4.7.1');
});

void test('two verdicts merge: the first refusal, both field lists, either removal', () => {
  const a = { fields: ['A: 1'], remove: (n: string) => n === 'a' };
  const b = rspamdVerdict({ onFailure: 'accept' }, { action: 'reject', score: 20, required: 15 });
  const m = mergeVerdicts(a, b);
  assert.equal(m.refusal?.code, 550);
  assert.deepEqual(m.fields.slice(0, 2), ['A: 1', 'X-Rspamd-Action: reject']);
  assert.equal(m.remove?.('a', ''), true);
  assert.equal(m.remove?.('x-spam', ''), true);
  assert.equal(m.remove?.('b', ''), false);
});
