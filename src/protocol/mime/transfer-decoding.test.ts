import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTransfer, transferDecoder } from './transfer-decoding.js';

const qp = (s: string): string => decodeTransfer(Buffer.from(s, 'latin1'), 'quoted-printable')!.toString('latin1');

void test('quoted-printable: =XX, soft line breaks, white space at a line end deleted (RFC 2045 §6.7)', () => {
  assert.equal(qp('hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\n'), 'hello\r\nbar\r\nfoo\tbar\r\n');
  assert.equal(qp('foo\t \t= \r\n=62\r\nfoo = \t\r\nbar\r\nfoo  '), 'foo\t \tb\r\nfoo bar\r\nfoo');
  assert.equal(qp('a = b=3D=ZZ'), 'a = b==ZZ');
  assert.equal(decodeTransfer(Buffer.from('aGVs\r\nbG8='), 'base64')!.toString(), 'hello');
  assert.equal(decodeTransfer(Buffer.from('x'), 'x-uuencode'), undefined);
});

void test('a body decoded in chunks (FETCH BINARY of a big message) gives the octets decoded whole, wherever the chunks end', () => {
  const bodies: [string, string][] = [
    ['base64', 'aGVsbG8g\r\nd29ybGQ=\r\n!!bm90 aGluZw\r\nYQ'],
    ['quoted-printable', 'caf=C3=A9 =\r\nsoft  \r\nend=\nx=4\r\n=3D=\t \r\n= \r\nlast  '],
    ['7bit', 'plain\r\ntext'],
  ];
  for (const [cte, text] of bodies) {
    const body = Buffer.from(text, 'latin1');
    const whole = decodeTransfer(body, cte)!;
    for (let size = 1; size <= body.length; size++) {
      const d = transferDecoder(cte)!;
      const out: Buffer[] = [];
      for (let i = 0; i < body.length; i += size) out.push(d.push(body.subarray(i, i + size)));
      out.push(d.end());
      assert.deepEqual(Buffer.concat(out), whole, `${cte} in chunks of ${size}`);
    }
  }
  assert.equal(transferDecoder('x-uuencode'), undefined);
});
