/**
 * Units of SRS (srs.ts): SRS0 made and reversed, SRS1 for an address another forwarder
 * rewrote, our own domains kept, forged hashes, bad shapes and expired timestamps refused,
 * letter case changed by a hop still accepted, a rotated secret still reversing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ageInDays, Srs, timestamp } from './srs.js';

const DAY = 86_400_000;
const now = Date.UTC(2026, 11, 4, 12);
const srs = (at = now, secrets = ['a secret of sixteen+']): Srs =>
  new Srs({ secrets, domain: 'fwd.example', maxAgeDays: 21, keepDomains: ['fwd.example', 'other.example'], now: () => at });

test('SRS0: the original sender hidden in our domain, and reversed back', () => {
  const out = srs().forward({ local: 'alice', domain: 'origin.example' });
  assert.equal(out.domain, 'fwd.example');
  assert.match(out.local, /^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=origin\.example=alice$/);
  assert.deepEqual(srs().reverse(out), { address: { local: 'alice', domain: 'origin.example' } });
  // hops may change the letter case of an address: still ours
  assert.deepEqual(srs().reverse({ local: out.local.toLowerCase(), domain: 'FWD.example' }), { address: { local: 'alice', domain: 'origin.example' } });
});

test('a sender in one of our domains is not rewritten; a recipient that is not SRS is not ours to reverse', () => {
  assert.deepEqual(srs().forward({ local: 'bob', domain: 'other.example' }), { local: 'bob', domain: 'other.example' });
  assert.equal(srs().reverse({ local: 'bob', domain: 'fwd.example' }), undefined);
  assert.equal(srs().reverse({ local: 'SRS0=abcd=AA=x=y', domain: 'elsewhere.example' }), undefined);
});

test('forged hash, bad shape and expired timestamp are refused 550 5.1.1', () => {
  const out = srs().forward({ local: 'alice', domain: 'origin.example' });
  const forged = out.local.replace(/^SRS0=..../, 'SRS0=ZZZZ');
  const r = srs().reverse({ local: forged, domain: 'fwd.example' });
  assert.equal(r?.refusal?.code, 550);
  assert.equal(r?.refusal?.status, '5.1.1');
  assert.match(r?.refusal?.lines[0] ?? '', /hash/);
  assert.match(srs().reverse({ local: 'SRS0=abcd', domain: 'fwd.example' })?.refusal?.lines[0] ?? '', /bad form/);
  assert.match(srs().reverse({ local: 'SRS1=abcd=x', domain: 'fwd.example' })?.refusal?.lines[0] ?? '', /bad form/);
  // the same address 22 days later: expired; 20 days later: still good
  assert.match(srs(now + 22 * DAY).reverse(out)?.refusal?.lines[0] ?? '', /expired/);
  assert.ok(srs(now + 20 * DAY).reverse(out)?.address);
  // another secret did not make it
  assert.match(srs(now, ['another secret, sixteen']).reverse(out)?.refusal?.lines[0] ?? '', /hash/);
  // a rotated secret (kept second) still reverses what it made
  assert.ok(srs(now, ['the new secret, sixteen', 'a secret of sixteen+']).reverse(out)?.address);
});

test('SRS1: an SRS0 address of another forwarder is wrapped once, and reverses to that forwarder', () => {
  const first = new Srs({ secrets: ['first forwarder key'], domain: 'first.example', maxAgeDays: 21, keepDomains: [], now: () => now });
  const srs0 = first.forward({ local: 'alice', domain: 'origin.example' });
  const srs1 = srs().forward(srs0);
  assert.equal(srs1.domain, 'fwd.example');
  assert.match(srs1.local, /^SRS1=[A-Za-z0-9+/]{4}=first\.example==[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=origin\.example=alice$/);
  // back to the first forwarder's SRS0 address, which it reverses to the origin
  const back = srs().reverse(srs1);
  assert.deepEqual(back, { address: srs0 });
  assert.deepEqual(first.reverse(srs0), { address: { local: 'alice', domain: 'origin.example' } });
  // a third forwarder re-signs the same SRS1 content rather than wrapping again
  const third = new Srs({ secrets: ['third forwarder key'], domain: 'third.example', maxAgeDays: 21, keepDomains: [], now: () => now });
  const again = third.forward(srs1);
  assert.match(again.local, /^SRS1=[A-Za-z0-9+/]{4}=first\.example==/);
  assert.deepEqual(third.reverse(again), { address: srs0 });
  // a forged SRS1 hash
  assert.match(srs().reverse({ local: srs1.local.replace(/^SRS1=..../, 'SRS1=QQQQ'), domain: 'fwd.example' })?.refusal?.lines[0] ?? '', /hash/);
});

test('timestamps: two base32 characters of the day modulo 1024, ages across the wrap', () => {
  assert.equal(timestamp(0), 'AA');
  assert.equal(timestamp(1023 * DAY), '77');
  assert.equal(timestamp(1024 * DAY), 'AA');
  assert.equal(ageInDays('77', 1025 * DAY), 2);
  assert.equal(ageInDays('A1', now), undefined);
  assert.equal(ageInDays('AAA', now), undefined);
});
