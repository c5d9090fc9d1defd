import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  aliasMap,
  ownerAliasFor,
  parseAliases,
  parseTarget,
  qualifyAliases,
  readAliasesFile,
  splitTargetList,
} from './aliases-file.js';

// Each row: file text → the aliases (name → targets) that load.
const good: [string, string, Record<string, string[]>][] = [
  ['one target', 'root: suzana', { root: ['suzana'] }],
  ['one-to-many', 'staff: ana, bia@dc.uece.br, carla@Example.ORG', { staff: ['ana', 'bia@dc.uece.br', 'carla@example.org'] }],
  ['many-to-one', 'webmaster: suzana\nabuse: suzana', { webmaster: ['suzana'], abuse: ['suzana'] }],
  ['continuation lines', 'staff: ana,\n  bia,\n\tcarla', { staff: ['ana', 'bia', 'carla'] }],
  ['targets only on continuation lines', 'staff:\n    ana,\n    bia', { staff: ['ana', 'bia'] }],
  ['comments and blank lines', '# header\n\nroot: ana\n   # indented comment\n  , bia\n', { root: ['ana', 'bia'] }],
  ['CRLF line ends', 'root: ana\r\nabuse: bia\r\n', { root: ['ana'], abuse: ['bia'] }],
  ['names are folded to lower case', 'Root: ana', { root: ['ana'] }],
  ['quoted name', '"john doe": john', { 'john doe': ['john'] }],
  ['quoted name with colon', '"a:b": x', { 'a:b': ['x'] }],
  ['name with domain', 'info@example.org: ana', { 'info@example.org': ['ana'] }],
  ['catch-all', '@example.org: ana', { '@example.org': ['ana'] }],
  ['pipe', 'bot: |/usr/bin/robot -v', { bot: ['|/usr/bin/robot -v'] }],
  ['quoted pipe with args and comma', 'bot: "|/usr/bin/robot --to a,b", ana', { bot: ['|/usr/bin/robot --to a,b', 'ana'] }],
  ['file', 'log: /var/log/mail.archive', { log: ['/var/log/mail.archive'] }],
  ['quoted file with space', 'log: "/var/mail/my archive"', { log: ['/var/mail/my archive'] }],
  ['include absolute', 'list: :include:/etc/mail/list.txt', { list: [':include:/etc/mail/list.txt'] }],
  ['include relative to the aliases file', 'list: :include:lists/x', { list: [':include:/etc/lists/x'] }],
  ['error permanent', 'gone: error:5.1.6 moved away', { gone: ['error:5.1.6 moved away'] }],
  ['error temporary', 'busy: error:4.2.1 try later', { busy: ['error:4.2.1 try later'] }],
  ['error without text', 'gone: error:5.1.1', { gone: ['error:5.1.1'] }],
  ['webhook (issue 18)', 'orders: webhook:https://app.example/hooks/mail, ana', { orders: ['webhook:https://app.example/hooks/mail', 'ana'] }],
  ['webhook to loopback over http', 'hook: webhook:http://127.0.0.1:8080/in', { hook: ['webhook:http://127.0.0.1:8080/in'] }],
  ['backslash local mailbox', 'ana: \\ana, ana@elsewhere.example', { ana: ['\\ana', 'ana@elsewhere.example'] }],
  ['angle brackets', 'x: <ana@example.org>', { x: ['ana@example.org'] }],
  ['quoted local part', 'x: "ana maria"@example.org', { x: ['"ana maria"@example.org'] }],
  ['owner- convention is an ordinary alias', 'owner-staff: ana\nstaff: bia', { 'owner-staff': ['ana'], staff: ['bia'] }],
  ['duplicate targets collapse', 'x: ana, ana', { x: ['ana'] }],
  ['trailing comma', 'x: ana,', { x: ['ana'] }],
];

for (const [what, text, want] of good) {
  void test(`aliases: ${what}`, () => {
    const r = parseAliases(text, { source: '/etc/aliases' });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(Object.fromEntries(r.aliases.map((a) => [a.name, a.targets])), want);
    for (const a of r.aliases) assert.equal(a.source, '/etc/aliases');
  });
}

