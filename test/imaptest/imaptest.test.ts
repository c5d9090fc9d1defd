import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readArgs } from './imap-args.js';
import { MatchState } from './matcher.js';
import { parseMbox } from './mbox.js';
import { parseScript, ScriptError } from './script.js';

/** Matches one untagged pattern line (as a script writes it) against one response line. */
function matches(st: MatchState, pattern: string, response: string): boolean {
  const script = parseScript('t', `state: auth\n\nok noop\n* ${pattern}\n`);
  const args = readArgs(response);
  const prefix = /^(ok|no|bad|bye)$/i.test(args[0]?.t === 'atom' ? args[0].v : '');
  return st.tryMatch(script.groups[0].untagged[0].args, args, prefix) === Infinity;
}

void test('the header and the three ways of writing a command', () => {
  const s = parseScript(
    'x',
    [
      '# a comment before the header',
      'capabilities: SORT THREAD=REFERENCES',
      'connections: 2',
      'messages: 3',
      'state: created',
      '',
      '1 ok select $mailbox',
      '* 0 exists',
      '2 examine $mailbox',
      '* ok [uidvalidity $v]',
      '2 ok [read-only]',
      '1 tag1 status a (messages)',
      '1 tag2 status b (messages)',
      '1 tag2 ok',
      '1 tag1 no',
      '2 "" delete x',
      '',
    ].join('\n'),
  );
  assert.deepEqual(s.capabilities, ['SORT', 'THREAD=REFERENCES']);
  assert.equal(s.connections, 2);
  assert.equal(s.messages, 3);
  assert.equal(s.state, 'created');
  assert.equal(s.groups.length, 4);
  const [g1, g2, g3, g4] = s.groups;
  assert.equal(g1.conn, 0);
  assert.deepEqual(g1.commands[0].parts, [{ text: 'select $mailbox' }]);
  assert.deepEqual(g1.commands[0].reply, [{ t: 'atom', v: 'ok' }]);
  assert.equal(g2.conn, 1);
  assert.deepEqual(g2.commands[0].reply, readArgs('ok [read-only]'));
  assert.equal(g2.untagged.length, 1);
  assert.deepEqual(
    g3.commands.map((c) => [c.tag, c.reply]),
    [
      [1, [{ t: 'atom', v: 'no' }]],
      [2, [{ t: 'atom', v: 'ok' }]],
    ],
  );
  assert.deepEqual(g4.commands[0].reply, [{ t: 'string', v: '' }]);
  assert.throws(() => parseScript('y', 'connections: 2\n\nok noop\n'), ScriptError);
  assert.throws(() => parseScript('y', 'state: auth\n\nselect x\n'), /no reply/);
});

void test('{{{ literals: CRLF between lines, LF as written for ~{{{, the last line end left out', () => {
  const s = parseScript('x', 'state: auth\n\nok append $mailbox {{{\nA: b\n\nbody\n}}}\nok append $mailbox ~{{{\nx\r\ny\n\n}}} tail\n');
  assert.deepEqual(s.groups[0].commands[0].parts, [{ text: 'append $mailbox ' }, { literal: 'A: b\r\n\r\nbody', binary: false }]);
  assert.deepEqual(s.groups[1].commands[0].parts, [{ text: 'append $mailbox ' }, { literal: 'x\r\ny\n', binary: true }, { text: ' tail' }]);
});

void test('default directives: FETCH items in pairs in any order, FLAGS a set without \\Recent', () => {
  const st = new MatchState();
  assert.ok(matches(st, '1 fetch (uid $uid1 flags (\\seen \\flagged))', '1 FETCH (FLAGS (\\Flagged \\Recent \\Seen) MODSEQ (4) UID 7)'));
  assert.equal(st.vars.get('uid1'), '7');
  assert.ok(!matches(st, '1 fetch (flags (\\seen))', '1 FETCH (FLAGS (\\Seen \\Draft))'), 'an extra flag');
  assert.ok(!matches(st, '1 fetch (flags (\\seen \\draft))', '1 FETCH (FLAGS (\\Seen))'), 'a missing flag');
  assert.ok(!matches(st, '1 fetch (uid $uid1)', '1 FETCH (UID 8)'), 'a set variable compares');
  assert.ok(matches(st, 'list (\\noselect) $sep2 x', 'LIST (\\HasChildren \\Noselect) "/" X'));
  assert.ok(!matches(st, 'status x (messages 1 unseen 0)', 'STATUS x (UNSEEN 0 MESSAGES 2)'));
  assert.ok(matches(st, 'status x (messages 1 unseen 0)', 'STATUS "x" (UNSEEN 0 MESSAGES 1)'));
  assert.ok(!matches(st, 'search 1 2', 'SEARCH 1 2 3'), 'an ordered list must be whole');
});

