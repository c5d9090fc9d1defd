import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseSubject, compareForSort, formatThreads, parseImapCommand, threadOrderedSubject, threadReferences, type SortFields, type ThreadMessage } from './index.js';

void test('RFC 5256 §2.1 base subject: leaders, blobs, trailers, [fwd: ] wrappers, whitespace', () => {
  const table: [string, string, boolean][] = [
    ['Hello', 'HELLO', false],
    ['Re: [list] Fwd: Hello (fwd)', 'HELLO', true],
    ['[list] Hello', 'HELLO', false],
    ['[fwd: Re: hi]', 'HI', true],
    ['   re  :   x  ', 'X', true],
    ['RE: Re: re: deep', 'DEEP', true],
    ['Fw: one', 'ONE', true],
    ['[only blob]', '[ONLY BLOB]', false],
    ['Re:', '', true],
    ['Refinance: rates', 'REFINANCE: RATES', false],
    ['Re[2]: counted', 'COUNTED', true],
    ['Subject\twith   spaces', 'SUBJECT WITH SPACES', false],
    ['Éte Re: é', 'ÉTE RE: é', false],
  ];
  for (const [subject, base, reply] of table) assert.deepEqual(baseSubject(subject), { base, reply }, subject);
});

void test('SORT criteria: REVERSE per key, ties in mailbox order; SORT and THREAD parse', () => {
  const f = (order: number, size: number, from: string): SortFields => ({ order, arrival: 0, date: 0, size, cc: '', from, to: '', subject: '' });
  const rows = [f(1, 10, 'B'), f(2, 30, 'A'), f(3, 10, 'A'), f(4, 20, '')];
  const by = (c: Parameters<typeof compareForSort>[0]): number[] => [...rows].sort((a, b) => compareForSort(c, a, b)).map((x) => x.order);
  assert.deepEqual(by([{ key: 'SIZE', reverse: false }]), [1, 3, 4, 2]);
  assert.deepEqual(by([{ key: 'SIZE', reverse: true }]), [2, 4, 1, 3]);
  assert.deepEqual(by([{ key: 'FROM', reverse: false }, { key: 'SIZE', reverse: true }]), [4, 2, 3, 1]);
  const s = parseImapCommand(Buffer.from('t UID SORT (REVERSE DATE SUBJECT) UTF-8 UNSEEN'));
  assert.ok(s.ok && s.command.name === 'SORT');
  assert.deepEqual(s.command.criteria, [{ key: 'DATE', reverse: true }, { key: 'SUBJECT', reverse: false }]);
  assert.equal(s.command.uid, true);
  const t = parseImapCommand(Buffer.from('t THREAD REFERENCES US-ASCII ALL'));
  assert.ok(t.ok && t.command.name === 'THREAD' && t.command.algorithm === 'REFERENCES');
  for (const bad of ['t SORT () UTF-8 ALL', 't SORT (REVERSE) UTF-8 ALL', 't SORT (COLOR) UTF-8 ALL', 't SORT (DATE) ALL', 't THREAD X UTF-8 ALL']) {
    assert.equal(parseImapCommand(Buffer.from(bad)).ok, false, bad);
  }
});

function m(order: number, subject: string, messageId?: string, references: string[] = []): ThreadMessage {
  const { base, reply } = baseSubject(subject);
  return { id: order, order, sentAt: order * 1000, subject: base, reply, ...(messageId && { messageId }), references };
}

const sample = [
  m(1, 'a', '<1@x>'),
  m(2, 'Re: a', '<2@x>', ['<1@x>']),
  m(3, 'b', '<3@x>'),
  m(4, 'Re: a', '<4@x>', ['<2@x>']),
  m(5, 'Re: b', '<5@x>', ['<missing@x>']),
  m(6, 'c'),
  m(7, 'Fwd: c', '<7@x>'),
];

void test('THREAD=ORDEREDSUBJECT: groups by base subject, the first the parent of the rest', () => {
  assert.equal(formatThreads(threadOrderedSubject(sample)), '(1 (2)(4))(3 5)(6 7)');
});

void test('THREAD=REFERENCES: parents from References, dummies pruned, replies grouped under their subject', () => {
  assert.equal(formatThreads(threadReferences(sample)), '(1 2 4)(3 5)(6 7)');
  // two messages answering one that is not there: a dummy at the root holds them
  const dummy = [m(1, 'x', '<a@x>', ['<gone@x>']), m(2, 'y', '<b@x>', ['<gone@x>'])];
  assert.equal(formatThreads(threadReferences(dummy)), '((1)(2))');
  // a loop in References is never followed; a duplicate Message-ID is another message
  const loop = [m(1, 'p', '<p@x>', ['<q@x>']), m(2, 'q', '<q@x>', ['<p@x>']), m(3, 'r', '<p@x>')];
  assert.equal(formatThreads(threadReferences(loop)), '(2 1)(3)');
  // RFC 5256 §4 example shape: siblings in brackets, a chain without
  const tree = [m(1, 'Re: t', '<1@t>', ['<0@t>']), m(2, 't', '<0@t>'), m(3, 'Re: t', '<3@t>', ['<0@t>']), m(4, 'Re: t', '<4@t>', ['<0@t>', '<3@t>'])];
  assert.equal(formatThreads(threadReferences(tree)), '(2 (1)(3 4))');
});
