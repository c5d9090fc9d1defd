import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddressList, type AddressListItem, type AddressListOptions } from './index.js';

/** One string per element: "a@b", "name|a@b", "group:…", "local:x", "bad". */
function show(items: readonly AddressListItem[]): string[] {
  return items.map((i) => {
    const g = i.group !== undefined ? `${i.group}:` : '';
    if (i.kind === 'mailbox') return `${g}${i.name !== '' ? `${i.name}|` : ''}${i.address.local}@${i.address.domain}`;
    if (i.kind === 'local') return `${g}local:${i.local}`;
    return `${g}bad`;
  });
}

const sendmail: AddressListOptions = { bareLocalParts: true, closeOpenComment: false };

// [what, input, options, elements]
const table: [string, string, AddressListOptions, string[]][] = [
  ['addr-spec', 'Suzana@DC.UECE.BR', {}, ['Suzana@dc.uece.br']],
  ['name-addr, phrase with "."', 'Joe Q. Public <john.q.public@example.com>', {}, ['Joe Q. Public|john.q.public@example.com']],
  ['quoted display name with a comma', '"Smith, J" <j@x.org>, b@y.org', {}, ['Smith, J|j@x.org', 'b@y.org']],
  ['comments are CFWS', 'John (middle) Doe <jdoe@x.org> (work), a@b.org(c)', {}, ['John Doe|jdoe@x.org', 'a@b.org']],
  ['groups, empty group, group name kept', 'Team: a@y.org, B <b@y.org>;, undisclosed-recipients:;', {}, ['Team:a@y.org', 'Team:B|b@y.org']],
  ['nested or open groups (lenient)', 'a: b: c@d.org; e@f.org', {}, ['a:c@d.org', 'a:e@f.org']],
  ['empty elements', ' , a@b.org,,c@d.org,', {}, ['a@b.org', 'c@d.org']],
  ['obs-route dropped', '<@relay.org,@r2.org:u@x.org>', {}, ['u@x.org']],
  ['quoted local part kept quoted', '"john doe"@x.org', {}, ['"john doe"@x.org']],
  ['IDN domain as A-labels', 'Micro <micro@µ.example.com>', {}, ['Micro|micro@xn--xxa.example.com']],
  ['two addresses in one element', 'a@x.example b@y.example', {}, ['bad']],
  ['an address as display name', 'evil@y.example <a@x.example>, John Doe@x.example', {}, ['bad', 'bad']],
  ['"@" in an unquoted display name', 'John !@M@! Doe <jdoe@machine.example>', {}, ['bad']],
  ['a second angle-addr', 'John <middle> Doe <jdoe@machine.example>', {}, ['bad']],
  ['one bad element does not hide the others', 'a@b.org, nobody, "x" <c@d.org>', {}, ['a@b.org', 'bad', 'x|c@d.org']],
  ['bare local part: bad unless allowed', 'pascal', {}, ['bad']],
  ['bare local parts for sendmail', 'pascal, <suzana>, "john doe"@x.org', sendmail, ['local:pascal', 'local:suzana', '"john doe"@x.org']],
  ['sendmail: two words, an unclosed <', 'two words, <unclosed@x.org', sendmail, ['bad', 'bad']],
  ['bad domains', 'a@@b, x@-bad-.org, y@', {}, ['bad', 'bad', 'bad']],
  ['a comment left open at the end is closed (header reading)', 'cfws@example.com (', {}, ['cfws@example.com']],
  ['…but not for sendmail arguments', 'cfws@example.com (', sendmail, ['bad']],
  ['NUL in a quoted display name is tolerated; the address is what counts', '"\u0000" <null@example.net>', {}, ['\u0000|null@example.net']],
  ['empty text', '', {}, []],
];

for (const [what, input, opts, expected] of table) {
  void test(`parseAddressList: ${what}`, () => {
    assert.deepEqual(show(parseAddressList(input, opts)), expected);
  });
}

void test('parseAddressList: bad elements say why and carry their text', () => {
  const [a, b] = parseAddressList('John Doe@x.example, <unclosed@x.org');
  assert.equal(a.kind, 'bad');
  assert.equal(a.text, 'John Doe@x.example');
  assert.match(a.kind === 'bad' ? a.reason : '', /display name/);
  assert.equal(b.text, '<unclosed@x.org');
  assert.match(b.kind === 'bad' ? b.reason : '', /expected ">"/);
});
