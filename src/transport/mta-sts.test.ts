/**
 * Units of MTA-STS (mta-sts.ts): MX pattern matching (RFC 8461 §4.1: a wildcard covers one
 * label only), the TXT record's id (§3.1: exactly one v=STSv1 record), policy parsing (§3.2)
 * and what a domain without a reachable policy gives (no policy: §8.3, deliver as before); the
 * SQLite cache keeps a policy across a restart until its max_age (§5.1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MtaStsPolicies, mxMatches, parseStsPolicy, stsRecordId } from './mta-sts.js';
import { SqliteStsCache } from './sqlite-sts-cache.js';

test('MX patterns: exact names, and "*." for exactly one left-most label (RFC 8461 §4.1)', () => {
  assert.ok(mxMatches('mx1.example.com', ['mx1.example.com']));
  assert.ok(mxMatches('MX1.Example.com.', ['mx1.example.com']));
  assert.ok(mxMatches('mx2.example.com', ['mx1.example.com', '*.example.com']));
  assert.ok(!mxMatches('a.b.example.com', ['*.example.com']), 'one label only');
  assert.ok(!mxMatches('example.com', ['*.example.com']));
  assert.ok(!mxMatches('mx.example.net', ['mx.example.com']));
});

test('TXT record: one v=STSv1 record with an id; none, two, or a bad id is no record', () => {
  assert.equal(stsRecordId(['v=STSv1; id=20160831085700Z;']), '20160831085700Z');
  assert.equal(stsRecordId(['v=spf1 -all', 'v=STSv1;id=abc']), 'abc');
  assert.equal(stsRecordId(['v=STSv1; id=a', 'v=STSv1; id=b']), undefined);
  assert.equal(stsRecordId(['v=STSv1; id=not-alnum']), undefined);
  assert.equal(stsRecordId(['v=STSv1']), undefined);
  assert.equal(stsRecordId([]), undefined);
});

test('policy file: version, mode, mx and max_age (RFC 8461 §3.2)', async () => {
  assert.deepEqual(await parseStsPolicy('version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n', 'id1'), {
    id: 'id1', mode: 'enforce', mx: ['mail.example.com', '*.example.net'], maxAge: 604800,
  });
  assert.equal(await parseStsPolicy('version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n', 'x'), undefined);
  assert.equal(await parseStsPolicy('version: STSv1\nmode: enforce\nmax_age: 1\n', 'x'), undefined, 'enforce needs mx');
  assert.equal(await parseStsPolicy('version: STSv1\nmode: enforce\nmx: a\nmax_age: 99999999\n', 'x'), undefined, 'max_age over a year');
  assert.equal(await parseStsPolicy('version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n', 'x'), undefined);
});

test('a domain without a record, or whose policy cannot be fetched, has no policy; a DNS failure says why', async () => {
  const txt: Record<string, { kind: 'found'; records: string[] } | { kind: 'temporary'; error: string }> = {
    '_mta-sts.sts.example': { kind: 'found', records: ['v=STSv1; id=1'] },
    '_mta-sts.down.example': { kind: 'temporary', error: 'timeout' },
  };
  const policies = new MtaStsPolicies({
    dns: {
      findTxt: (name: string) => Promise.resolve(txt[name] ?? { kind: 'not-found', reason: 'nxdomain' }),
      findAddresses: () => Promise.resolve({ kind: 'not-found', reason: 'nxdomain' }),
    },
  });
  assert.deepEqual(await policies.policyFor('plain.example'), {});
  const noHost = await policies.policyFor('sts.example');
  assert.equal(noHost.policy, undefined);
  assert.match(noHost.note ?? '', /fetch for sts\.example failed: mta-sts\.sts\.example: no address/);
  const down = await policies.policyFor('down.example');
  assert.equal(down.policy, undefined);
  assert.match(down.note ?? '', /TXT lookup failed: timeout/);
});

test('the SQLite cache keeps a policy across a restart until it expires, even when the fetch fails (RFC 8461 §5.1)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-sts-cache-'));
  try {
    const file = join(dir, 'mta-sts.sqlite');
    let now = 1_000_000;
    const dns = {
      findTxt: () => Promise.resolve({ kind: 'found' as const, records: ['v=STSv1; id=1'] }),
      // the policy host has no address: every fetch fails
      findAddresses: () => Promise.resolve({ kind: 'not-found' as const, reason: 'nxdomain' as const }),
    };
    const policy = { id: '1', mode: 'enforce' as const, mx: ['mx.sts.example'], maxAge: 3600 };
    const first = new SqliteStsCache(file);
    first.set('sts.example', { policy, expires: now + 3_600_000 });
    first.close();
    const second = new SqliteStsCache(file);
    const policies = new MtaStsPolicies({ dns, cache: second, now: () => now });
    assert.deepEqual(await policies.policyFor('sts.example'), { policy }, 'the policy fetched before the restart');
    now += 3_600_001;
    const expired = await policies.policyFor('sts.example');
    assert.equal(expired.policy, undefined, 'past max_age it is gone');
    assert.match(expired.note ?? '', /fetch for sts\.example failed/);
    second.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
