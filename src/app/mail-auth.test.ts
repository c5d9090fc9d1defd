/**
 * The wiring of `[mail_auth]` (mail-auth.ts): SRS secret rotation from the configuration. An
 * address made with the old secret still reverses once `srs_old_secrets` names it, new addresses
 * use the new secret, and without the old one the address is refused (the key did change).
 * Without srs_secret on PostgreSQL storage (a real server, a database of the test's own), two
 * nodes with data directories of their own generate one secret between them: an address node
 * A made reverses on node B.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../config/index.js';
import { Srs } from '../policy/index.js';
import { pgUnavailable, withTestDatabase } from '../../test/helpers/pg.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';
import { srsFor } from './mail-auth.js';

const oldSecret = 'the old secret, sixteen+';
const newSecret = 'the new secret, sixteen+';
const config = (extra: string): ReturnType<typeof parseConfig> =>
  parseConfig(`data_dir = "/nonexistent"\nlocal_domains = ["fwd.example"]\n[mail_auth]\nsrs = true\nsrs_secret = "${newSecret}"\n${extra}`);

test('srs_old_secrets: bounces to addresses made with a rotated secret still come back; new ones use the new secret', async () => {
  const before = new Srs({ secrets: [oldSecret], domain: 'fwd.example', maxAgeDays: 21, keepDomains: ['fwd.example'] });
  const made = before.forward({ local: 'alice', domain: 'origin.example' });

  const rotated = await srsFor(config(`srs_old_secrets = ["${oldSecret}"]\n`));
  assert.ok(rotated);
  assert.deepEqual(rotated.reverse(made), { address: { local: 'alice', domain: 'origin.example' } });
  const fresh = rotated.forward({ local: 'bob', domain: 'origin.example' });
  assert.equal(before.reverse(fresh)?.address, undefined, 'a new address is made with the new secret');

  const forgotten = await srsFor(config(''));
  assert.ok(forgotten);
  assert.equal(forgotten.reverse(made)?.address, undefined, 'without the old secret its addresses are refused');
  assert.throws(() => config('srs_old_secrets = ["short"]\n'), /srs_old_secrets.*16 characters/);
});

void test('generated SRS secret on PostgreSQL: made once for every node, an address made on node A reverses on node B', { skip: await pgUnavailable() }, () =>
  withTestDatabase((db) =>
    withTempDir('correio-srs-', async (dir) => {
      const node = (name: string): ReturnType<typeof parseConfig> =>
        parseConfig(`data_dir = "${join(dir, name)}"\nlocal_domains = ["fwd.example"]\n[storage]\nurl = "${db.url}"\n[mail_auth]\nsrs = true\n`);
      // both start at once: one row wins, both use it
      const [a, b] = await Promise.all([srsFor(node('a')), srsFor(node('b'))]);
      assert.ok(a && b);
      const made = a.forward({ local: 'alice', domain: 'origin.example' });
      assert.deepEqual(b.reverse(made), { address: { local: 'alice', domain: 'origin.example' } });
      const again = await srsFor(node('c'));
      assert.deepEqual(again?.reverse(b.forward({ local: 'bob', domain: 'origin.example' })), { address: { local: 'bob', domain: 'origin.example' } }, 'a later node finds the same secret');
      assert.equal(existsSync(join(dir, 'a', 'srs-secret')), false, 'no per-node file');
    }),
  ));
