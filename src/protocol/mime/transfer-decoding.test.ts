import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTransfer } from './transfer-decoding.js';

const qp = (s: string): string => decodeTransfer(Buffer.from(s, 'latin1'), 'quoted-printable')!.toString('latin1');

void test('quoted-printable: =XX, soft line breaks, white space at a line end deleted (RFC 2045 §6.7)', () => {
  assert.equal(qp('hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\n'), 'hello\r\nbar\r\nfoo\tbar\r\n');
  assert.equal(qp('foo\t \t= \r\n=62\r\nfoo = \t\r\nbar\r\nfoo  '), 'foo\t \tb\r\nfoo bar\r\nfoo');
  assert.equal(qp('a = b=3D=ZZ'), 'a = b==ZZ');
  assert.equal(decodeTransfer(Buffer.from('aGVs\r\nbG8='), 'base64')!.toString(), 'hello');
  assert.equal(decodeTransfer(Buffer.from('x'), 'x-uuencode'), undefined);
});
