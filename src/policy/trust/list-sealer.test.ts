/**
 * The streamed sealer (list-sealer.ts: the body hashed as it goes by, the ARC set made over the
 * stored header block and that hash) gives exactly the ARC set mailauth's sealMessage() makes
 * from the whole sealed message at the same time: for a message without a chain (cv=none),
 * for our own first seal sealed again (the chain validates: cv=pass, the second set signs the
 * first), and for a chain that does not validate (cv=fail); fed in odd-sized pieces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sealMessage } from 'mailauth/lib/arc/index.js';
import { ArcListSealer } from './list-sealer.js';
import { keyRecordName, newDkimKeyPem, signingKeyOf } from './dkim-keys.js';
import { rawFields } from './dkim-sign.js';

const T = 1_765_000_000;
const { pem, value } = newDkimKeyPem('rsa-2048');
const key = signingKeyOf('list.test', 'seal', pem);
/** the key's TXT record and nothing else (node's dns.resolve shapes, as mailauth asks) */
const lookup = (name: string, rrtype: string): Promise<unknown> =>
  rrtype === 'TXT' && name.toLowerCase() === keyRecordName('list.test', 'seal') ? Promise.resolve([[value]]) : Promise.reject(Object.assign(new Error(`no ${rrtype} for ${name}`), { code: 'ENOTFOUND' }));
const sealer = new ArcListSealer({ authservId: 'mx.list.test', keys: new Map([['list.test', [key]]]), lookup, minBitLength: 1024, nowSeconds: () => T });

/** The copy as intake seals it: `start` (header and empty line), the body in 997-octet pieces, then the stored header. */
async function streamedSeal(message: Buffer, received: string): Promise<readonly string[]> {
  const cut = message.indexOf('\r\n\r\n') + 4;
  const run = sealer.start('list.test', message.subarray(0, cut));
  for (let i = cut; i < message.length; i += 997) await run.body(message.subarray(i, Math.min(message.length, i + 997)));
  return run.finish(Buffer.concat([Buffer.from(received), message.subarray(0, cut - 2)]));
}

/** mailauth's whole-message sealing of the same stored copy (our DKIM signature on top), as the sealer did before it streamed. */
async function wholeSeal(message: Buffer, received: string, fields: readonly string[]): Promise<string[]> {
  const dkim = fields.filter((f) => /^DKIM-Signature:/i.test(f));
  const seal = fields.find((f) => /^ARC-Seal:/i.test(f)) ?? '';
  const aar = fields.find((f) => /^ARC-Authentication-Results:/i.test(f)) ?? '';
  const signed = Buffer.concat([Buffer.from(dkim.map((f) => f + '\r\n').join('') + received), message]);
  const out = await sealMessage(signed, {
    signingDomain: 'list.test',
    selector: 'seal',
    privateKey: pem,
    algorithm: 'rsa-sha256',
    cv: /cv=(\w+)/.exec(seal)?.[1] as 'none' | 'pass' | 'fail',
    authResults: aar.replace(/^ARC-Authentication-Results: i=\d+; /i, ''),
    signTime: new Date(T * 1000),
  } as never);
  return rawFields(out.toString('latin1')).map((f) => `${f.name}:${f.value}`.replace(/\r?\n$/, ''));
}

const body = Array.from({ length: 3000 }, (_, i) => `line ${i}  with  spaces \t\r\n`).join('') + '\r\n\r\n';
const message = Buffer.from(`From: Author <author@example.org>\r\nTo: team@list.test\r\nSubject: sealed\r\nAuthentication-Results: mx.list.test; spf=pass smtp.mailfrom=author@example.org\r\n\r\n${body}`);
const received = 'Received: from mx.example.org by mx.list.test with ESMTP id 1; Sun, 6 Dec 2026 10:00:00 +0000\r\n';

test('first seal (cv=none): the streamed ARC set is the one sealMessage makes of the whole copy', async () => {
  const fields = await streamedSeal(message, received);
  assert.equal(fields.filter((f) => f.startsWith('DKIM-Signature:')).length, 1);
  assert.match(fields.find((f) => f.startsWith('ARC-Seal:')) ?? '', /i=1;.*cv=none/s);
  // our own Authentication-Results is the AAR
  assert.match(fields.find((f) => f.startsWith('ARC-Authentication-Results:')) ?? '', /i=1; mx\.list\.test; spf=pass/);
  assert.deepEqual(fields.filter((f) => f.startsWith('ARC-')), await wholeSeal(message, received, fields));
});

test('sealed again: the chain found validates (cv=pass) and the second set is the one sealMessage makes', async () => {
  const first = await streamedSeal(message, received);
  const again = Buffer.concat([Buffer.from(first.map((f) => f + '\r\n').join('') + received), message]);
  const fields = await streamedSeal(again, received);
  assert.match(fields.find((f) => f.startsWith('ARC-Seal:')) ?? '', /i=2;.*cv=pass/s);
  assert.deepEqual(fields.filter((f) => f.startsWith('ARC-')), await wholeSeal(again, received, fields));
  // a body changed after the first seal: its chain fails (the newest AMS body hash), cv=fail
  const changed = Buffer.concat([again, Buffer.from('appended\r\n')]);
  const failed = await streamedSeal(changed, received);
  assert.match(failed.find((f) => f.startsWith('ARC-Seal:')) ?? '', /i=2;.*cv=fail/s);
  assert.deepEqual(failed.filter((f) => f.startsWith('ARC-')), await wholeSeal(changed, received, failed));
});
