/**
 * src/address's one address-list parser (parseAddressList) against the address corpora in
 * ../shared/corpora/addresses (see SOURCES.md there):
 *   - Go's net/mail tests (go-net-mail/address-and-date-tests.json): each list gives Go's
 *     addresses in order and, RFC 2047 words decoded with libmime, Go's display names; each of
 *     Go's error cases is refused (a bad element, or no mailbox at all); each must-parse
 *     addr-spec is one mailbox, each must-fail one is not.
 *   - isemail (isemail/tests.xml): each address, as a one-element list, is one mailbox exactly
 *     when parseAddrSpec accepts it (so the list parser reads addr-specs as the addr-spec parser
 *     does), and every ISEMAIL_ERR case is refused.
 * Where correio differs from a corpus the case is in a table with the reason, and the test
 * asserts correio's own answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';
import libmime from 'libmime';
import { parseAddrSpec, parseAddressList, type AddressListItem } from '../../src/address/index.js';
import { corporaDir, corporaSkip } from '../helpers/paths.js';
import { goInputText, goNetMailRel, loadGoNetMail } from '../helpers/go-net-mail.js';

const goRel = goNetMailRel;
const isemailRel = 'addresses/isemail/tests.xml';
const go = loadGoNetMail();
const text = goInputText;

function normal(addr: string): string {
  const at = addr.lastIndexOf('@');
  const domain = addr.slice(at + 1);
  return `${addr.slice(0, at)}@${(/[^\x00-\x7f]/.test(domain) ? domainToASCII(domain) : domain).toLowerCase()}`;
}

const addresses = (items: readonly AddressListItem[]): (string | undefined)[] =>
  items.map((i) => (i.kind === 'mailbox' ? `${i.address.local}@${i.address.domain}` : undefined));

/** Lists Go reads that correio refuses: input → reason. */
const refusedLists: Readonly<Record<string, string>> = {
  'John !@M@! Doe <jdoe@machine.example>': 'an unquoted "@" in a display name is not RFC 5322 §3.2.5 phrase (atext excludes "@"); a reader could show it as the address',
};

/** Display names where correio differs from Go: input → [correio's names, reason]. */
const nameDeviations: Readonly<Record<string, readonly [string[], string]>> = {
  'John (middle) Doe <jdoe@machine.example>': [['John Doe'], 'a comment inside a display name is CFWS (RFC 5322 §3.2.2: comments are semantically invisible); Go keeps it'],
  'john@example.com (John Doe)': [[''], 'correio does not take a bare addr-spec\'s trailing comment as its name (RFC 5322 §3.2.2 gives comments no meaning); Go does'],
  'john@example.com(John Doe)': [[''], 'as above'],
  'asjo@example.com (Adam =?utf-8?Q?Sj=C3=B8gren?=)': [[''], 'as above'],
  'asjo@example.com (Adam\t=?utf-8?Q?Sj=C3=B8gren?=)': [[''], 'as above'],
  'asjo@example.com (Adam =?utf-8?Q?Sj=C3=B8gren?= (Debian))': [[''], 'as above'],
};

/** Go's error cases correio accepts: input → [addresses, reason]. */
const acceptedErrors: Readonly<Record<string, readonly [string[], string]>> = {
  '=?iso-8859-2?Q?Bogl=E1rka_Tak=E1cs?= <unknown@gmail.com>': [['unknown@gmail.com'], 'the display name\'s charset does not matter to the parser (Go\'s default decoder refuses ISO-8859-2)'],
  '\u00ed\u00a0\u0080 <micro@example.net>': [['micro@example.net'], 'a display name that is not UTF-8 is read as Latin-1 (RFC 6532 headers are UTF-8; older ones are not); the address is what is checked'],
  '"\u00ed\u00a0\u0080" <half-surrogate@example.com>': [['half-surrogate@example.com'], 'as above, quoted'],
  '"\\\u0080" <escaped-invalid-unicode@example.net>': [['escaped-invalid-unicode@example.net'], 'as above, a quoted pair'],
  '"\u0000" <null@example.net>': [['null@example.net'], 'a quoted display name may hold any character (the name is informational; RFC 5322 §4.1 obs-qtext allows most controls)'],
  '"\\\u0000" <escaped-null@example.net>': [['escaped-null@example.net'], 'NUL as obs-qp in a display name (RFC 5322 §4.1)'],
  'cfws@example.com (': [['cfws@example.com'], 'a comment left open at the end of a header field is closed there, as mail readers do'],
  'root group: embed group: null@example.com;': [['null@example.com'], 'nested groups are not RFC 5322 (§3.4), but readers flatten them'],
  'group not closed: null@example.com': [['null@example.com'], 'a group left open at the end of the field is closed there'],
  'group: first@example.com, second@example.com;': [['first@example.com', 'second@example.com'], 'Go\'s ParseAddress wants one address; an address list may hold a group of several (RFC 5322 §3.4, RFC 6854)'],
};