void test('variables: captured up to the next pattern character, undone when the match fails, $ skips a list', () => {
  const st = new MatchState();
  assert.ok(!matches(st, 'esearch (tag $t) uid all $a:$b', 'ESEARCH (TAG "1.2") MIN 4'));
  assert.equal(st.vars.get('t'), undefined, 'a failed match sets nothing');
  assert.ok(matches(st, 'esearch (tag $t) uid all $a:$b', 'ESEARCH (TAG "1.2") UID ALL 4:9'));
  assert.deepEqual([st.vars.get('t'), st.vars.get('a'), st.vars.get('b')], ['1.2', '4', '9']);
  assert.ok(matches(st, '1 fetch (envelope $ body $)', '1 FETCH (ENVELOPE (NIL "s" NIL NIL NIL NIL NIL NIL NIL NIL) BODY ("text" "plain" NIL NIL NIL "7bit" 1 1))'));
  assert.ok(matches(st, 'list () $s ${case:INBOX}', 'LIST () "." INBOX'));
  assert.ok(!matches(st, 'list () $s ${case:INBOX}', 'LIST () "." Inbox'));
  assert.equal(st.expand('copy $a:$b ${s}x $$kw'), 'copy 4:9 .x $kw');
  assert.throws(() => st.expand('fetch $nothing'), /uninitialized/);
});

void test('untagged OK/NO/BAD/BYE and tagged replies match by prefix', () => {
  const st = new MatchState();
  assert.ok(matches(st, 'ok [uidvalidity $v]', 'OK [UIDVALIDITY 1234] UIDs valid'));
  assert.equal(st.vars.get('v'), '1234');
  assert.ok(!matches(st, 'ok [uidnext 5]', 'OK [UIDVALIDITY 1234] UIDs valid'));
  assert.ok(matches(st, 'ok [copyuid $v $src $dst]', 'OK [COPYUID 1234 1:2 5:6] Done'));
  assert.equal(st.vars.get('dst'), '5:6');
  assert.equal(st.matchArgs(readArgs('no [trycreate]'), readArgs('NO [TRYCREATE] Mailbox does not exist'), Infinity, true), Infinity);
  assert.notEqual(st.matchArgs(readArgs('ok'), readArgs('NO [TRYCREATE] Mailbox does not exist'), Infinity, true), Infinity);
});

void test('$N follows EXPUNGEs of the group; $modseqN must grow at least as N does', () => {
  const st = new MatchState();
  st.startGroup(4);
  assert.ok(matches(st, '$1 expunge', '1 EXPUNGE'));
  st.expunged(1);
  assert.ok(!matches(st, '$3 expunge', '3 EXPUNGE'));
  assert.ok(matches(st, '$3 expunge', '2 EXPUNGE'));
  st.expunged(2);
  assert.equal(st.expand('fetch $4'), 'fetch 2');
  assert.equal(st.expand('fetch $3'), 'fetch <expunged>');
  assert.ok(matches(st, '1 fetch (modseq ($modseq2))', '1 FETCH (MODSEQ (10))'));
  assert.ok(!matches(st, '1 fetch (modseq ($modseq5))', '1 FETCH (MODSEQ (12))'), '12 < 10 + (5 - 2)');
  const fresh = new MatchState();
  assert.ok(matches(fresh, '1 fetch (modseq ($modseq2))', '1 FETCH (MODSEQ (2))'));
  assert.ok(matches(fresh, '1 fetch (modseq ($modseq5))', '1 FETCH (MODSEQ (5))'));
});

void test('$!unordered, $!noextra, $!ignore and $!ban', () => {
  const st = new MatchState();
  assert.ok(matches(st, 'list ($!unordered $!ban=\\noselect \\subscribed) $s x', 'LIST (\\Subscribed \\NonExistent) "." x'));
  assert.ok(!matches(st, 'list ($!unordered $!ban=\\noselect \\subscribed) $s x', 'LIST (\\Subscribed \\Noselect) "." x'));
  assert.ok(matches(st, 'x ($!unordered $!noextra $!ignore=c a b)', 'X (b c a)'));
  assert.ok(!matches(st, 'x ($!unordered $!noextra a b)', 'X (b c a)'));
  assert.ok(!matches(st, 'x ($!ordered a b)', 'X (b a)'));
});

void test('mbox fixtures: messages between separators in CRLF, the separator date as INTERNALDATE', () => {
  const m = parseMbox('From u@d  Fri Feb 22 17:06:23 2008\nSubject: a\n\nbody1\n\nFrom u@d  Sat Mar 24 23:00:00 2007 +0200\nSubject: b\n\nx\n');
  assert.deepEqual(m, [
    { data: 'Subject: a\r\n\r\nbody1\r\n\r\n', date: '22-Feb-2008 17:06:23 +0000' },
    { data: 'Subject: b\r\n\r\nx\r\n', date: '24-Mar-2007 23:00:00 +0200' },
  ]);
});
