import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressLiteral, formatDate, formatReceived, makeMessageId } from './trace-headers.js';
import { parseHeaderFields, unfold } from './header-block.js';

const at = Date.UTC(2003, 6, 1, 8, 52, 37); // Tue, 1 Jul 2003 08:52:37 UTC

void test('formatDate gives an RFC 5322 §3.3 date-time with a numeric zone', () => {
  assert.equal(formatDate(at, 120), 'Tue, 1 Jul 2003 10:52:37 +0200');
  assert.equal(formatDate(at, 0), 'Tue, 1 Jul 2003 08:52:37 +0000');
  assert.equal(formatDate(at, -210), 'Tue, 1 Jul 2003 05:22:37 -0330');
  assert.equal(formatDate(Date.UTC(2024, 11, 31, 23, 30, 0), 60), 'Wed, 1 Jan 2025 00:30:00 +0100');
  // the default zone is the machine's: whatever it is, the instant must parse back the same
  assert.equal(Date.parse(formatDate(at)), at);
  assert.match(formatDate(at), /^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$/);
  // in the machine's zone the text is made once per second: any instant of it, then the next one
  assert.equal(formatDate(at + 999), formatDate(at));
  assert.equal(Date.parse(formatDate(at + 1000)), at + 1000);
  assert.equal(Date.parse(formatDate(at + 1999)), at + 1000);
  assert.equal(formatDate(at + 1000, 0), 'Tue, 1 Jul 2003 08:52:38 +0000');
});

void test('formatReceived follows RFC 5321 §4.4 Time-stamp-line', () => {
  const r = formatReceived({
    from: 'helvecio.dsc.ufpb.br',
    remoteHostname: 'mail.dsc.ufpb.br',
    remoteAddress: '192.0.2.7',
    by: 'mx.dc.uece.br',
    protocol: 'ESMTPS',
    id: '01HXYZ',
    for: 'suzana@dc.uece.br',
    tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    date: at,
    zoneOffset: -180,
  });
  for (const line of r.split('\r\n')) assert.ok(line.length <= 78, line);
  assert.ok(!r.endsWith('\r\n'));
  const [field] = parseHeaderFields(r);
  assert.equal(field.name, 'Received');
  const v = unfold(field.value).replace(/\s+/g, ' ');
  assert.equal(
    v,
    'from helvecio.dsc.ufpb.br (mail.dsc.ufpb.br [192.0.2.7]) ' +
      '(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384) ' +
      'by mx.dc.uece.br (correio) with ESMTPS id 01HXYZ ' +
      'for <suzana@dc.uece.br>; Tue, 1 Jul 2003 05:52:37 -0300',
  );
});

void test('formatReceived: IPv6 literal, unknown rDNS, no "for", local submission', () => {
  const v6 = unfold(
    formatReceived({ from: 'x', remoteAddress: '2001:db8::1', by: 'h', protocol: 'ESMTP', id: 'Q', date: at, zoneOffset: 0 }),
  );
  assert.match(v6, /^Received: from x \(unknown \[IPv6:2001:db8::1\]\)\s+by h \(correio\) with ESMTP id Q; Tue, 1 Jul 2003/);
  const local = formatReceived({ by: 'h', protocol: 'local', id: 'Q', date: at, zoneOffset: 0 });
  assert.equal(local, 'Received: by h (correio) with local id Q; Tue, 1 Jul 2003 08:52:37 +0000');
  assert.equal(addressLiteral('::ffff:127.0.0.1'), '[127.0.0.1]');
});

void test('formatReceived neutralises a hostile HELO and recipient', () => {
  const r = formatReceived({
    from: 'evil)\r\nX-Injected: yes (',
    remoteAddress: '192.0.2.1',
    by: 'h',
    protocol: 'SMTP',
    id: 'Q',
    for: 'a@b>\r\nBcc: x@y',
    date: at,
  });
  const fields = parseHeaderFields(r);
  assert.equal(fields.length, 1);
  assert.ok(!/^X-Injected/m.test(r));
  assert.ok(!/\r\n[^ \t]/.test(r), 'every line break is a fold');
  // the comment stays balanced: the only parentheses are ours
  assert.equal((r.match(/\(/g) ?? []).length, (r.match(/\)/g) ?? []).length);
});

void test('makeMessageId is a unique RFC 5322 §3.6.4 msg-id', () => {
  const ids = new Set(Array.from({ length: 1000 }, () => makeMessageId('mx.example.org')));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^<[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@mx\.example\.org>$/);
});
