import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DotStuffer } from './dot-stuffer.js';

/** RFC 5321 §4.5.2 and §2.3.8 written the plain way: every line end a CRLF, leading dots doubled, the terminator. */
function model(text: string): string {
  const crlf = text.replace(/\r\n|\r|\n/g, '\r\n').replace(/(^|\r\n)\./g, '$1..');
  return `${crlf.length === 0 || crlf.endsWith('\r\n') ? crlf : `${crlf}\r\n`}.\r\n`;
}

function stuffed(pieces: readonly string[]): string {
  const s = new DotStuffer();
  const out = pieces.map((p) => s.stuff(Buffer.from(p, 'latin1')));
  out.push(s.finish());
  const all = Buffer.concat(out);
  assert.equal(s.bytesOut, all.length);
  assert.equal(s.bytesIn, pieces.reduce((n, p) => n + p.length, 0));
  return all.toString('latin1');
}

void test('a piece that needs no change is sent as it is, not copied', () => {
  const s = new DotStuffer();
  const clean = Buffer.from('Subject: x\r\n\r\nbody line\r\n', 'latin1');
  assert.equal(s.stuff(clean), clean);
  const partial = Buffer.from('no line end yet', 'latin1');
  assert.equal(s.stuff(partial), partial);
  // not at a line start now: a dot here is inside a line
  const dot = Buffer.from('. still the same line\r\n', 'latin1');
  assert.equal(s.stuff(dot), dot);
  assert.notEqual(s.stuff(Buffer.from('.leading\r\n', 'latin1')).toString('latin1'), '.leading\r\n');
});

void test('every way of cutting a message gives what the plain rules give', () => {
  // a fixed seed: the same cases every run
  let seed = 19;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const alphabet = ['a', 'b', '.', '\r', '\n', '\r\n', '\r\n.', '\n.'];
  for (let round = 0; round < 3000; round++) {
    let text = '';
    for (let i = rnd(30); i > 0; i--) text += alphabet[rnd(alphabet.length)];
    const pieces: string[] = [];
    for (let at = 0; at < text.length; ) {
      const n = 1 + rnd(8);
      pieces.push(text.slice(at, at + n));
      at += n;
    }
    assert.equal(stuffed(pieces), model(text), JSON.stringify(pieces));
    assert.equal(stuffed([text]), model(text), JSON.stringify(text));
  }
});

void test('a clean message of many lines, cut between CR and LF and before a dot', () => {
  const lines = Array.from({ length: 200 }, (_, i) => (i % 7 === 0 ? `.dot ${i}` : `line ${i}`));
  const text = `${lines.join('\r\n')}\r\n`;
  for (const cut of [1, 7, 8, 100, text.indexOf('\r') + 1, text.indexOf('\n.') + 1]) {
    assert.equal(stuffed([text.slice(0, cut), text.slice(cut)]), model(text));
  }
});

void test('once drained, the buffer of the last stuffed piece serves the next one, and what it gives is still right', () => {
  const s = new DotStuffer();
  const a = s.stuff(Buffer.from('.a\r\n', 'latin1'));
  assert.equal(a.toString('latin1'), '..a\r\n');
  // not drained yet: the first piece may still be in the socket's hands, so a new buffer
  const b = s.stuff(Buffer.from('.b\r\n', 'latin1'));
  const same = (x: Buffer, y: Buffer): boolean => x.buffer === y.buffer && x.byteOffset === y.byteOffset;
  assert.ok(!same(a, b));
  s.drained();
  const c = s.stuff(Buffer.from('.c\r\n', 'latin1'));
  assert.ok(same(c, b));
  assert.equal(c.toString('latin1'), '..c\r\n');
  // a piece larger than the spare gets a buffer of its own
  s.drained();
  const big = `.${'x'.repeat(100)}\r\n`;
  assert.equal(s.stuff(Buffer.from(big, 'latin1')).toString('latin1'), `.${big}`);
  assert.equal(s.finish().toString('latin1'), '.\r\n');
});
