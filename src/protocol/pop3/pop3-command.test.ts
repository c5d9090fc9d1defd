import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePop3Command } from './pop3-command.js';
import { formatPop3StatusLine } from './pop3-response.js';

const good: [string, unknown][] = [
  ['USER suzana@dc.uece.br', { verb: 'USER', name: 'suzana@dc.uece.br' }],
  ['user suzana@dc.uece.br', { verb: 'USER', name: 'suzana@dc.uece.br' }],
  ['PASS secret', { verb: 'PASS', password: 'secret' }],
  ['pass two words  ', { verb: 'PASS', password: 'two words  ' }],
  ['PASS  lead', { verb: 'PASS', password: ' lead' }],
  ['PASS sénha', { verb: 'PASS', password: 'sénha' }],
  ['STAT', { verb: 'STAT' }],
  ['stat', { verb: 'STAT' }],
  ['StAt ', { verb: 'STAT' }],
  ['NOOP', { verb: 'NOOP' }],
  ['RSET', { verb: 'RSET' }],
  ['QUIT', { verb: 'QUIT' }],
  ['CAPA', { verb: 'CAPA' }],
  ['STLS', { verb: 'STLS' }],
  ['LIST', { verb: 'LIST' }],
  ['LIST 2', { verb: 'LIST', msg: 2 }],
  ['list 2222', { verb: 'LIST', msg: 2222 }],
  ['UIDL', { verb: 'UIDL' }],
  ['uidl 7', { verb: 'UIDL', msg: 7 }],
  ['RETR 1', { verb: 'RETR', msg: 1 }],
  ['retr 001', { verb: 'RETR', msg: 1 }],
  ['DELE 3', { verb: 'DELE', msg: 3 }],
  ['TOP 1 10', { verb: 'TOP', msg: 1, lines: 10 }],
  ['top 1 0', { verb: 'TOP', msg: 1, lines: 0 }],
  ['AUTH', { verb: 'AUTH' }],
  ['AUTH plain', { verb: 'AUTH', mechanism: 'PLAIN' }],
  ['AUTH PLAIN AHVzZXIAcGFzcw==', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AHVzZXIAcGFzcw==' }],
  ['AUTH PLAIN =', { verb: 'AUTH', mechanism: 'PLAIN', initialResponse: '=' }],
];

for (const [line, want] of good) {
  void test(`parses ${JSON.stringify(line)}`, () => {
    const r = parsePop3Command(line);
    assert.ok(r.ok, `expected ok, got ${r.ok ? '' : formatPop3StatusLine(r.response)}`);
    assert.deepEqual(r.command, want);
  });
}

const bad: [string, RegExp][] = [
  ['', /^-ERR unknown command$/],
  ['   ', /^-ERR unknown command$/],
  ['FOO', /^-ERR unknown command$/],
  ['APOP mrose c4c9334bac560ecc979e58001b3e22fb', /^-ERR unknown command$/],
  ['LAST', /^-ERR unknown command$/],
  ['STATUS', /^-ERR unknown command$/],
  ['STAT 1', /^-ERR STAT takes no arguments$/],
  ['QUIT now', /^-ERR QUIT takes no arguments$/],
  ['USER', /^-ERR USER needs one name$/],
  ['USER a b', /^-ERR USER needs one name$/],
  ['PASS', /^-ERR PASS needs a password$/],
  ['PASS ', /^-ERR PASS needs a password$/],
  ['RETR', /^-ERR RETR needs one message number$/],
  ['RETR 0', /^-ERR invalid message number$/],
  ['RETR -1', /^-ERR invalid message number$/],
  ['RETR +1', /^-ERR invalid message number$/],
  ['RETR 1e3', /^-ERR invalid message number$/],
  ['RETR 0x10', /^-ERR invalid message number$/],
  ['RETR 1234567890', /^-ERR invalid message number$/],
  ['DELE one', /^-ERR invalid message number$/],
  ['DELE 1 2', /^-ERR DELE needs one message number$/],
  ['LIST 1 2', /^-ERR LIST takes at most one message number$/],
  ['LIST x', /^-ERR invalid message number$/],
  ['UIDL 0', /^-ERR invalid message number$/],
  ['TOP 1', /^-ERR TOP needs a message number and a line count$/],
  ['TOP 1 -1', /^-ERR invalid line count$/],
  ['TOP 0 1', /^-ERR invalid message number$/],
  ['AUTH PLAIN a b', /^-ERR AUTH takes/],
  ['AUTH PL@IN', /^-ERR invalid mechanism name$/],
  ['USER a\x00b', /^-ERR invalid characters in command$/],
  ['PASS a\x00b', /^-ERR invalid characters in command$/],
  ['NOOP\x1b', /^-ERR invalid characters in command$/],
];

for (const [line, want] of bad) {
  void test(`refuses ${JSON.stringify(line)}`, () => {
    const r = parsePop3Command(line);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(formatPop3StatusLine(r.response), want);
  });
}
