import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MailError } from '../core/smtp-reply.js';
import { parseForwardPath, parseReversePath, parseMailbox, AddressSyntaxError } from './smtp-path.js';
import { parseAddrSpec } from './addr-spec.js';
import { splitDetail } from './split-detail.js';
import { CidrList } from './cidr.js';
import { corporaDir, corporaSkip } from '../../test/helpers/paths.js';

void test('reverse paths: null sender, the seed\'s space after the colon, source routes', () => {
  assert.equal(parseReversePath('<>'), null);
  assert.deepEqual(parseReversePath(' <helvecio@dsc.ufpb.br>'), { local: 'helvecio', domain: 'dsc.ufpb.br' });
  assert.deepEqual(parseReversePath('<@a.example,@b.example:user@C.Example>'), { local: 'user', domain: 'c.example' });
  assert.deepEqual(parseReversePath('<User@DSC.UFPB.BR>'), { local: 'User', domain: 'dsc.ufpb.br' });
});

const good: [string, string, string][] = [
  ['<suzana@dc.uece.br>', 'suzana', 'dc.uece.br'],
  ['<"suzana"@dc.uece.br>', 'suzana', 'dc.uece.br'],
  ['<"john doe"@x.org>', '"john doe"', 'x.org'],
  ['<"a\\"b"@x.org>', '"a\\"b"', 'x.org'],
  ['<"user@other"@local.org>', '"user@other"', 'local.org'],
  ['<user%other@local.org>', 'user%other', 'local.org'],
  ['<a+tag@x.org>', 'a+tag', 'x.org'],
  ['<u@[127.0.0.1]>', 'u', '[127.0.0.1]'],
  ['<u@[IPv6:::1]>', 'u', '[IPv6:::1]'],
  ['<u@[ipv6:2001:DB8::1]>', 'u', '[IPv6:2001:db8::1]'],
  ['<u@xn--bcher-kva.example>', 'u', 'xn--bcher-kva.example'],
  ['<@relay.org:u@x.org>', 'u', 'x.org'],
];
for (const [input, local, domain] of good) {
  void test(`forward path ${input}`, () => assert.deepEqual(parseForwardPath(input), { local, domain }));
}

void test('<postmaster> without domain is allowed (RFC 5321 §4.1.1.3)', () => {
  assert.deepEqual(parseForwardPath('<Postmaster>'), { local: 'postmaster', domain: '' });
  assert.throws(() => parseReversePath('<postmaster>'), MailError);
});

const bad = [
  'suzana@dc.uece.br', '<suzana@dc.uece.br', '<suzana>', '<@dc.uece.br>', '<a..b@x.org>', '<.a@x.org>',
  '<a.@x.org>', '<a b@x.org>', '<a@-x.org>', '<a@x-.org>', '<a@x..org>', '<a@x.org.>', '<a@[300.1.1.1]>',
  '<a@[IPv6:zz::1]>', '<"a@x.org>', '<a@x.org>>', '<a\u0000b@x.org>', '<a@x_y.org>', `<${'a'.repeat(65)}@x.org>`,
  `<a@${'b'.repeat(64)}.org>`, '<@a:>', '<@a,b:u@x.org>', '<a@x.org> ', '<>',
];
for (const input of bad) {
  void test(`forward path refused: ${JSON.stringify(input)}`, () => {
    assert.throws(() => parseForwardPath(input), (e: unknown) => e instanceof MailError && e.reply.code === 501 && e.reply.status === '5.1.3');
  });
}

void test('bad sender syntax is 501 5.1.7', () => {
  assert.throws(() => parseReversePath('<a b@x>'), (e: unknown) => e instanceof MailError && e.reply.status === '5.1.7');
});

void test('SMTPUTF8: UTF-8 local parts and U-label domains only when SMTPUTF8 was given', () => {
  assert.throws(() => parseForwardPath('<josé@x.org>'), (e: unknown) => e instanceof MailError && e.reply.status === '5.6.7');
  assert.deepEqual(parseForwardPath('<josé@x.org>', { smtpUtf8: true }), { local: 'josé', domain: 'x.org' });
  assert.deepEqual(parseForwardPath('<u@Bücher.Example>', { smtpUtf8: true }), { local: 'u', domain: 'xn--bcher-kva.example' });
  assert.deepEqual(parseForwardPath('<"ü x"@x.org>', { smtpUtf8: true }), { local: '"ü x"', domain: 'x.org' });
});

void test('addr-spec: comments and folding whitespace are dropped', () => {
  assert.deepEqual(parseAddrSpec('(c) a . b (d)@ (e) Example.ORG (f)'), { local: 'a.b', domain: 'example.org' });
  assert.deepEqual(parseAddrSpec('"a b"@[1.2.3.4]'), { local: '"a b"', domain: '[1.2.3.4]' });
  assert.throws(() => parseAddrSpec('a@b@c'), AddressSyntaxError);
  assert.throws(() => parseAddrSpec('a(b@c'), AddressSyntaxError);
});

