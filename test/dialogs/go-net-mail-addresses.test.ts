/**
 * Go's net/mail address tests (../shared/corpora/addresses/go-net-mail/address-and-date-tests.json,
 * derived from Go 1.19's message_test.go) against correio's RFC 5322 address handling:
 *   - header address lists: src/policy `fromAddresses` (the From ownership check, over
 *     src/address's one address-list parser, parseAddressList), and nodemailer's addressparser
 *     (a widely used lenient reader, kept for comparison), each address then through src/address `parseAddrSpec`;
 *     display names through libmime's RFC 2047 decoder (it knows ISO-8859-x and windows-125x, so
 *     the "charset decoder" cases run too); address-list-corpora.test.ts runs parseAddressList
 *     itself over this corpus and the isemail one;
 *   - single addr-specs (TestAddressParsingAndFormatting): `parseAddrSpec` parses and
 *     `quoteLocalPart` gives back the same text (must-parse), or `parseAddrSpec` refuses (must-fail).
 * Go is lenient in places and strict in others; where correio differs the case is listed in a
 * deviation table with the reason, and the test asserts correio's own answer instead.
 * The date cases of the file are not run here: they are not address parsing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { domainToASCII } from 'node:url';
import libmime from 'libmime';
import { parseAddrSpec } from '../../src/address/index.js';
import { fromAddresses } from '../../src/policy/index.js';
import { corporaSkip } from '../helpers/paths.js';
import { goInputText, goNetMailRel, loadGoNetMail, type GoInput } from '../helpers/go-net-mail.js';
import addressparser from 'nodemailer/lib/addressparser/index.js';

const rel = goNetMailRel;
const skip = corporaSkip(rel);
const corpus = loadGoNetMail();
const text = goInputText;

function show(input: GoInput): string {
  return JSON.stringify(text(input));
}

/**
 * Display names where correio's reading differs from Go's: input → [correio's names, reason].
 * Only names: the addresses of every must-parse case are Go's exactly.
 */
const nameDeviations: Readonly<Record<string, readonly [string[], string]>> = {
  'John (middle) Doe <jdoe@machine.example>': [
    ['John Doe'],
    'a comment inside a display name is CFWS, not part of the phrase (RFC 5322 §3.2.2: comments are semantically invisible); Go keeps it',
  ],
  '<cfws@example.com> (CFWS (cfws))  (another comment)': [
    ['CFWS (cfws) another comment'],
    'addressparser takes a trailing comment as the name when there is none; Go does so only for a bare addr-spec. RFC 5322 gives comments no meaning (§3.2.2)',
  ],
  '<cfws@example.com> ()  (another comment), <cfws2@example.com> (another)': [
    ['another comment', 'another'],
    'as above: trailing comments become the name (RFC 5322 §3.2.2 gives them no meaning)',
  ],
  'asjo@example.com (Adam\t=?utf-8?Q?Sj=C3=B8gren?=)': [
    ['Adam\tSjøgren'],
    'the folding white space in the comment is kept as a TAB; Go turns it into a space (RFC 5322 §3.2.2 lets either stand for FWS)',
  ],
};

/**
 * Go's must-error cases that correio's header reading accepts: input → reason. correio reads a
 * From field as a mailbox-list (RFC 5322 §3.6.2) for the ownership check, and only the
 * addresses matter there; a display name correio cannot decode is shown as is, never refused.
 * The rest of Go's error cases must be refused: `fromAddresses` gives no address or an
 * unparsable one (which the ownership check refuses).
 */
const acceptedErrorCases: Readonly<Record<string, readonly [string[], string]>> = {
  '=?iso-8859-2?Q?Bogl=E1rka_Tak=E1cs?= <unknown@gmail.com>': [
    ['unknown@gmail.com'],
    'Go\'s default decoder knows only UTF-8, US-ASCII and ISO-8859-1; libmime decodes ISO-8859-2 (RFC 2047 §1 allows any registered charset)',
  ],
  '\u00ed\u00a0\u0080 <micro@example.net>': [
    ['micro@example.net'],
    'the display name is not UTF-8 (a UTF-16 surrogate encoded, RFC 3629 §3): correio reads the field as latin1 and checks only the address',
  ],
  '"\u00ed\u00a0\u0080" <half-surrogate@example.com>': [['half-surrogate@example.com'], 'as above, inside a quoted display name'],
  '"\\\u0080" <escaped-invalid-unicode@example.net>': [['escaped-invalid-unicode@example.net'], 'as above, a quoted-pair of a non-UTF-8 byte in the display name'],
  '"\u0000" <null@example.net>': [
    ['null@example.net'],
    'NUL in a quoted display name (obs-qtext excludes %d0, RFC 5322 §4.1): the name is dropped, the address checked',
  ],
  '"\\\u0000" <escaped-null@example.net>': [['escaped-null@example.net'], 'NUL as obs-qp in a display name (RFC 5322 §4.1 allows %d0 there); the address is checked'],
  'cfws@example.com (': [['cfws@example.com'], 'the address-list parser (and addressparser) ends an unclosed comment at the end of the field; the address itself is whole'],
  'root group: embed group: null@example.com;': [['null@example.com'], 'nested groups are not RFC 5322 (§3.4 group-list has no group); the address-list parser (and addressparser) flattens them'],
  'group not closed: null@example.com': [['null@example.com'], 'a group without ";" (RFC 5322 §3.4); the address-list parser (and addressparser) closes it at the end of the field'],
  'group: first@example.com, second@example.com;': [
    ['first@example.com', 'second@example.com'],
    'Go\'s ParseAddress wants one address; a From field is a mailbox-list (RFC 5322 §3.6.2), groups accepted as RFC 6854 allows',
  ],
};

