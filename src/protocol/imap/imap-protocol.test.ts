import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  ImapLiteral,
  atom,
  bodyStructure,
  decodeMutf7,
  encodeMutf7,
  encodeValueBuffer,
  envelopeOf,
  findPart,
  formatDateTime,
  formatSequenceSet,
  inSequenceSet,
  isSavedResult,
  literalAtEnd,
  parseDateTime,
  parseImapCommand,
  parseImapUrl,
  parseMimeTree,
  parseSequenceSet,
  savedResult,
} from './index.js';

const parse = (s: string): ReturnType<typeof parseImapCommand> => parseImapCommand(Buffer.from(s, 'latin1'));

void test('commands: tags, atoms, quoted strings, literals (incl. LITERAL+), lists', () => {
  const cases: [string, unknown][] = [
    ['a1 NOOP', { name: 'NOOP' }],
    ['a1 login "suzana@dc.uece.br" "p\\"w\\\\d"', { name: 'LOGIN', user: 'suzana@dc.uece.br', password: 'p"w\\d' }],
    ['a1 LOGIN {17}\r\nsuzana@dc.uece.br {3+}\r\nabc', { name: 'LOGIN', user: 'suzana@dc.uece.br', password: 'abc' }],
    ['x AUTHENTICATE PLAIN =', { name: 'AUTHENTICATE', mechanism: 'PLAIN', initial: '' }],
    ['x AUTHENTICATE plain AHUAcA==', { name: 'AUTHENTICATE', mechanism: 'PLAIN', initial: 'AHUAcA==' }],
    ['x ENABLE CONDSTORE utf8=accept', { name: 'ENABLE', capabilities: ['CONDSTORE', 'UTF8=ACCEPT'] }],
    ['x ID ("name" "mutt" "version" NIL)', { name: 'ID', params: [['name', 'mutt'], ['version', null]] }],
    ['x ID NIL', { name: 'ID', params: null }],
    ['x RENAME a "b c"', { name: 'RENAME', from: Buffer.from('a'), to: Buffer.from('b c') }],
    ['x STATUS INBOX (MESSAGES UIDNEXT size)', { name: 'STATUS', mailbox: Buffer.from('INBOX'), items: ['MESSAGES', 'UIDNEXT', 'SIZE'] }],
    ['x STORE 1:3 +FLAGS.SILENT (\\Seen \\Deleted)', { name: 'STORE', uid: false, set: [{ from: 1, to: 3 }], mode: 'add', silent: true, flags: ['\\Seen', '\\Deleted'] }],
    ['x UID STORE 5 FLAGS \\Seen', { name: 'STORE', uid: true, set: [{ from: 5, to: 5 }], mode: 'set', silent: false, flags: ['\\Seen'] }],
    ['x UID MOVE 1:* Trash', { name: 'MOVE', uid: true, set: [{ from: 1, to: Infinity }], mailbox: Buffer.from('Trash') }],
    ['x UID EXPUNGE 3,5:7', { name: 'UID EXPUNGE', set: [{ from: 3, to: 3 }, { from: 5, to: 7 }] }],
    // RFC 9208 §4
    ['x GETQUOTA ""', { name: 'GETQUOTA', root: Buffer.alloc(0) }],
    ['x getquotaroot INBOX', { name: 'GETQUOTAROOT', mailbox: Buffer.from('INBOX') }],
    ['x SETQUOTA "" (storage 512 MESSAGE 100)', { name: 'SETQUOTA', root: Buffer.alloc(0), limits: [['STORAGE', 512], ['MESSAGE', 100]] }],
    ['x SETQUOTA "" ()', { name: 'SETQUOTA', root: Buffer.alloc(0), limits: [] }],
  ];
  for (const [line, want] of cases) {
    const r = parse(line);
    assert.ok(r.ok, `${line}: ${r.ok ? '' : r.reason}`);
    assert.deepEqual(r.command, want, line);
  }
});

