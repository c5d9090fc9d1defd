/**
 * t-04: a full disk is a temporary failure, never a crash or a lost message. The site's data_dir
 * is a small tmpfs (a real filesystem that really fills up; mounting needs root, so the test
 * skips without it): a message too big for the space left gets 452 4.3.1 after its DATA, the
 * session stays usable, and a small message in the same session is accepted and delivered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { siteEnvelopes, startSite, waitFor } from '../helpers/site.js';

function canMount(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs';
  const probe = spawnSync('mount', ['--version']);
  return probe.error ? 'needs the mount command' : false;
}

test('disk full: 452 4.3.1 after DATA, the session stays usable, nothing half-stored', { skip: canMount() }, async (t) => {
  const mnt = await mkdtemp(join(tmpdir(), 'correio-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt]);
  } catch (err) {
    t.skip(`could not mount a tmpfs: ${err instanceof Error ? err.message : String(err)}`);
    await rm(mnt, { recursive: true, force: true });
    return;
  }
  try {
    const site = await startSite({ dataDir: join(mnt, 'var'), domains: ['localhost'], users: ['u@localhost'], smtp: { max_message_size: '50MB' } });
    try {
      const c = await site.connect();
      assert.match((await c.readReply()) ?? '', /^220 /);
      assert.match((await c.command('EHLO client.test')) ?? '', /^250/);
      // 6 MB into a 3 MB filesystem
      assert.match((await c.command('MAIL FROM:<s@test.example>')) ?? '', /^250/);
      assert.match((await c.command('RCPT TO:<u@localhost>')) ?? '', /^250/);
      assert.match((await c.command('DATA')) ?? '', /^354/);
      const line = 'x'.repeat(998) + '\r\n';
      for (let i = 0; i < 6000; i++) c.write(line);
      const big = await c.command('.');
      assert.match(big ?? '', /^452 4\.3\.1 /, `reply to the oversized message: ${big}`);
      // the same session goes on: a small message is accepted and delivered
      assert.match((await c.command('MAIL FROM:<s@test.example>')) ?? '', /^250/);
      assert.match((await c.command('RCPT TO:<u@localhost>')) ?? '', /^250/);
      assert.match((await c.command('DATA')) ?? '', /^354/);
      assert.match((await c.command('Subject: small\r\n\r\nfits\r\n.')) ?? '', /^250 /);
      assert.match((await c.command('QUIT')) ?? '', /^221 /);
      c.close();
      const got = await site.waitForMessages('u@localhost', 1);
      assert.equal(got.length, 1);
      assert.match(got[0], /\nfits\n$/);
      // the refused draft left nothing behind in the spool: no envelope once the small message
      // is delivered, and no draft file
      await waitFor('an empty spool', async () => (await siteEnvelopes(site)).length === 0);
      assert.deepEqual(await readdir(join(site.dataDir, 'spool', 'tmp')), []);
    } finally {
      await site.destroy();
    }
  } finally {
    execFileSync('umount', [mnt]);
    await rm(mnt, { recursive: true, force: true });
  }
});