void test('splitDetail', () => {
  assert.deepEqual(splitDetail('suzana+listas'), { base: 'suzana', detail: 'listas' });
  assert.deepEqual(splitDetail('suzana'), { base: 'suzana' });
  assert.deepEqual(splitDetail('+x'), { base: '+x' });
  assert.deepEqual(splitDetail('a-b-c', '-'), { base: 'a', detail: 'b-c' });
  assert.deepEqual(splitDetail('a+'), { base: 'a', detail: '' });
});

void test('CidrList', () => {
  const l = new CidrList(['127.0.0.0/8', '::1/128', '10.1.2.3', '2001:db8::/32']);
  assert.equal(l.contains('127.0.0.9'), true);
  assert.equal(l.contains('::ffff:127.0.0.1'), true);
  assert.equal(l.contains('::1'), true);
  assert.equal(l.contains('10.1.2.3'), true);
  assert.equal(l.contains('10.1.2.4'), false);
  assert.equal(l.contains('2001:db8:1::5'), true);
  assert.equal(l.contains('128.0.0.1'), false);
  assert.equal(l.contains('nonsense'), false);
  assert.throws(() => new CidrList(['127.0.0.0/33']));
  assert.throws(() => new CidrList(['127.0.0/8']));
  assert.throws(() => new CidrList(['::1/x']));
});

// ---- the isemail corpus (Dominic Sayers' test set) ----
const isemailRel = 'addresses/isemail/tests.xml';
interface IsEmailCase { id: string; address: string; category: string; diagnosis: string }

function loadIsEmail(): IsEmailCase[] {
  const xml = readFileSync(join(corporaDir, isemailRel), 'utf8');
  const out: IsEmailCase[] = [];
  for (const m of xml.matchAll(/<test id="(\d+)">([\s\S]*?)<\/test>/g)) {
    const body = m[2];
    const raw = /<address>([\s\S]*?)<\/address>/.exec(body)?.[1] ?? '';
    const address = raw
      .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&')
      // the corpus writes control characters as U+2400 + code (its note 1)
      .replace(/[\u2400-\u241f]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x2400));
    out.push({ id: m[1], address, category: /<category>(\w+)/.exec(body)![1], diagnosis: /<diagnosis>(\w+)/.exec(body)![1] });
  }
  return out;
}

function accepts(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

// Deliberate deviations, each with its reason.
const smtpDeviations: Record<string, string> = {};
const addrSpecDeviations: Record<string, string> = {
  '160': 'a quoted-pair of a non-ASCII character: RFC 6532 §3.2 adds UTF8-non-ascii to VCHAR (isemail predates it)',
};

void test('isemail corpus: RFC 5321 paths', { skip: corporaSkip(isemailRel) }, () => {
  const cases = loadIsEmail();
  assert.ok(cases.length > 150);
  const valid = new Set(['ISEMAIL_VALID_CATEGORY', 'ISEMAIL_DNSWARN', 'ISEMAIL_RFC5321']);
  const disagree: string[] = [];
  for (const c of cases) {
    const expected = valid.has(c.category);
    const got = accepts(() => parseMailbox(c.address));
    if (got !== expected && !(c.id in smtpDeviations)) disagree.push(`#${c.id} ${c.diagnosis} ${JSON.stringify(c.address)} got ${got}`);
  }
  const agreement = 1 - disagree.length / cases.length;
  assert.ok(agreement >= 0.97, `agreement ${agreement.toFixed(3)}:\n${disagree.join('\n')}`);
  // every ISEMAIL_ERR case must be refused, no exception
  assert.deepEqual(disagree.filter((d) => d.includes('ISEMAIL_ERR')), []);
});

void test('isemail corpus: RFC 5322 addr-spec', { skip: corporaSkip(isemailRel) }, () => {
  const cases = loadIsEmail();
  const disagree: string[] = [];
  for (const c of cases) {
    const expected = c.category !== 'ISEMAIL_ERR';
    const got = accepts(() => parseAddrSpec(c.address));
    if (got !== expected && !(c.id in addrSpecDeviations)) disagree.push(`#${c.id} ${c.diagnosis} ${JSON.stringify(c.address)} got ${got}`);
  }
  const agreement = 1 - disagree.length / cases.length;
  assert.ok(agreement >= 0.97, `agreement ${agreement.toFixed(3)}:\n${disagree.join('\n')}`);
  assert.deepEqual(disagree.filter((d) => d.includes('ISEMAIL_ERR')), []);
});