void test('LIST, APPEND and SEARCH forms', () => {
  const l = parse('t LIST (SUBSCRIBED) "" ("INBOX" %) RETURN (SPECIAL-USE CHILDREN)');
  assert.ok(l.ok && l.command.name === 'LIST');
  assert.deepEqual(l.command.selection, ['SUBSCRIBED']);
  assert.deepEqual(l.command.patterns.map(String), ['INBOX', '%']);
  assert.deepEqual(l.command.returns, { subscribed: false, children: true, specialUse: true });
  const a = parse('t APPEND Sent (\\Seen) " 4-Dec-2026 10:00:00 -0300" {5+}\r\nhello');
  assert.ok(a.ok && a.command.name === 'APPEND');
  assert.deepEqual(a.command.messages[0].flags, ['\\Seen']);
  assert.equal(a.command.messages[0].date, Date.UTC(2026, 11, 4, 13, 0, 0));
  assert.equal(a.command.messages[0].message.toString(), 'hello');
  // RFC 3502 MULTIAPPEND, RFC 3516 literal8, RFC 6855 UTF8 data
  const m = parse('t APPEND Sent {2+}\r\nhi (\\Draft) ~{3+}\r\na\u0000b UTF8 (~{2+}\r\nyo)');
  assert.ok(m.ok && m.command.name === 'APPEND');
  // `binary`: sent as literal8 (RFC 3516 §4.4: kept exactly or refused), not UTF8 data
  assert.deepEqual(m.command.messages.map((x) => [x.flags, x.message.toString('latin1'), x.utf8 ?? false, x.binary ?? false]), [
    [[], 'hi', false, false],
    [['\\Draft'], 'a\u0000b', false, true],
    [[], 'yo', true, false],
  ]);
  assert.equal(parse('t APPEND Sent {2+}\r\nhi ').ok, false);
  assert.equal(parse('t APPEND Sent').ok, false);
  const s = parse('t UID SEARCH CHARSET UTF-8 OR FROM "ana" (SUBJECT x NOT SEEN) SINCE 1-Feb-2020 LARGER 10 1:5');
  assert.ok(s.ok && s.command.name === 'SEARCH');
  assert.equal(s.command.charset, 'UTF-8');
  assert.deepEqual(s.command.key, {
    op: 'and',
    keys: [
      { op: 'or', a: { op: 'header', field: 'FROM', value: 'ana' }, b: { op: 'and', keys: [{ op: 'header', field: 'SUBJECT', value: 'x' }, { op: 'not', key: { op: 'seen' } }] } },
      { op: 'since', date: Date.UTC(2020, 1, 1) },
      { op: 'larger', size: 10 },
      { op: 'seq', set: [{ from: 1, to: 5 }] },
    ],
  });
});

void test('RFC 7162 arguments: SELECT parameters, FETCH modifiers, STORE UNCHANGEDSINCE, SEARCH MODSEQ', () => {
  const sel = parse('t SELECT INBOX (QRESYNC (67890007 715194045000 41,43:211,214:541 (1:3 41:43)) CONDSTORE)');
  assert.ok(sel.ok && sel.command.name === 'SELECT');
  assert.equal(sel.command.condstore, true);
  assert.deepEqual(sel.command.qresync, {
    uidValidity: 67890007,
    modseq: 715194045000,
    knownUids: [{ from: 41, to: 41 }, { from: 43, to: 211 }, { from: 214, to: 541 }],
    seqMatch: { seqs: [{ from: 1, to: 3 }], uids: [{ from: 41, to: 43 }] },
  });
  const short = parse('t EXAMINE x (QRESYNC (1 2))');
  assert.ok(short.ok && short.command.name === 'EXAMINE');
  assert.deepEqual(short.command.qresync, { uidValidity: 1, modseq: 2 });
  const f = parse('t UID FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 12345 VANISHED)');
  assert.ok(f.ok && f.command.name === 'FETCH');
  assert.deepEqual([f.command.items, f.command.changedSince, f.command.vanished], [[{ kind: 'FLAGS' }, { kind: 'MODSEQ' }], 12345, true]);
  const st = parse('t STORE 1:3 (UNCHANGEDSINCE 9223372036854775807) +FLAGS.SILENT ($Forwarded \\Seen)');
  assert.ok(st.ok && st.command.name === 'STORE');
  assert.deepEqual([st.command.unchangedSince, st.command.flags, st.command.silent], [Number.MAX_SAFE_INTEGER, ['$Forwarded', '\\Seen'], true]);
  const se = parse('t SEARCH MODSEQ "/flags/\\\\draft" all 620162338 UNSEEN');
  assert.ok(se.ok && se.command.name === 'SEARCH');
  assert.deepEqual(se.command.key, { op: 'and', keys: [{ op: 'modseq', modseq: 620162338 }, { op: 'unseen' }] });
  const status = parse('t STATUS INBOX (HIGHESTMODSEQ MESSAGES)');
  assert.ok(status.ok && status.command.name === 'STATUS');
  assert.deepEqual(status.command.items, ['HIGHESTMODSEQ', 'MESSAGES']);
});