/** Lists Go accepts that correio's strict From check (policy fromAddresses) refuses: input → reason. */
const strictFromRefuses: Readonly<Record<string, string>> = {
  'John !@M@! Doe <jdoe@machine.example>':
    'an unquoted "@" in a display name is not RFC 5322 §3.2.5 phrase (atext excludes "@"); a reader could show it as the sender, so a submitted From like this is refused',
};

/** addr-specs where correio's parseAddrSpec differs from Go: input → reason. */
const addrSpecDeviations: Readonly<Record<string, string>> = {
  '<""@0>': 'an empty quoted local part is RFC 5322 §3.2.4 syntax (quoted-string = DQUOTE *([FWS] qcontent) [FWS] DQUOTE) and RFC 5321 §4.1.2 Quoted-string; Go refuses it, correio parses it',
};

function addrOf(s: string): string {
  const a = parseAddrSpec(s);
  return `${a.local}@${a.domain}`;
}

/** The expected addr-spec in correio's normal form: domain lower case, U-labels as A-labels. */
function normal(addr: string): string {
  const at = addr.lastIndexOf('@');
  const domain = addr.slice(at + 1);
  return `${addr.slice(0, at)}@${(/[^\x00-\x7f]/.test(domain) ? domainToASCII(domain) : domain).toLowerCase()}`;
}

function listCases(group: 'TestAddressParsing' | 'TestAddressParser_with_charset_decoder'): void {
  void test(`go net/mail ${group}: addresses and display names`, { skip }, async (t) => {
    for (const c of corpus![group]) {
      const input = text(c.input);
      await t.test(show(c.input), () => {
        const got = addressparser(input, { flatten: true });
        // every address is Go's, and parses as an RFC 5322 addr-spec
        assert.deepEqual(
          got.map((a) => a.address),
          c.expected.map((e) => e.address),
        );
        for (const e of c.expected) assert.equal(addrOf(e.address), normal(e.address));
        const from = fromAddresses(input).map((a) => (a ? `${a.local}@${a.domain}` : undefined));
        if (strictFromRefuses[input]) {
          // the submission From check refuses it (one element is not a proper mailbox)
          assert.ok(from.includes(undefined), strictFromRefuses[input]);
        } else assert.deepEqual(from, c.expected.map((e) => normal(e.address)));
        const names = got.map((a) => libmime.decodeWords(a.name));
        const dev = nameDeviations[input];
        if (dev) {
          assert.deepEqual(names, dev[0], dev[1]);
          assert.notDeepEqual(names, c.expected.map((e) => e.name ?? ''), 'now agrees with Go: remove the deviation');
        } else assert.deepEqual(names, c.expected.map((e) => e.name ?? ''));
      });
    }
  });
}

listCases('TestAddressParsing');
listCases('TestAddressParser_with_charset_decoder');

void test('go net/mail TestAddressParsingError: refused, or accepted for a stated reason', { skip }, async (t) => {
  for (const c of corpus!.TestAddressParsingError) {
    const input = text(c.input);
    await t.test(`${show(c.input)} (Go: ${c.error_contains})`, () => {
      const got = fromAddresses(input);
      const dev = acceptedErrorCases[input];
      if (dev) {
        assert.deepEqual(got.map((a) => (a ? `${a.local}@${a.domain}` : undefined)), dev[0], dev[1]);
        return;
      }
      // refused: no address at all, or one that does not parse (the ownership check refuses both)
      assert.ok(got.length === 0 || got.includes(undefined), `accepted: ${JSON.stringify(got)}`);
    });
  }
});

void test('go net/mail TestAddressParsingAndFormatting: must parse and round-trip', { skip }, async (t) => {
  for (const s of corpus!.TestAddressParsingAndFormatting.must_parse_and_roundtrip) {
    await t.test(s, () => {
      const inner = s.slice(1, -1);
      const a = parseAddrSpec(inner);
      // RFC 5321 §4.1.2 / RFC 5322 §3.4.1: quoted only when needed, so the text comes back the same
      const at = inner.lastIndexOf('@');
      assert.equal(`${a.local}@${a.domain}`, `${inner.slice(0, at)}@${inner.slice(at + 1).toLowerCase()}`);
      // and the formatted form parses back to the same address
      assert.deepEqual(parseAddrSpec(`${a.local}@${a.domain}`), a);
    });
  }
});

void test('go net/mail TestAddressParsingAndFormatting: must fail', { skip }, async (t) => {
  for (const s of corpus!.TestAddressParsingAndFormatting.must_fail) {
    await t.test(s, () => {
      const inner = s.slice(1, -1);
      const why = addrSpecDeviations[s];
      if (why) {
        assert.doesNotThrow(() => parseAddrSpec(inner), why);
        return;
      }
      assert.throws(() => parseAddrSpec(inner), { name: 'AddressSyntaxError' });
    });
  }
});

void test('every deviation names a case of the corpus', { skip }, () => {
  const lists = [...corpus!.TestAddressParsing, ...corpus!.TestAddressParser_with_charset_decoder].map((c) => text(c.input));
  for (const k of Object.keys(nameDeviations)) assert.ok(lists.includes(k), k);
  for (const k of Object.keys(strictFromRefuses)) assert.ok(lists.includes(k), k);
  const errors = corpus!.TestAddressParsingError.map((c) => text(c.input));
  for (const k of Object.keys(acceptedErrorCases)) assert.ok(errors.includes(k), JSON.stringify(k));
  for (const k of Object.keys(addrSpecDeviations)) assert.ok(corpus!.TestAddressParsingAndFormatting.must_fail.includes(k), k);
});
