import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Pop3DotStuffer } from './pop3-dot-stuffer.js';

function run(input: string | Buffer[], bodyLines?: number): string {
  const chunks = typeof input === 'string' ? [Buffer.from(input, 'latin1')] : input;
  const s = new Pop3DotStuffer({ bodyLines });
  const out = chunks.map((c) => s.stuff(c) ?? Buffer.alloc(0));
  return Buffer.concat([...out, ...s.finish()]).toString('latin1');
}

/** Every split of the input into two chunks gives the same output. */
function runAllSplits(input: string, bodyLines?: number): string {
  const whole = run(input, bodyLines);
  const b = Buffer.from(input, 'latin1');
  for (let i = 1; i < b.length; i++) {
    const split = run([b.subarray(0, i), b.subarray(i)], bodyLines);
    assert.equal(split, whole, `split at ${i}`);
  }
  return whole;
}

const retr: [string, string, string][] = [
  ['empty message', '', '.\r\n'],
  ['one line', 'a\r\n', 'a\r\n.\r\n'],
  ['leading dot', '.a\r\n', '..a\r\n.\r\n'],
  ['lone dot line', 'a\r\n.\r\nb\r\n', 'a\r\n..\r\nb\r\n.\r\n'],
  ['dot on first and later lines', '.\r\n..\r\n', '..\r\n...\r\n.\r\n'],
  ['dot not at line start untouched', 'a.b\r\n a.\r\n', 'a.b\r\n a.\r\n.\r\n'],
  ['missing final CRLF is added', 'a\r\nb', 'a\r\nb\r\n.\r\n'],
  ['dot after bare LF is stuffed', 'a\n.b\r\n', 'a\n..b\r\n.\r\n'],
  ['blank lines kept', 'H: v\r\n\r\n\r\nbody\r\n', 'H: v\r\n\r\n\r\nbody\r\n.\r\n'],
];

for (const [name, input, want] of retr) {
  void test(`RETR stuffing: ${name}`, () => {
    assert.equal(runAllSplits(input), want);
  });
}

const msg = 'From: a\r\nSubject: s\r\n\r\nline1\r\n.line2\r\nline3\r\n';
const top: [string, string, number, string][] = [
  ['TOP 0: header and blank line', msg, 0, 'From: a\r\nSubject: s\r\n\r\n.\r\n'],
  ['TOP 1', msg, 1, 'From: a\r\nSubject: s\r\n\r\nline1\r\n.\r\n'],
  ['TOP 2 stuffs body lines', msg, 2, 'From: a\r\nSubject: s\r\n\r\nline1\r\n..line2\r\n.\r\n'],
  ['TOP more than the body', msg, 99, 'From: a\r\nSubject: s\r\n\r\nline1\r\n..line2\r\nline3\r\n.\r\n'],
  ['TOP header only, no blank line', 'From: a\r\nX: y\r\n', 0, 'From: a\r\nX: y\r\n.\r\n'],
  ['TOP counts empty body lines', 'H: v\r\n\r\n\r\n\r\nx\r\n', 2, 'H: v\r\n\r\n\r\n\r\n.\r\n'],
  ['TOP with header ending at EOF', 'H: v\r\n\r\n', 3, 'H: v\r\n\r\n.\r\n'],
];

for (const [name, input, n, want] of top) {
  void test(`${name}`, () => {
    assert.equal(runAllSplits(input, n), want);
  });
}

void test('TOP reports completion early', () => {
  const s = new Pop3DotStuffer({ bodyLines: 0 });
  const head = s.stuff(Buffer.from('H: v\r\n\r\nbody\r\n'));
  assert.equal(s.complete, true);
  assert.equal(Buffer.concat([head ?? Buffer.alloc(0), ...s.finish()]).toString(), 'H: v\r\n\r\n.\r\n');
});

void test('a chunk with no line to stuff is passed on as it came (not copied); one with such lines is stuffed whole', () => {
  const plain = Buffer.from('line one\r\nline two\r\n', 'latin1');
  const dotted = Buffer.from('a\r\n.b\r\nc\r\n', 'latin1');
  const s = new Pop3DotStuffer();
  const out = [s.stuff(plain), s.stuff(dotted), ...s.finish()].filter((b) => b !== undefined);
  // the first is the very buffer written: a copy of every chunk was garbage as big as the message
  assert.equal(out[0], plain);
  assert.equal(Buffer.concat(out.slice(1)).toString('latin1'), 'a\r\n..b\r\nc\r\n.\r\n');
});

void test('bodyLines must be a non-negative integer', () => {
  assert.throws(() => new Pop3DotStuffer({ bodyLines: -1 }), RangeError);
});

/** What a client does (RFC 1939 §3): split on CRLF, stop at ".", drop one leading ".". */
function unstuff(wire: string): string {
  assert.ok(wire.endsWith('\r\n.\r\n') || wire === '.\r\n', 'terminated');
  const body = wire === '.\r\n' ? '' : wire.slice(0, -3);
  const lines = body.split('\r\n');
  lines.pop();
  for (const l of lines) assert.notEqual(l, '.', 'a lone "." inside the body would end it early');
  return lines.map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n') + (lines.length ? '\r\n' : '');
}

void test('property: unstuffing gives back any CRLF message byte for byte', () => {
  const line = fc.stringMatching(/^[.a-z :]{0,8}$/);
  fc.assert(
    fc.property(fc.array(line, { maxLength: 12 }), fc.integer({ min: 1, max: 7 }), (lines, cut) => {
      const message = lines.map((l) => `${l}\r\n`).join('');
      const b = Buffer.from(message, 'latin1');
      const parts: Buffer[] = [];
      for (let i = 0; i < b.length; i += cut) parts.push(b.subarray(i, i + cut));
      const wire = run(parts);
      assert.equal(unstuff(wire), message);
    }),
    { numRuns: 200 },
  );
});
