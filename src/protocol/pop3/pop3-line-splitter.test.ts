import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3LineSplitter, type Pop3InputLine } from './pop3-line-splitter.js';

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
