import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { CidrList } from './index.js';

const networks = [
  '127.0.0.0/8', '10.1.2.3', '192.168.0.0/16', '172.16.0.0/12', '203.0.113.128/25', '0.0.0.0/0',
  '::1/128', '::1', '2001:db8::/32', 'fe80::/10', '2001:db8:0:1::/63', '::/0', '::ffff:192.0.2.0/120', '::ffff:0:0/96',
];
const addresses = [
  '127.0.0.1', '127.255.255.255', '128.0.0.1', '10.1.2.3', '10.1.2.4', '192.168.77.1', '192.169.0.1',
  '172.31.255.255', '172.32.0.0', '203.0.113.127', '203.0.113.128', '203.0.113.255', '0.0.0.0', '255.255.255.255',
  '::1', '::2', '0:0:0:0:0:0:0:1', '2001:db8::5', '2001:DB8:ffff::1', '2001:db9::1', 'fe80::1', 'febf::1', 'fec0::1',
  '2001:db8:0:1::7', '2001:db8:0:0:ffff::1', '2001:db8:0:2::1', '::ffff:127.0.0.1', '::FFFF:10.1.2.3', '::ffff:7f00:1',
  '::ffff:192.0.2.9', '::ffff:c000:209', '::', 'localhost', '', '1.2.3', '300.1.1.1', 'not an address',
];

function blockListOf(entries: readonly string[]): BlockList {
  const b = new BlockList();
  for (const e of entries) {
    const [addr, len] = e.split('/');
    const family = isIP(addr);
    b.addSubnet(addr, len === undefined ? (family === 4 ? 32 : 128) : Number(len), family === 4 ? 'ipv4' : 'ipv6');
  }
  return b;
}

void test('each network alone matches what node\'s BlockList matches (IPv4 as IPv4-mapped IPv6, RFC 4291 §2.5.5.2)', () => {
  for (const n of networks) {
    const ours = new CidrList([n]);
    const theirs = blockListOf([n]);
    for (const a of addresses) {
      const unmapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a)?.[1] ?? a;
      const family = isIP(unmapped);
      const expected = family === 0 ? false : theirs.check(unmapped, family === 4 ? 'ipv4' : 'ipv6');
      assert.equal(ours.contains(a), expected, `${a} in ${n}`);
    }
  }
});

void test('a list matches an address in any of its networks; an empty list none', () => {
  const list = new CidrList(['127.0.0.0/8', '::1/128', '10.0.0.0/8']);
  assert.deepEqual(['127.0.0.1', '::1', '10.9.9.9', '11.0.0.1', '::2', ''].map((a) => list.contains(a)), [true, true, true, false, false, false]);
  assert.equal(new CidrList([]).contains('127.0.0.1'), false);
});

void test('a bad entry is an error naming it', () => {
  assert.throws(() => new CidrList(['10.0.0.0/33']), /prefix length over 32 in "10.0.0.0\/33"/);
  assert.throws(() => new CidrList(['::1/129']), /prefix length over 128/);
  assert.throws(() => new CidrList(['10.0.0/8']), /invalid network "10.0.0\/8"/);
  assert.throws(() => new CidrList(['10.0.0.0/8/1']), /invalid network/);
  assert.throws(() => new CidrList(['10.0.0.0/x']), /invalid prefix length/);
});