// Each row: file text → the errors (line, message fragment) and the aliases that still load.
const bad: [string, string, [number, RegExp][], string[]][] = [
  ['missing colon', 'root ana\nabuse: bia', [[1, /missing ":"/]], ['abuse']],
  ['empty name', ': ana\nabuse: bia', [[1, /without a name/]], ['abuse']],
  ['bad name', 'a b: ana\nok: x', [[1, /bad alias name/]], ['ok']],
  ['bad catch-all domain', '@bad..domain: ana', [[1, /bad catch-all/]], []],
  ['no targets', 'root:\nabuse: bia', [[1, /without targets/]], ['abuse']],
  ['continuation first', '  ana\nroot: bia', [[1, /continuation line without an alias/]], ['root']],
  ['unterminated quote', 'bot: "|/bin/x\nok: y', [[1, /unterminated/]], ['ok']],
  ['unterminated quote on continuation line', 'a: x,\n  "y\nok: z', [[2, /unterminated/]], ['ok']],
  ['empty pipe', 'bot: |', [[1, /without a command/]], []],
  ['pipe with unbalanced quote', "bot: |/bin/x 'a", [[1, /unterminated quote in pipe/]], []],
  ['error without code', 'gone: error:moved', [[1, /status code/]], []],
  ['error with 2.x.x', 'gone: error:2.0.0 fine', [[1, /status code/]], []],
  ['error with basic code only', 'gone: error:550 no', [[1, /status code/]], []],
  ['webhook over http off loopback', 'hook: webhook:http://app.example/in', [[1, /http:\/\/ is for loopback hosts only/]], []],
  ['include without path', 'l: :include:', [[1, /without a file name/]], []],
  ['file target is a directory', 'l: /var/mail/', [[1, /directory/]], []],
  ['bad address target', 'x: ana@@example.org', [[1, /bad address/]], []],
  ['bad domain target', 'x: ana@exa mple.org', [[1, /bad address/]], []],
  ['target with a space', 'x: ana maria', [[1, /bad address/]], []],
  ['bad target on a continuation line, reported there', 'x: ana,\n  b@@c\nok: y', [[2, /bad address/]], ['ok']],
  ['duplicate name keeps the first', 'x: ana\nX: bia', [[2, /duplicate alias x \(first defined on line 1\)/]], ['x']],
  ['bad quoted name', '"x: ana', [[1, /missing ":"|bad quoted/]], []],
];

for (const [what, text, wantErrors, wantNames] of bad) {
  void test(`aliases error: ${what}`, () => {
    const r = parseAliases(text); // no source: relative includes are errors here
    assert.equal(r.errors.length, wantErrors.length, JSON.stringify(r.errors));
    r.errors.forEach((e, i) => {
      assert.equal(e.line, wantErrors[i][0], e.message);
      assert.match(e.message, wantErrors[i][1]);
    });
    assert.deepEqual(r.aliases.map((a) => a.name), wantNames);
  });
}

void test('aliases error: relative include without a file to be relative to', () => {
  const r = parseAliases('l: :include:lists/x');
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0].message, /must be absolute/);
});

void test('duplicate alias: first definition stays in force', () => {
  const r = parseAliases('x: ana\nx: bia');
  assert.deepEqual(r.aliases, [{ name: 'x', targets: ['ana'], source: 'aliases', line: 1 }]);
});

void test('parseTarget canonical forms', () => {
  assert.deepEqual(parseTarget(' "|/bin/cat" '), { ok: true, target: '|/bin/cat' });
  assert.deepEqual(parseTarget(':INCLUDE:/x'), { ok: true, target: ':include:/x' });
  assert.deepEqual(parseTarget('error:5.1.1   no   '), { ok: true, target: 'error:5.1.1 no' });
  assert.equal(parseTarget('').ok, false);
  assert.equal(parseTarget('a\0b').ok, false);
});

void test('splitTargetList keeps quoted commas', () => {
  assert.deepEqual(splitTargetList('a, "b,c", d'), { items: ['a', '"b,c"', 'd'] });
  assert.equal(splitTargetList('"a').error, 'unterminated quoted string');
});

void test('qualifyAliases gives bare names every local domain', () => {
  const q = qualifyAliases(
    [
      { name: 'postmaster', targets: ['root'] },
      { name: 'x@a.example', targets: ['y'] },
      { name: '@b.example', targets: ['z'] },
    ],
    ['A.example', 'b.example'],
  );
  assert.deepEqual(q.map((a) => a.name), ['postmaster@a.example', 'postmaster@b.example', 'x@a.example', '@b.example']);
});

void test('ownerAliasFor: the owner-NAME convention', () => {
  const m = aliasMap(parseAliases('owner-staff: ana\nstaff: bia\nother: x').aliases);
  assert.deepEqual(ownerAliasFor('staff', m)?.targets, ['ana']);
  assert.deepEqual(ownerAliasFor('staff@dc.uece.br', m)?.targets, ['ana']);
  assert.equal(ownerAliasFor('other', m), undefined);
});


void test('readAliasesFile resolves relative includes against the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-aliases-'));
  try {
    await writeFile(join(dir, 'aliases'), 'l: :include:members\n');
    const r = await readAliasesFile(join(dir, 'aliases'));
    assert.deepEqual(r.aliases[0].targets, [`:include:${join(dir, 'members')}`]);
    await writeFile(join(dir, 'secret'), 'x: y');
    await chmod(join(dir, 'secret'), 0o000);
    if (process.getuid?.() !== 0) await assert.rejects(readAliasesFile(join(dir, 'secret')), /EACCES/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
