/**
 * SASL for every protocol: strict base64, PLAIN (RFC 4616) with its authzid rule, LOGIN, and
 * the exchange's outcomes (cancel, malformed, unsupported).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSaslBase64, decodeSaslPlain, runSaslExchange, type SaslOutcome } from './index.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

void test('SASL PLAIN decoding (RFC 4616)', () => {
  assert.deepEqual(decodeSaslPlain(b64('\0suzana@dc.uece.br\0segredo')), {
    ok: true,
    credentials: { authzid: '', authcid: 'suzana@dc.uece.br', password: 'segredo' },
  });
  assert.deepEqual(decodeSaslPlain(b64('z\0u\0p w')), { ok: true, credentials: { authzid: 'z', authcid: 'u', password: 'p w' } });
  assert.deepEqual(decodeSaslPlain('not base64!'), { ok: false, reason: 'base64' });
  assert.deepEqual(decodeSaslPlain('AAA'), { ok: false, reason: 'base64' });
  assert.deepEqual(decodeSaslPlain(b64('u\0p')), { ok: false, reason: 'syntax' });
  assert.deepEqual(decodeSaslPlain(b64('\0\0p')), { ok: false, reason: 'syntax' });
  assert.deepEqual(decodeSaslPlain(b64('\0u\0')), { ok: false, reason: 'syntax' });
  assert.deepEqual(decodeSaslPlain(b64('\0u\0p\0x')), { ok: false, reason: 'syntax' });
  assert.deepEqual(decodeSaslPlain('='), { ok: false, reason: 'syntax' });
});

void test('strict base64', () => {
  assert.deepEqual(decodeSaslBase64('='), Buffer.alloc(0));
  assert.deepEqual(decodeSaslBase64(''), Buffer.alloc(0));
  assert.equal(decodeSaslBase64('QQ==')?.toString(), 'A');
  assert.equal(decodeSaslBase64('QR=='), undefined, 'non-zero padding bits');
  assert.equal(decodeSaslBase64('QQ= ='), undefined);
  assert.equal(decodeSaslBase64('Q Q=='), undefined);
});


/** An exchange whose client answers each challenge from a script; records the challenges. */
async function exchange(mech: string, initial: string | undefined, answers: string[], offered?: ('PLAIN' | 'LOGIN')[]) {
  const asked: string[] = [];
  const outcome: SaslOutcome = await runSaslExchange(
    mech,
    initial,
    async (c) => {
      asked.push(c);
      const a = answers.shift();
      if (a === undefined) throw new Error('no answer');
      return a;
    },
    offered,
  );
  return { asked, outcome };
}

void test('PLAIN: initial response, empty challenge, cancel, authzid rule', async () => {
  const creds = { authzid: '', authcid: 'suzana@dc.uece.br', password: 's3' };
  assert.deepEqual(await exchange('plain', b64('\0suzana@dc.uece.br\0s3'), []), { asked: [], outcome: { kind: 'credentials', credentials: creds } });
  assert.deepEqual(await exchange('PLAIN', undefined, [b64('\0suzana@dc.uece.br\0s3')]), { asked: [''], outcome: { kind: 'credentials', credentials: creds } });
  assert.deepEqual((await exchange('PLAIN', undefined, ['*'])).outcome, { kind: 'cancelled' });
  assert.deepEqual((await exchange('PLAIN', '!!!', [])).outcome, { kind: 'malformed', reason: 'base64' });
  assert.deepEqual((await exchange('PLAIN', b64('u\0p'), [])).outcome, { kind: 'malformed', reason: 'syntax' });
  // RFC 4616 §2: no proxy authorization; the same login with another domain case is the same
  assert.deepEqual((await exchange('PLAIN', b64('jacques@dc.uece.br\0suzana@dc.uece.br\0s3'), [])).outcome, {
    kind: 'refused',
    authcid: 'suzana@dc.uece.br',
  });
  assert.equal((await exchange('PLAIN', b64('suzana@DC.UECE.BR\0suzana@dc.uece.br\0s3'), [])).outcome.kind, 'credentials');
  assert.equal((await exchange('PLAIN', b64('SUZANA@dc.uece.br\0suzana@dc.uece.br\0s3'), [])).outcome.kind, 'refused');
  // invalid UTF-8 and fields over 255 octets are malformed
  const badUtf8 = Buffer.concat([Buffer.from('\0u\0'), Buffer.from([0xff, 0xfe])]).toString('base64');
  assert.deepEqual((await exchange('PLAIN', badUtf8, [])).outcome, { kind: 'malformed', reason: 'syntax' });
  assert.deepEqual((await exchange('PLAIN', b64(`\0u\0${'p'.repeat(256)}`), [])).outcome, { kind: 'malformed', reason: 'syntax' });
});

void test('LOGIN: Username: then Password:, with or without an initial response', async () => {
  const r = await exchange('LOGIN', undefined, [b64('suzana@dc.uece.br'), b64('s3')]);
  assert.deepEqual(r.asked, ['VXNlcm5hbWU6', 'UGFzc3dvcmQ6']);
  assert.deepEqual(r.outcome, { kind: 'credentials', credentials: { authzid: '', authcid: 'suzana@dc.uece.br', password: 's3' } });
  const i = await exchange('LOGIN', b64('suzana@dc.uece.br'), [b64('s3')]);
  assert.deepEqual(i.asked, ['UGFzc3dvcmQ6']);
  assert.deepEqual((await exchange('LOGIN', undefined, [b64('u'), '*'])).outcome, { kind: 'cancelled' });
  assert.deepEqual((await exchange('LOGIN', undefined, ['%%%'])).outcome, { kind: 'malformed', reason: 'base64' });
  assert.deepEqual((await exchange('LOGIN', undefined, ['=', b64('p')])).outcome, { kind: 'malformed', reason: 'syntax' });
});

void test('a mechanism not offered is unsupported, and nothing is asked', async () => {
  assert.deepEqual(await exchange('LOGIN', undefined, [], ['PLAIN']), { asked: [], outcome: { kind: 'unsupported' } });
  assert.deepEqual(await exchange('CRAM-MD5', undefined, []), { asked: [], outcome: { kind: 'unsupported' } });
});
