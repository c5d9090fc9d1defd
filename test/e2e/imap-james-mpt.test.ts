/**
 * Apache James's IMAP protocol scripts (../shared/corpora/imap/james-mpt/, 169 scripts) against
 * correio's IMAP server on Maildir, through our own interpreter of the MPT format
 * (test/helpers/mpt-script, mpt-runner). Each script runs on a fresh account, in the suite
 * setups James gives it (greeting only, LOGIN, LOGIN + SelectedStateSetup, SELECT INBOX), as
 * SOURCES.md transcribes them. Comparison is exact except for the relaxations in mpt-script
 * (human text of status responses, response codes we do not implement). Every script either
 * passes or is in `listed` with the reason it cannot apply; a listed script that passes fails
 * the test too, so the list stays true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { MailFolderStore } from '../../src/core/index.js';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';
import { relaxations } from '../helpers/mpt-script.js';
import { runMpt, type RelaxationCounts } from '../helpers/mpt-runner.js';
import { jamesMptSkip as skip, jamesScripts, jamesUsers as users, runSuites, stepsFor, type Suite } from '../helpers/mpt-suites.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { cuts, listed } from './imap-james-mpt.listed.js';

/**
 * James's bare user names as our local@domain accounts, and an account that starts with INBOX
 * alone as James's does: correio's default folders (Sent, Drafts, ...) are its own policy
 * (issue 14), not the protocol's, and the scripts LIST the whole account.
 */
function jamesAccounts(folders: MailFolderStore): MailFolderStore {
  return new Proxy(folders, {
    get(target, key, receiver) {
      if (key === 'ensureDefaultFolders') return () => Promise.resolve();
      const v: unknown = Reflect.get(target, key, receiver);
      if (typeof v !== 'function') return v;
      return (user: unknown, ...rest: unknown[]) =>
        (v as (...a: unknown[]) => unknown).call(target, typeof user === 'string' && !user.includes('@') ? `${user.toLowerCase()}@james.example` : user, ...rest);
    },
  });
}

/**
 * `readTimeoutMs`: how long a missing server line is waited for. A listed script is expected to
 * fail, often by waiting for a line correio never sends (ACL, XLIST): it gets 2 s, so that the
 * run does not spend minutes on those; a listed script that passes still passes.
 */
async function runOne(suite: Suite, rel: string, readTimeoutMs: number): Promise<RelaxationCounts> {
  const { steps, sessions } = stepsFor(suite, rel, cuts);
  return withTempDir('correio-james-', async (root) => {
    const server = new ImapServer({
      hostname: 'mx.james.example',
      folders: jamesAccounts(new MaildirFolders(new MaildirStore(root, { hostname: 'mx' }))),
      authenticate: (u, p) => Promise.resolve(users.get(u.toLowerCase()) === p),
      authFailureDelayMs: 1,
    });
    try {
      const [bound] = await server.listen([{ host: '127.0.0.1', port: 0 }]);
      return await runMpt(rel, steps, { port: bound.port, sessions, readTimeoutMs });
    } finally {
      await server.close();
    }
  });
}

const scripts = jamesScripts();

void test('James MPT scripts: each passes on correio or is listed with its reason', { skip }, async (t) => {
  const { passed, unexpected, used } = await runSuites(scripts, listed, 1, runOne);
  // JAMES_MPT_REPORT=file: the failures in full, one paragraph each
  if (process.env.JAMES_MPT_REPORT) writeFileSync(process.env.JAMES_MPT_REPORT, unexpected.join('\n\n') + '\n');
  t.diagnostic(`${passed.size} of ${scripts.length} scripts pass (${cuts.size} single commands left out); ${[...listed.keys()].length} listed`);
  t.diagnostic(`relaxations used: ${[...used].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const name of used.keys()) assert.ok(relaxations.some((r) => r.name === name), name);
  assert.deepEqual(unexpected, []);
});
