import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3LineSplitter, type Pop3InputLine } from './pop3-line-splitter.js';
import { decodeSaslPlain, decodeBase64Strict } from './sasl-plain.js';

function show(events: Pop3InputLine[]): string[] {
  return events.map((e) => (e.kind === 'line' ? e.line.toString('latin1') : '<too-long>'));
}

void test('splits CRLF and bare LF lines across chunks', () => {
  const s = new Pop3LineSplitter();
  assert.deepEqual(show(s.push(Buffer.from('STAT\r\nLI'))), ['STAT']);
  assert.deepEqual(show(s.push(Buffer.from('ST\r'))), []);
  assert.deepEqual(show(s.push(Buffer.from('\nNOOP\nQUIT\r\n'))), ['LIST', 'NOOP', 'QUIT']);
});

void test('255 octets including CRLF is the limit (RFC 2449 §4)', () => {
  const s = new Pop3LineSplitter(255);
  const ok = 'A'.repeat(253);
  assert.deepEqual(show(s.push(Buffer.from(`${ok}\r\n`))), [ok]);
  assert.deepEqual(show(s.push(Buffer.from(`${ok}A\r\nNOOP\r\n`))), ['<too-long>', 'NOOP']);
});

void test('an endless line is reported once, skipped, and does not grow the buffer', () => {
  const s = new Pop3LineSplitter(255);
  const events: Pop3InputLine[] = [];
  for (let i = 0; i < 100; i++) events.push(...s.push(Buffer.alloc(1000, 0x41)));
  events.push(...s.push(Buffer.from('AAA\r\nQUIT\r\n')));
  assert.deepEqual(show(events), ['<too-long>', 'QUIT']);
});

void test('reset drops a partial line (STLS injection)', () => {
  const s = new Pop3LineSplitter();
  s.push(Buffer.from('USER evil'));
  s.reset();
  assert.deepEqual(show(s.push(Buffer.from('CAPA\r\n'))), ['CAPA']);
});

void test('maxLine can be raised for SASL lines', () => {
  const s = new Pop3LineSplitter(255);
  s.maxLine = 8192;
  const long = 'B'.repeat(4000);
  assert.deepEqual(show(s.push(Buffer.from(`${long}\r\n`))), [long]);
});

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
  assert.deepEqual(decodeBase64Strict('='), Buffer.alloc(0));
  assert.deepEqual(decodeBase64Strict(''), Buffer.alloc(0));
  assert.equal(decodeBase64Strict('QQ==')?.toString(), 'A');
  assert.equal(decodeBase64Strict('QR=='), undefined, 'non-zero padding bits');
  assert.equal(decodeBase64Strict('QQ= ='), undefined);
  assert.equal(decodeBase64Strict('Q Q=='), undefined);
});
