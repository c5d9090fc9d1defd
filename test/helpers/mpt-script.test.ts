/**
 * The James MPT interpreter's parser and matcher (mpt-script): what matches exactly, what only
 * through a named relaxation, and what does not match at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupExpunges, matchLine, matchUnordered, optionalLine, parseMpt, sameExpunges } from './mpt-script.js';

void test('parseMpt: C:, S:, continuation, SUB blocks, SESSION and REINIT; LOG, TIMER, AWAIT and WAIT do nothing', () => {
  const s = parseMpt(
    ['# comment', 'C: a1 APPEND x {3}', 'S: \\+ Ok', 'C: abc', 'C:', 'LOG INFO hello', 'SESSION: 2', 'SUB {', 'S: \\* 1 EXISTS', 'S: \\* 1 RECENT', '}', 'AWAIT', 'WAIT 100', 'REINIT', 'S: a1 OK.*'].join('\n'),
  );
  assert.equal(s.sessions, 3);
  assert.deepEqual(
    s.steps.map((x) => [x.op, x.session]),
    [
      ['send', -1],
      ['continuation', -1],
      ['send', -1],
      ['send', -1],
      ['unordered', 2],
      ['reinit', 2],
      ['expect', 2],
    ],
  );
  assert.equal(s.steps[3].op === 'send' && s.steps[3].text, '');
  assert.throws(() => parseMpt('X: what'), /script:1: unknown line/);
  assert.throws(() => parseMpt('SUB {\nS: a'), /SUB \{ without \}/);
});

void test('matchLine: the whole line must match the regex (Java Pattern.matches)', () => {
  assert.deepEqual(matchLine('\\* 4 EXISTS', '* 4 EXISTS'), { ok: true, relaxed: [] });
  assert.equal(matchLine('\\* 4 EXISTS', '* 14 EXISTS').ok, false);
  assert.equal(matchLine('\\* 4 EXISTS', '* 4 EXISTS more').ok, false);
  assert.equal(matchLine('\\* SEARCH 1 2', '* SEARCH 1 3').ok, false);
  assert.equal(matchLine('', '').ok, true);
});

void test('matchLine: status responses compare tag, status and code, not the human text', () => {
  assert.deepEqual(matchLine('a1 OK FETCH completed.', 'a1 OK Fetch done'), { ok: true, relaxed: ['resp-text'] });
  assert.equal(matchLine('a1 OK FETCH completed.', 'a1 NO FETCH completed.').ok, false);
  assert.equal(matchLine('a1 OK FETCH completed.', 'a2 OK FETCH completed.').ok, false);
  assert.equal(matchLine('a1 BAD LOGIN failed. Illegal arguments.', 'a1 NO Invalid').ok, false);
  assert.deepEqual(matchLine('a1 OK \\[READ-WRITE\\] SELECT completed.', 'a1 OK [READ-WRITE] Selected'), { ok: true, relaxed: ['resp-text'] });
  assert.equal(matchLine('a1 OK \\[READ-WRITE\\] SELECT completed.', 'a1 OK [READ-ONLY] SELECT completed.').ok, false);
  assert.equal(matchLine('a1 OK \\[READ-WRITE\\] SELECT completed.', 'a1 OK SELECT completed.').ok, false);
  assert.deepEqual(matchLine('A3 OK (\\[.+\\] )?APPEND completed.', 'A3 OK [APPENDUID 9 1] Appended'), { ok: true, relaxed: ['resp-text'] });
  assert.deepEqual(matchLine('a OK CREATE completed.', 'a OK [MAILBOXID (x1)] Created'), { ok: true, relaxed: ['resp-text', 'extra-code'] });
  assert.deepEqual(matchLine('\\* OK \\[UIDVALIDITY \\d+\\].*', '* OK [UIDVALIDITY 42] valid'), { ok: true, relaxed: [] });
  assert.equal(matchLine('\\* OK \\[UIDNEXT 5\\].*', '* OK [UIDNEXT 6] next').ok, false);
});

void test('matchLine: codes of extensions we do not offer (MAILBOXID) are dropped; a line of only one is optional', () => {
  assert.deepEqual(matchLine('a OK \\[MAILBOXID \\(.+\\)\\] CREATE completed.', 'a OK CREATE completed'), { ok: true, relaxed: ['resp-text', 'mailboxid'] });
  assert.equal(optionalLine('\\* OK \\[MAILBOXID \\(.+\\)\\] Ok'), 'mailboxid');
  assert.equal(optionalLine('\\* OK \\[UIDNEXT 1\\].*'), undefined);
  // a code the caller lets the server leave out (HIGHESTMODSEQ against Dovecot), and only that one
  const modseq = [{ code: /^HIGHESTMODSEQ\b/, relaxation: 'highestmodseq' }];
  assert.equal(optionalLine('\\* OK \\[HIGHESTMODSEQ \\d+\\].*', modseq), 'highestmodseq');
  assert.equal(optionalLine('\\* OK \\[HIGHESTMODSEQ \\d+\\].*'), undefined);
  assert.equal(optionalLine('\\* OK \\[UIDNEXT 1\\].*', modseq), undefined);
  // the optional line is not met by another untagged OK
  assert.equal(matchLine('\\* OK \\[MAILBOXID \\(.+\\)\\] Ok', '* OK [UIDNEXT 1] next').ok, false);
});

void test('matchLine: STATUS items in any order, but the same items and values', () => {
  const want = '\\* STATUS \\"statustest\\" \\(MESSAGES 1 SIZE 254 UNSEEN 1\\)';
  assert.deepEqual(matchLine(want, '* STATUS statustest (MESSAGES 1 UNSEEN 1 SIZE 254)'), { ok: true, relaxed: ['status-order', 'astring'] });
  assert.deepEqual(matchLine(want, '* STATUS "statustest" (MESSAGES 1 SIZE 254 UNSEEN 1)'), { ok: true, relaxed: [] });
  assert.equal(matchLine(want, '* STATUS statustest (MESSAGES 1 UNSEEN 2 SIZE 254)').ok, false);
  assert.equal(matchLine(want, '* STATUS statustest (MESSAGES 1 UNSEEN 1)').ok, false);
  // DELETED is its own item, not the start of DELETED-STORAGE
  assert.deepEqual(matchLine('\\* STATUS x \\(DELETED-STORAGE 5 DELETED 2\\)', '* STATUS x (DELETED 2 DELETED-STORAGE 5)'), { ok: true, relaxed: ['status-order'] });
});

void test('matchLine: flag lists as sets, mailbox names as atom or quoted string', () => {
  const flags = '\\* FLAGS \\(\\\\Answered \\\\Deleted \\\\Draft \\\\Flagged \\\\Seen\\)';
  assert.deepEqual(matchLine(flags, '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)'), { ok: true, relaxed: ['flag-order'] });
  assert.equal(matchLine(flags, '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen)').ok, false);
  assert.deepEqual(matchLine('\\* 1 FETCH \\(FLAGS \\(\\\\Seen \\\\Recent\\)\\)', '* 1 FETCH (FLAGS (\\Recent \\Seen))').ok, false);
  assert.equal(matchLine('\\* 1 FETCH \\(FLAGS \\(\\\\Recent \\\\Seen\\)\\)', '* 1 FETCH (FLAGS (\\Seen \\Recent))').ok, true);
  assert.deepEqual(matchLine('\\* LIST \\(\\\\HasNoChildren\\) "\\." "INBOX"', '* LIST (\\HasNoChildren) "." INBOX'), { ok: true, relaxed: ['astring'] });
  assert.deepEqual(matchLine('\\* STATUS "a" \\(MESSAGES 0\\)', '* STATUS a (MESSAGES 0)'), { ok: true, relaxed: ['astring'] });
  assert.equal(matchLine('\\* LIST \\(\\\\HasNoChildren\\) "\\." "INBOX"', '* LIST (\\HasNoChildren) "." INBOX2').ok, false);
});

void test('matchLine: a UID item the script does not expect, or expects last', () => {
  assert.deepEqual(matchLine('\\* 1 FETCH \\(FLAGS \\(\\\\Flagged\\)\\)', '* 1 FETCH (UID 7 FLAGS (\\Flagged))'), { ok: true, relaxed: ['fetch-uid'] });
  assert.deepEqual(matchLine('\\* 1 FETCH \\(INTERNALDATE "[^"]*" UID 2\\)', '* 1 FETCH (UID 2 INTERNALDATE "x")'), { ok: true, relaxed: ['fetch-uid'] });
  assert.equal(matchLine('\\* 1 FETCH \\(INTERNALDATE "[^"]*" UID 2\\)', '* 1 FETCH (UID 3 INTERNALDATE "x")').ok, false);
});

void test('sameExpunges and groupExpunges: EXPUNGE 1 1 1 and 3 2 1 remove the same messages', () => {
  assert.equal(sameExpunges([1, 1, 1], ['* 3 EXPUNGE', '* 2 EXPUNGE', '* 1 EXPUNGE']), true);
  assert.equal(sameExpunges([2, 2], ['* 3 EXPUNGE', '* 2 EXPUNGE']), true);
  assert.equal(sameExpunges([1, 1], ['* 2 EXPUNGE', '* 2 EXPUNGE']), false);
  const steps = groupExpunges(parseMpt('S: \\* 1 EXPUNGE\nS: \\* 1 EXPUNGE\nS: a OK').steps);
  assert.deepEqual(steps.map((s) => s.op), ['expunges', 'expect']);
});

void test('matchUnordered: each pattern meets a different line, in any order', () => {
  assert.deepEqual(matchUnordered(['\\* 1 EXISTS', '\\* 1 RECENT'], ['* 1 RECENT', '* 1 EXISTS']), []);
  assert.deepEqual(matchUnordered(['\\* \\d EXISTS', '\\* 1 EXISTS'], ['* 1 EXISTS', '* 2 EXISTS']), []);
  assert.equal(matchUnordered(['\\* 1 EXISTS', '\\* 1 EXISTS'], ['* 1 EXISTS', '* 2 EXISTS']), undefined);
  assert.deepEqual(matchUnordered(['\\* 1 EXISTS', '\\* \\d EXISTS'], ['* 1 EXISTS', '* 2 EXISTS']), []);
  assert.equal(matchUnordered(['\\* 1 EXISTS'], ['* 1 EXISTS', '* 1 RECENT']), undefined);
});
