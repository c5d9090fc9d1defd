import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressList, bodyStructure, encodeValueBuffer, parseMimeTree } from './index.js';
import { extendedParam, joinContinuations, parseParams } from './mime-params.js';

const bs = (msg: string): string => {
  const buf = Buffer.from(msg.replace(/\n/g, '\r\n'), 'latin1');
  return encodeValueBuffer(bodyStructure(buf, parseMimeTree(buf), true)).toString('latin1');
};
const addrs = (v: string): string => {
  const a = addressList(v);
  return a === null ? 'NIL' : encodeValueBuffer(a).toString('latin1');
};

// The expectations follow Dovecot's answers to the same kinds of input (checked by hand
// with /usr/lib/dovecot/imap); the corpus-wide comparison is test/e2e/imap-dovecot-diff.

void test('RFC 2045 §5.1 parameters: comments outside quotes only, empty parameters skipped, case kept', () => {
  assert.deepEqual(parseParams('text/plain; a="x;y"; b=(c)z; c="(not comment)"'), {
    value: 'text/plain',
    params: [
      ['a', 'x;y'],
      ['b', 'z'],
      ['c', '(not comment)'],
    ],
  });
  assert.deepEqual(parseParams('multipart/alternative ; ; ;; B="x"').params, [['B', 'x']]);
});

void test('RFC 2231 continuations: joined in order, named name* when the first is extended; incomplete runs as written', () => {
  assert.deepEqual(joinContinuations([['z', '1'], ['c*', "us-ascii''ab"]]), [
    ['z', '1'],
    ['c*', "us-ascii''ab"],
  ]);
  assert.deepEqual(joinContinuations([['a*1', 'c d'], ['a*0', 'b']]), [['a', 'bc d']]);
  assert.deepEqual(joinContinuations([['z*0*', 'a'], ['z*1', 'b']]), [['z*', 'ab']]);
  assert.deepEqual(joinContinuations([['z*0', 'a'], ['z*2', 'c']]), [
    ['z*0', 'a'],
    ['z*2', 'c'],
  ]);
  assert.equal(extendedParam([['boundary*', "us-ascii'en'a%20b"]], 'boundary'), 'a b');
  assert.equal(extendedParam([['BOUNDARY', 'x']], 'boundary'), 'x');
});

void test('RFC 2046 §5.1.1 boundaries: prefix match, the close delimiter, nested same boundary, outer delimiter closes inner', () => {
  // text after the boundary on a delimiter line is ignored
  assert.equal(bs('Content-Type: multipart/mixed; boundary="b"\n\n--b junk\nContent-Type: text/plain\n\none\n--b-- junk\n'), '(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 3 0 NIL NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL)');
  // the same boundary nested: the innermost takes the delimiters until its close
  assert.equal(
    bs('Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: multipart/alternative; boundary=B\n\n--B\n\na\n--B\n\nb\n--B--\n\n--B\nContent-Type: image/gif\n\ng\n--B--\n'),
    '((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL) "alternative" ("boundary" "B") NIL NIL NIL)("image" "gif" NIL NIL NIL "7bit" 1 NIL NIL NIL NIL) "mixed" ("boundary" "B") NIL NIL NIL)',
  );
  // an inner multipart whose delimiters are missing has no parts (shown as an empty text/plain)
  assert.equal(
    bs('Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\nx\n--o--\n'),
    '((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "alternative" ("boundary" "i") NIL NIL NIL) "mixed" ("boundary" "o") NIL NIL NIL)'.replace('0 0)', '0 0 NIL NIL NIL NIL)'),
  );
  // a header block cut by the next delimiter: an empty body
  assert.match(bs('Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/html\n--x\n\nhi\n--x--\n'), /^\(\("text" "html" \("charset" "us-ascii"\) NIL NIL "7bit" 0 0 /);
  // a boundary longer than 80 octets compares by its first 80
  const long = 'b'.repeat(100);
  assert.match(bs(`Content-Type: multipart/mixed; boundary="${long}"\n\n--${long}\n\none\n--${'b'.repeat(80)}Z\n\ntwo\n`), /^\(\("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" 3 0 NIL NIL NIL NIL\)\("text"/);
});

void test('BODYSTRUCTURE keeps the written case; message/rfc822 in lower case; Content-Language always a list', () => {
  assert.equal(
    bs('Content-Type: TEXT/Plain; CharSet=x\nContent-Transfer-Encoding: Base64\nContent-Disposition: ATTACHment; FileName="x y"\nContent-Language: en, fr (c) de\n\nx\n'),
    '("TEXT" "Plain" ("CharSet" "x") NIL NIL "Base64" 3 1 NIL ("ATTACHment" ("FileName" "x y")) ("en" "fr") NIL)',
  );
  assert.match(bs('Content-Type: MESSAGE/RFC822\n\nSubject: s\n\nb\n'), /^\("message" "rfc822" NIL/);
});

void test('RFC 5322 §3.4 address lists read as Dovecot reads broken ones', () => {
  const table: [string, string][] = [
    ['john doe@x, c@d', '(("john doe" NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'],
    ['<Un Re>, c@d', '((NIL NIL "Un" "SYNTAX_ERROR"))'],
    ['a.b.c (com) , c@d', '(("com" NIL "a.b.c" "MISSING_DOMAIN")(NIL NIL "c" "d"))'],
    ['<@r1,@r2:u@h>, c@d', '((NIL "@r1,@r2" "u" "h")(NIL NIL "c" "d"))'],
    ['x@, @y', '((NIL NIL "x" "MISSING_DOMAIN")(NIL NIL "MISSING_MAILBOX" "y"))'],
    ['a@b (one) (two), c@d', '(("two" NIL "a" "b")(NIL NIL "c" "d"))'],
    ['Name <x@y> trailing, c@d', '(("Name" NIL "x" "y"))'],
    ['grp: a@b, c@d;, e@f', '((NIL NIL "grp" NIL)(NIL NIL "a" "b")(NIL NIL "c" "d")(NIL NIL NIL NIL)(NIL NIL "e" "f"))'],
    [',,a@b,,', '((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")(NIL NIL "a" "b")(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'],
    ['jang.abcdef@xyzlinu <jang@xyz.it>, c@d', '((NIL NIL "jang.abcdef" "xyzlinu"))'],
    ['<a@b, c@d', '((NIL NIL "a" "SYNTAX_ERROR")(NIL NIL "c" "d"))'],
    ['a@b.c., e@f', '((NIL NIL "a" "MISSING_DOMAIN")(NIL NIL "e" "f"))'],
    ['a@[1.2.3.4], "a b"@c, a@b .c', '((NIL NIL "a" "[1.2.3.4]")(NIL NIL "a b" "c")(NIL NIL "a" "b.c"))'],
    ['"unterminated <a@b>, c@d', '((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))'],
  ];
  for (const [v, want] of table) assert.equal(addrs(v), want, v);
});
