import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { parseMimeTree, parseMimeTreeStream } from '../../protocol/imap/index.js';
import { headerEnd } from './message-reader.js';
import { wholeTextHas } from './search-matcher.js';
import { streamedTextHas } from './search-text-stream.js';

const messages = [
  'Subject: =?utf-8?q?Caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nO CAF=C3=89 =\r\nest=C3=A1 QUENTE.\r\nΟΔΟΣ ΚΑΙ ΣΟΦΙΑ\r\n',
  [
    'From: a@b\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\npre\r\n--x\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    Buffer.from('Ol\xe1 MUNDO latino\r\n', 'latin1').toString('base64'),
    '\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: Dentro\r\nX-Tag: agulha\r\n\r\nTexto de dentro\r\n--x\r\nContent-Type: text/plain; charset=x-desconhecido\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 nada\r\n--x\r\nContent-Type: image/png\r\n\r\nTEXTO NAO\r\n--x--\r\n',
  ].join(''),
  'Subject: vazio\r\nContent-Type: application/octet-stream\r\n\r\nnada aqui\r\n',
  'Subject: sem corpo\r\n',
];
const needles = ['', 'café', 'café est', 'está quente', '\u03bf\u03b4\u03bf\u03c2', '\u03bf\u03b4\u03bf\u03c3', '\u03bf\u03b4\u03bf\u03c2 \u03ba\u03b1\u03b9', 'σοφια', 'olá mundo', 'agulha', 'subject: dentro', 'texto de dentro', 'begin 644', 'texto nao', 'nada aqui', 'caf', 'x'];

/** `buf` as a stream of `size`-octet chunks. */
const chunked = (buf: Buffer, size: number) => (): Promise<Readable> => {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Promise.resolve(Readable.from(parts));
};

test('BODY and TEXT matched on a streamed message as on the message read whole, whatever the chunks', async () => {
  for (const text of messages) {
    const buf = Buffer.from(text, 'utf8');
    const whole = { buf, tree: parseMimeTree(buf) };
    for (const size of [1, 2, 5, 13, 4096]) {
      const tree = await parseMimeTreeStream(await chunked(buf, size)());
      for (const needle of needles) {
        for (const withHeader of [false, true]) {
          const want = wholeTextHas(whole, needle, withHeader);
          assert.equal(await streamedTextHas(tree, chunked(buf, size), needle, withHeader), want, `${JSON.stringify(needle)} ${withHeader ? 'TEXT' : 'BODY'} in ${JSON.stringify(text.slice(0, 40))} by ${size}`);
        }
      }
    }
  }
  // the cases above find and miss: a final sigma (U+03C2) lower-cased as in the whole text, not a medial one
  const first = { buf: Buffer.from(messages[0]), tree: parseMimeTree(Buffer.from(messages[0])) };
  assert.equal(wholeTextHas(first, '\u03bf\u03b4\u03bf\u03c2', false), true);
  assert.equal(wholeTextHas(first, '\u03bf\u03b4\u03bf\u03c3', false), false);
});

test('headerEnd finds the empty line ending the header block as the MIME tree does, read in any two pieces', () => {
  for (const text of [...messages, '\r\nbody only\r\n', 'A: 1\n\nlf only\n', 'A: 1\r\nB: 2\r\n\r\n']) {
    const buf = Buffer.from(text);
    const tree = parseMimeTree(buf);
    const want = tree.bodyStart === buf.length && !/\n\r?\n/.test(text) && !/^\r?\n/.test(text) ? -1 : tree.bodyStart;
    for (let k = 0; k <= buf.length; k++) {
      const first = headerEnd(buf.subarray(0, k), 0);
      const got = first >= 0 ? first : headerEnd(buf, Math.max(0, k - 2));
      assert.equal(got, want, `${JSON.stringify(text.slice(0, 30))} cut at ${k}`);
    }
  }
});