for (const group of ['TestAddressParsing', 'TestAddressParser_with_charset_decoder'] as const) {
  void test(`parseAddressList, go net/mail ${group}: Go's addresses and display names`, { skip: corporaSkip(goRel) }, async (t) => {
    for (const c of go![group]) {
      const input = text(c.input);
      await t.test(JSON.stringify(input), () => {
        const items = parseAddressList(input);
        if (refusedLists[input]) {
          assert.ok(items.some((i) => i.kind === 'bad'), refusedLists[input]);
          return;
        }
        assert.deepEqual(addresses(items), c.expected.map((e) => normal(e.address)));
        const names = items.map((i) => (i.kind === 'mailbox' ? libmime.decodeWords(i.name) : ''));
        const dev = nameDeviations[input];
        if (dev) {
          assert.deepEqual(names, dev[0], dev[1]);
          assert.notDeepEqual(names, c.expected.map((e) => e.name ?? ''), 'now agrees with Go: remove the deviation');
        } else assert.deepEqual(names, c.expected.map((e) => e.name ?? ''));
      });
    }
  });
}

void test('parseAddressList, go net/mail TestAddressParsingError: refused, or accepted for a stated reason', { skip: corporaSkip(goRel) }, async (t) => {
  for (const c of go!.TestAddressParsingError) {
    const input = text(c.input);
    await t.test(`${JSON.stringify(input)} (Go: ${c.error_contains})`, () => {
      const items = parseAddressList(input);
      const dev = acceptedErrors[input];
      if (dev) assert.deepEqual(addresses(items), dev[0], dev[1]);
      else assert.ok(items.length === 0 || items.some((i) => i.kind === 'bad'), `accepted: ${JSON.stringify(items)}`);
    });
  }
});

void test('parseAddressList, go net/mail TestAddressParsingAndFormatting: addr-specs as parseAddrSpec reads them', { skip: corporaSkip(goRel) }, () => {
  for (const s of go!.TestAddressParsingAndFormatting.must_parse_and_roundtrip) {
    const items = parseAddressList(s);
    assert.deepEqual(addresses(items), [`${parseAddrSpec(s.slice(1, -1)).local}@${parseAddrSpec(s.slice(1, -1)).domain}`], s);
  }
  for (const s of go!.TestAddressParsingAndFormatting.must_fail) {
    // '<""@0>' is the one Go refuses that RFC 5322 §3.2.4 allows (see go-net-mail-addresses.test.ts)
    if (s === '<""@0>') continue;
    assert.ok(parseAddressList(s).every((i) => i.kind !== 'mailbox'), s);
  }
});

interface IsEmailCase { id: string; address: string; category: string }

function loadIsEmail(): IsEmailCase[] {
  const xml = readFileSync(join(corporaDir, isemailRel), 'utf8');
  return [...xml.matchAll(/<test id="(\d+)">([\s\S]*?)<\/test>/g)].map((m) => ({
    id: m[1],
    address: (/<address>([\s\S]*?)<\/address>/.exec(m[2])?.[1] ?? '')
      .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&')
      // the corpus writes control characters as U+2400 + code (its note 1)
      .replace(/[\u2400-\u241f]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) - 0x2400)),
    category: /<category>(\w+)/.exec(m[2])![1],
  }));
}

/** isemail cases where the list reading differs from the lone addr-spec: id → reason. */
const isemailDeviations: Readonly<Record<string, string>> = {
  '109': 'the comment\'s ")" is quoted, so the comment is still open at the end of the text: a header reader closes it there (as for Go\'s "cfws@example.com (")',
};

/** ISEMAIL_ERR cases parseAddrSpec itself accepts (src/address/smtp-path.test.ts says why): id → reason. */
const addrSpecAccepts: Readonly<Record<string, string>> = {
  '160': 'a quoted-pair of a non-ASCII character: RFC 6532 §3.2 adds UTF8-non-ascii to VCHAR',
};

void test('parseAddressList, isemail: one mailbox exactly when parseAddrSpec accepts; ISEMAIL_ERR always refused', { skip: corporaSkip(isemailRel) }, () => {
  const cases = loadIsEmail();
  assert.ok(cases.length > 150);
  const disagree: string[] = [];
  for (const c of cases) {
    let spec: string | undefined;
    try {
      const a = parseAddrSpec(c.address);
      spec = `${a.local}@${a.domain}`;
    } catch {
      spec = undefined;
    }
    const items = parseAddressList(c.address);
    const got = items.length === 1 ? addresses(items)[0] : undefined;
    if (got !== spec && !(c.id in isemailDeviations)) disagree.push(`#${c.id} ${c.category} ${JSON.stringify(c.address)}: list ${JSON.stringify(addresses(items))}, addr-spec ${spec}`);
    const excused = c.id in isemailDeviations || c.id in addrSpecAccepts;
    if (c.category === 'ISEMAIL_ERR' && got !== undefined && !excused) disagree.push(`#${c.id} accepted an ISEMAIL_ERR case`);
  }
  assert.deepEqual(disagree, []);
});

void test('every deviation names a case of its corpus', { skip: corporaSkip(goRel) || corporaSkip(isemailRel) }, () => {
  const lists = [...go!.TestAddressParsing, ...go!.TestAddressParser_with_charset_decoder].map((c) => text(c.input));
  for (const k of [...Object.keys(nameDeviations), ...Object.keys(refusedLists)]) assert.ok(lists.includes(k), k);
  const errors = go!.TestAddressParsingError.map((c) => text(c.input));
  for (const k of Object.keys(acceptedErrors)) assert.ok(errors.includes(k), JSON.stringify(k));
  const ids = new Set(loadIsEmail().map((c) => c.id));
  for (const k of [...Object.keys(isemailDeviations), ...Object.keys(addrSpecAccepts)]) assert.ok(ids.has(k), k);
});
