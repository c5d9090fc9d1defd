import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { channels } from '../core/index.js';
import { DnsResolver, classifyDnsError } from './dns-resolver.js';
import { startDnsServer, type DnsTestServer } from '../../test/helpers/dns-server.js';

let dns: DnsTestServer;
before(async () => {
  dns = await startDnsServer({
    'example.org': {
      mx: [
        { preference: 20, exchange: 'mx2.example.org' },
        { preference: 10, exchange: 'mx1.example.org' },
      ],
      a: ['127.0.0.9'],
      txt: ['v=spf1 -all'],
    },
    'mx1.example.org': { a: ['127.0.0.2'], aaaa: ['::1'] },
    'mx2.example.org': { aaaa: ['::1'] },
    'nomx.example.org': { a: ['127.0.0.3'] },
    'empty.example.org': {},
    'null.example.org': { mx: 'null' },
    'broken.example.org': { servfail: true },
    'refused.example.org': { refused: true },
    'slow.example.org': { timeout: true },
    'short.example.org': { a: ['127.0.0.4'], ttl: 1 },
  });
});
after(async () => dns.close());

function resolver(extra: Partial<ConstructorParameters<typeof DnsResolver>[0]> = {}): DnsResolver {
  return new DnsResolver({ servers: [dns.server], timeoutMs: 200, tries: 1, ...extra });
}

void test('MX found, sorted by preference', async () => {
  const r = await resolver().findMx('Example.ORG.');
  assert.deepEqual(r, {
    kind: 'found',
    hosts: [
      { exchange: 'mx1.example.org', preference: 10 },
      { exchange: 'mx2.example.org', preference: 20 },
    ],
  });
});

void test('null MX (RFC 7505)', async () => {
  assert.deepEqual(await resolver().findMx('null.example.org'), { kind: 'null-mx' });
});

void test('NODATA and NXDOMAIN are not found, with the reason', async () => {
  assert.deepEqual(await resolver().findMx('nomx.example.org'), { kind: 'not-found', reason: 'nodata' });
  assert.deepEqual(await resolver().findMx('nowhere.example.org'), { kind: 'not-found', reason: 'nxdomain' });
  assert.deepEqual(await resolver().findAddresses('empty.example.org'), { kind: 'not-found', reason: 'nodata' });
  assert.deepEqual(await resolver().findAddresses('nowhere.example.org'), { kind: 'not-found', reason: 'nxdomain' });
});

void test('SERVFAIL, REFUSED and timeout are temporary, never not found', async () => {
  const r = resolver();
  const s = await r.findMx('broken.example.org');
  assert.equal(s.kind, 'temporary');
  assert.equal(s.kind === 'temporary' && s.error, 'SERVFAIL');
  assert.equal((await r.findMx('refused.example.org')).kind, 'temporary');
  const t = await r.findMx('slow.example.org');
  assert.deepEqual(t, { kind: 'temporary', error: 'timeout' });
  assert.equal((await r.findAddresses('broken.example.org')).kind, 'temporary');
  assert.equal((await r.findAddresses('slow.example.org')).kind, 'temporary');
});

void test('a DNS server that is not there is a temporary failure', async () => {
  const r = new DnsResolver({ servers: ['127.0.0.1:1'], timeoutMs: 200, tries: 1 });
  assert.equal((await r.findMx('example.org')).kind, 'temporary');
});

void test('A and AAAA', async () => {
  const r = resolver();
  assert.deepEqual(await r.findAddresses('mx1.example.org'), {
    kind: 'found',
    addresses: [
      { address: '127.0.0.2', family: 4 },
      { address: '::1', family: 6 },
    ],
  });
  assert.deepEqual(await r.findAddresses('mx2.example.org'), { kind: 'found', addresses: [{ address: '::1', family: 6 }] });
});

void test('TXT', async () => {
  assert.deepEqual(await resolver().findTxt('example.org'), { kind: 'found', records: ['v=spf1 -all'] });
});

void test('cache respects TTLs and never caches temporary failures', async () => {
  let now = 1_000_000;
  const r = resolver({ cache: { negativeTtlMs: 5000 }, now: () => now });
  const before = dns.queries.length;
  await r.findAddresses('short.example.org');
  await r.findAddresses('short.example.org');
  const afterTwo = dns.queries.length - before;
  assert.equal(afterTwo, 2, 'second lookup answered from the cache (one A + one AAAA query)');
  now += 1500; // TTL is 1 s
  await r.findAddresses('short.example.org');
  assert.equal(dns.queries.length - before, 3, 'A expired and asked again (AAAA NODATA still cached)');
  const q0 = dns.queries.length;
  await r.findMx('broken.example.org');
  await r.findMx('broken.example.org');
  assert.equal(dns.queries.length - q0, 2, 'SERVFAIL asked twice');
});

void test('classifyDnsError maps unknown errors to temporary', () => {
  assert.equal(classifyDnsError(new Error('weird')).kind, 'temporary');
  assert.deepEqual(classifyDnsError({ code: 'ENOTFOUND' }), { kind: 'not-found', reason: 'nxdomain' });
});

void test('each query asked of a server is told on the dns-lookup channel with its type and outcome; cache hits are not', async () => {
  const seen: { type: string; outcome: string; seconds: number }[] = [];
  const listen = (m: unknown): void => {
    seen.push(m as { type: string; outcome: string; seconds: number });
  };
  diagnostics.subscribe(channels.dnsLookup, listen);
  try {
    const r = resolver({ cache: {} });
    await r.findMx('example.org');
    await r.findMx('example.org'); // from the cache
    await r.findTxt('broken.example.org');
    await r.findAddresses('nomx.example.org');
    await r.rawLookup('example.org', 'TXT');
    assert.deepEqual(
      seen.map((e) => `${e.type} ${e.outcome}`),
      ['MX found', 'TXT temporary', 'A found', 'AAAA not-found', 'TXT found'],
    );
    assert.ok(seen.every((e) => e.seconds >= 0 && e.seconds < 60));
  } finally {
    diagnostics.unsubscribe(channels.dnsLookup, listen);
  }
});
