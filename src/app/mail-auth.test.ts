/**
 * The wiring of `[mail_auth]` (mail-auth.ts): SRS secret rotation from the configuration. An
 * address made with the old secret still reverses once `srs_old_secrets` names it, new addresses
 * use the new secret, and without the old one the address is refused (the key did change).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/index.js';
import { Srs } from '../policy/index.js';
import { srsFor } from './mail-auth.js';

const oldSecret = 'the old secret, sixteen+';
const newSecret = 'the new secret, sixteen+';
const config = (extra: string): ReturnType<typeof parseConfig> =>
  parseConfig(`data_dir = "/nonexistent"\nlocal_domains = ["fwd.example"]\n[mail_auth]\nsrs = true\nsrs_secret = "${newSecret}"\n${extra}`);

test('srs_old_secrets: bounces to addresses made with a rotated secret still come back; new ones use the new secret', () => {
  const before = new Srs({ secrets: [oldSecret], domain: 'fwd.example', maxAgeDays: 21, keepDomains: ['fwd.example'] });
  const made = before.forward({ local: 'alice', domain: 'origin.example' });

  const rotated = srsFor(config(`srs_old_secrets = ["${oldSecret}"]\n`));
  assert.ok(rotated);
  assert.deepEqual(rotated.reverse(made), { address: { local: 'alice', domain: 'origin.example' } });
  const fresh = rotated.forward({ local: 'bob', domain: 'origin.example' });
  assert.equal(before.reverse(fresh)?.address, undefined, 'a new address is made with the new secret');

  const forgotten = srsFor(config(''));
  assert.ok(forgotten);
  assert.equal(forgotten.reverse(made)?.address, undefined, 'without the old secret its addresses are refused');
  assert.throws(() => config('srs_old_secrets = ["short"]\n'), /srs_old_secrets.*16 characters/);
});