void test('ESEARCH, SEARCHRES and LIST-EXTENDED arguments: RETURN options, "$", selection and return options', () => {
  const se = parse('t UID SEARCH RETURN (MIN SAVE) $');
  assert.ok(se.ok && se.command.name === 'SEARCH');
  assert.deepEqual(se.command.returns, ['MIN', 'SAVE']);
  assert.ok(se.command.key.op === 'seq' && isSavedResult(se.command.key.set));
  const f = parse('t FETCH $ FLAGS');
  assert.ok(f.ok && f.command.name === 'FETCH' && isSavedResult(f.command.set));
  assert.equal(inSequenceSet(savedResult, 1, 10), false, '"$" matches nothing until the session resolves it');
  const l = parse('t LIST (SUBSCRIBED RECURSIVEMATCH) "" (a b%) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))');
  assert.ok(l.ok && l.command.name === 'LIST');
  assert.deepEqual(l.command.selection, ['SUBSCRIBED', 'RECURSIVEMATCH']);
  assert.deepEqual(l.command.returns, { subscribed: false, children: true, specialUse: false, status: ['MESSAGES', 'UNSEEN'] });
});

void test('FETCH items: macros, sections, partials', () => {
  const f = parse('t FETCH 1 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From to)]<0.100> BODY[TEXT] BODY[2.MIME] BODY[] RFC822.SIZE BINARY.PEEK[1])');
  assert.ok(f.ok && f.command.name === 'FETCH');
  assert.deepEqual(f.command.items, [
    { kind: 'FLAGS' },
    { kind: 'BODY[]', peek: true, section: { part: [1, 2], text: 'HEADER.FIELDS', fields: ['FROM', 'TO'] }, label: '1.2.HEADER.FIELDS (FROM TO)', partial: { origin: 0, length: 100 } },
    { kind: 'BODY[]', peek: false, section: { part: [], text: 'TEXT' }, label: 'TEXT' },
    { kind: 'BODY[]', peek: false, section: { part: [2], text: 'MIME' }, label: '2.MIME' },
    { kind: 'BODY[]', peek: false, section: { part: [] }, label: '' },
    { kind: 'RFC822.SIZE' },
    { kind: 'BINARY[]', peek: true, section: { part: [1] }, label: '1' },
  ]);
  const m = parse('t FETCH 1:* fast');
  assert.ok(m.ok && m.command.name === 'FETCH');
  assert.deepEqual(m.command.items.map((i) => i.kind), ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE']);
});

void test('bad input: a clear reason with the tag, never an exception', () => {
  const bad = [
    'a1 FETCH 0 FLAGS', 'a1 FETCH 1:x FLAGS', 'a1 FETCH 1 (FLAGS', 'a1 FETCH 1 BODY[MIME]', 'a1 FETCH 1 FOO',
    'a1 LOGIN "unterminated', 'a1 LOGIN {5}\r\nab', 'a1 SEARCH NOT', 'a1 SEARCH ' + '('.repeat(200) + 'ALL' + ')'.repeat(200),
    'a1 SEARCH SINCE 31-Foo-2020', 'a1 STORE 1 FLAGZ (\\Seen)', 'a1 SELECT INBOX (FOO)', 'a1 SEARCH RETURN (PARTIAL 1:5 ALL) ALL', 'a1 SEARCH RETURN (PARTIAL 0:5) ALL', 'a1 LIST (RECURSIVEMATCH) "" %', 'a1 LIST (FOO) "" %', 'a1 LIST "" % RETURN (STATUS ())', 'a1 FETCH 1,$ FLAGS', 'a1 SELECT INBOX (QRESYNC (0 1))', 'a1 FETCH 1 FLAGS (CHANGEDSINCE)', 'a1 STORE 1 (UNCHANGEDSINCE x) FLAGS (\\Seen)', 'a1 SEARCH MODSEQ "/x" all 1', 'a1 FETCH 1 FLAGS (CHANGEDSINCE 99999999999999999999)', 'a1 FETCH 99999999999 FLAGS',
    'a1 FETCH ' + Array.from({ length: 10_001 }, (_, i) => i + 1).join(',') + ' FLAGS', 'a1 NOOP extra',
    'a1 GETQUOTA', 'a1 SETQUOTA "" (STORAGE)', 'a1 SETQUOTA "" (STORAGE x)', 'a1 UID GETQUOTA ""',
  ];
  for (const line of bad) {
    const r = parse(line);
    assert.equal(r.ok, false, line.slice(0, 60));
    assert.equal(r.tag, 'a1');
  }
  assert.deepEqual(parse('a1 XYZZY'), { ok: false, tag: 'a1', reason: 'unknown command XYZZY', unknown: true });
  assert.equal(parse('+ NOOP').ok, false);
});

void test('sequence sets: "*" and reversed ranges against the mailbox', () => {
  const s = parseSequenceSet('*:4,1')!;
  assert.ok(inSequenceSet(s, 3, 3) && inSequenceSet(s, 1, 3) && !inSequenceSet(s, 2, 3));
  assert.ok(inSequenceSet(s, 5, 9));
  assert.equal(parseSequenceSet('1,,2'), undefined);
  assert.equal(formatSequenceSet([1, 2, 3, 7, 9, 10]), '1:3,7,9:10');
});

void test('literal announcements at the end of a line', () => {
  assert.deepEqual(literalAtEnd(Buffer.from('a APPEND x {12}')), { size: 12, sync: true });
  assert.deepEqual(literalAtEnd(Buffer.from('a APPEND x {12+}')), { size: 12, sync: false });
  assert.equal(literalAtEnd(Buffer.from('a LOGIN x {y}')), undefined);
  assert.equal(literalAtEnd(Buffer.from('a NOOP')), undefined);
});

void test('values: quoted when safe, literals for 8-bit, CR/LF and long text', () => {
  const enc = (v: Parameters<typeof encodeValueBuffer>[0]): string => encodeValueBuffer(v).toString('latin1');
  assert.equal(enc([null, 5, atom('\\Seen'), 'a "b" \\c']), '(NIL 5 \\Seen "a \\"b\\" \\\\c")');
  assert.equal(enc('olá'), '{4}\r\nolá'.replace('olá', Buffer.from('olá').toString('latin1')));
  assert.equal(enc('a\r\nb'), '{4}\r\na\r\nb');
  assert.equal(enc(new ImapLiteral(Buffer.from('x'))), '{1}\r\nx');
  assert.equal(encodeValueBuffer('olá', true).toString('utf8'), '"olá"');
});

void test('dates: INTERNALDATE round trip', () => {
  const t = parseDateTime('04-Dec-2026 21:00:05 +0100')!;
  assert.equal(formatDateTime(t), '04-Dec-2026 20:00:05 +0000');
  assert.equal(parseDateTime('32-Dec-2026 21:00:05 +0100'), undefined);
});

void test('modified UTF-7 names', () => {
  for (const [u, m] of [['Entwürfe', 'Entw&APw-rfe'], ['a&b', 'a&-b'], ['日本語', '&ZeVnLIqe-']]) {
    assert.equal(encodeMutf7(u), m);
    assert.equal(decodeMutf7(m), u);
  }
  for (const bad of ['&Jjo', '&AGE-', 'a\u00e9', '&A-']) assert.equal(decodeMutf7(bad), undefined, bad);
});

const multipart = [
  'From: "Suzana M." <suzana@dc.uece.br>, Undisclosed: ;',
  'To: helvecio@dsc.ufpb.br',
  'Subject: =?UTF-8?Q?ol=C3=A1?=',
  'Date: Fri, 4 Dec 2026 10:00:00 -0300',
  'Message-ID: <1@dc.uece.br>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="XX"',
  '',
  'preamble',
  '--XX',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'first part',
  '--XX',
  'Content-Type: message/rfc822',
  'Content-Disposition: attachment; filename="m.eml"',
  '',
  'Subject: inner',
  '',
  'inner body',
  '--XX--',
  'epilogue',
  '',
].join('\r\n');

void test('MIME tree, part paths, BODYSTRUCTURE and ENVELOPE', () => {
  const buf = Buffer.from(multipart, 'latin1');
  const tree = parseMimeTree(buf);
  assert.equal(tree.children?.length, 2);
  const p1 = findPart(tree, [1])!;
  assert.equal(buf.toString('latin1', p1.bodyStart, p1.end), 'first part');
  const p21 = findPart(tree, [2, 1])!;
  assert.equal(buf.toString('latin1', p21.bodyStart, p21.end), 'inner body');
  assert.equal(findPart(tree, [3]), undefined);
  const bs = encodeValueBuffer(bodyStructure(buf, tree, true)).toString('latin1');
  assert.equal(
    bs,
    // lines are line ends, as Dovecot counts: a part's last line ends in its delimiter's CRLF
    '(("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 10 0 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 28 ' +
      '(NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 0 NIL NIL NIL NIL) 2 NIL ("attachment" ("filename" "m.eml")) NIL NIL)' +
      ' "mixed" ("boundary" "XX") NIL NIL NIL)',
  );
  const env = encodeValueBuffer(envelopeOf(tree.fields)).toString('latin1');
  assert.equal(
    env,
    '("Fri, 4 Dec 2026 10:00:00 -0300" "=?UTF-8?Q?ol=C3=A1?=" (("Suzana M." NIL "suzana" "dc.uece.br")(NIL NIL "Undisclosed" NIL)(NIL NIL NIL NIL)) ' +
      '(("Suzana M." NIL "suzana" "dc.uece.br")(NIL NIL "Undisclosed" NIL)(NIL NIL NIL NIL)) (("Suzana M." NIL "suzana" "dc.uece.br")(NIL NIL "Undisclosed" NIL)(NIL NIL NIL NIL)) ' +
      '((NIL NIL "helvecio" "dsc.ufpb.br")) NIL NIL NIL "<1@dc.uece.br>")',
  );
});

void test('broken MIME still gives a structure: no boundary, no header end, deep nesting', () => {
  for (const text of ['Content-Type: multipart/mixed\r\n\r\nbody', 'Subject: x', '', 'Content-Type: multipart/mixed; boundary=a\r\n\r\n' + '--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n'.repeat(100)]) {
    const buf = Buffer.from(text);
    const tree = parseMimeTree(buf);
    assert.ok(encodeValueBuffer(bodyStructure(buf, tree, true)).length > 0);
    assert.ok(encodeValueBuffer(envelopeOf(tree.fields)).length > 0);
  }
});

// Dovecot's imaptest scripts: every command line a script expects "ok" for must parse.
const corpus = join(process.cwd(), '..', 'shared', 'corpora', 'imap', 'imaptest', 'tests');
void test('command lines of the imaptest scripts parse', { skip: existsSync(corpus) ? false : `${corpus} is absent` }, () => {
  let n = 0;
  const vars = (s: string): string =>
    s.replace(/\$mailbox\b/g, 'INBOX').replace(/\$(uidvalidity|uidnext|uid\d*|\d+|modseq\d*|highestmodseq)\b/gi, '1').replace(/\$[a-z_][a-z0-9_]*/gi, 'x');
  for (const file of readdirSync(corpus)) {
    if (file.endsWith('.mbox') || !statSync(join(corpus, file)).isFile()) continue;
    const text = readFileSync(join(corpus, file), 'latin1');
    const body = text.slice(text.indexOf('\n\n') + 2);
    for (const raw of body.split('\n')) {
      // "ok cmd", or "N ok cmd" with several connections; skip commands of extensions we do not parse
      const m = /^(?:\d+ )?ok (.*)$/.exec(raw);
      if (!m || m[1].startsWith('[') || /[{}$]|\b(condstore|qresync|modseq|changedsince|unchangedsince|return|esearch|sort|thread|catenate|notify|metadata|getquota|setquota|compress|urlfetch|genurlauth|x-|context|cancelupdate|partial|binary|utf8|list-extended|select .* \(|examine .* \(|fuzzy|vanished|multiappend|create .* \()/i.test(m[1])) continue;
      if (/^append/i.test(m[1]) || /^(status .*\(.*(highestmodseq|appendlimit)|enable|id |getmetadata|setmetadata|namespace x)/i.test(m[1])) continue;
      const r = parse(`a ${vars(m[1])}`);
      assert.ok(r.ok, `${file}: ${raw} → ${r.ok ? '' : r.reason}`);
      n++;
    }
  }
  assert.ok(n > 100, `only ${n} command lines checked`);
});

void test('RFC 5092 IMAP URLs for CATENATE: relative and absolute, sections, partial ranges, %-encoding; other forms refused', () => {
  assert.deepEqual(parseImapUrl('/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME'), { mailbox: 'Drafts', uidValidity: 385759045, uid: 20, section: '1.MIME' });
  assert.deepEqual(parseImapUrl('imap://Fred%40x.example;AUTH=*@Mail.Example:143/Caf%C3%A9/;UID=3'), { user: 'fred@x.example', host: 'mail.example', mailbox: 'Café', uid: 3, section: '' });
  // RFC 5092 §3: ";PARTIAL=" origin ["." nz-length]
  assert.deepEqual(parseImapUrl('/INBOX/;UID=1/;SECTION=TEXT/;PARTIAL=100000.1'), { mailbox: 'INBOX', uid: 1, section: 'TEXT', partial: { origin: 100000, length: 1 } });
  assert.deepEqual(parseImapUrl('/INBOX/;UID=1/;partial=7'), { mailbox: 'INBOX', uid: 1, section: '', partial: { origin: 7 } });
  for (const bad of ['INBOX/;UID=1', '/INBOX', '/INBOX/;UID=0', '/INBOX?SUBJECT%20x', '/INBOX/;UID=1/;PARTIAL=0.0', '/INBOX/;UID=1/;PARTIAL=x', '/IN%ZZ/;UID=1', 'http://x/INBOX/;UID=1']) assert.equal(parseImapUrl(bad), undefined, bad);
  const append = parseImapCommand(Buffer.from('a APPEND Drafts CATENATE (TEXT {2+}\r\nhi URL "/INBOX/;UID=1")'));
  assert.equal(append.ok && append.command.name === 'APPEND' && JSON.stringify(append.command.messages[0].catenate?.map((p) => ('url' in p ? p.url : p.text.toString()))), '["hi","/INBOX/;UID=1"]');
});
