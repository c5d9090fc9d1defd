import { test } from 'node:test';
import assert from 'node:assert/strict';
import { err, formatPop3Response, formatPop3StatusLine, formatSaslChallenge, ok, pop3Limits } from './pop3-response.js';
import { pop3Responses } from './pop3-responses.js';

const table: [string, ReturnType<typeof ok>, string][] = [
  ['plain +OK', ok('2 320'), '+OK 2 320\r\n'],
  ['empty +OK', ok(''), '+OK\r\n'],
  ['plain -ERR', err('no such message'), '-ERR no such message\r\n'],
  ['IN-USE code', pop3Responses.inUse(), '-ERR [IN-USE] maildrop already locked by another session\r\n'],
  ['AUTH code', pop3Responses.authFailed(), '-ERR [AUTH] authentication failed\r\n'],
  ['SYS/TEMP code', pop3Responses.maildropUnavailable(), '-ERR [SYS/TEMP] unable to open maildrop, try again later\r\n'],
  ['multi-line', ok('2 messages (320 octets)', ['1 120', '2 200']), '+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n'],
  ['empty multi-line', ok('0 messages', []), '+OK 0 messages\r\n.\r\n'],
  ['stuffed multi-line', ok('x', ['.', '..a', 'b.']), '+OK x\r\n..\r\n...a\r\nb.\r\n.\r\n'],
  ['CR/LF in text is neutralised', err('a\r\n+OK b'), '-ERR a +OK b\r\n'],
  ['greeting', pop3Responses.greeting('mx.dc.uece.br'), '+OK mx.dc.uece.br POP3 server ready\r\n'],
  ['signing off', pop3Responses.signingOffWithCount('h', 1), '+OK h POP3 server signing off (1 message left)\r\n'],
];

for (const [name, r, wire] of table) {
  void test(`formats ${name}`, () => {
    assert.equal(formatPop3Response(r), wire);
  });
}

void test('status line is cut to 512 octets including CRLF (RFC 2449 §4)', () => {
  const line = formatPop3StatusLine(err('x'.repeat(1000)));
  assert.equal(line.length + 2, pop3Limits.responseLine);
  assert.ok(line.startsWith('-ERR xxx'));
});

void test('SASL challenge form (RFC 5034 §4)', () => {
  assert.equal(formatSaslChallenge(''), '+ \r\n');
  assert.equal(formatSaslChallenge('AAA='), '+ AAA=\r\n');
});
