/**
 * The James MPT interpreter (test/helpers/mpt-script, mpt-runner, mpt-suites) proved against
 * Dovecot, a server nobody here wrote: every script of ../shared/corpora/imap/james-mpt runs in
 * James's suites, exactly as imap-james-mpt runs it against correio (same setup, repairs, cuts
 * and relaxations), against Dovecot's whole server (test/helpers/dovecot-server: LOGIN against
 * a passwd-file, Maildir), one fresh server per run. The scripts that pass are the proof that
 * the interpreter reads the format as James's scripts mean it; each that fails is in
 * `dovecotListed` (imap-james-mpt.listed.ts) with the reason (Dovecot's texts and policies,
 * James-specific behaviour, extensions this configuration does not load). The test fails when
 * another script fails, or when a listed one passes (so the list stays true). Skips without the
 * corpus or without Dovecot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { startDovecotServer, dovecotMaster } from '../helpers/dovecot-server.js';
import { relaxations } from '../helpers/mpt-script.js';
import { runMpt, type RelaxationCounts } from '../helpers/mpt-runner.js';
import { jamesMptSkip, jamesScripts, jamesUsers, runSuites, stepsFor, type Suite } from '../helpers/mpt-suites.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { cuts, dovecotListed } from './imap-james-mpt.listed.js';

const skip = jamesMptSkip || (!existsSync(dovecotMaster) ? `${dovecotMaster} is absent (Debian packages dovecot-core, dovecot-imapd)` : false);

/** Dovecot sends HIGHESTMODSEQ only once CONDSTORE is enabled (relaxation "highestmodseq"). */
const optionalCodes = [{ code: /^HIGHESTMODSEQ\b/, relaxation: 'highestmodseq' }];

async function runOne(suite: Suite, rel: string, readTimeoutMs: number): Promise<RelaxationCounts> {
  // without SelectedStateCleanup: it DELETEs the selected mailbox, for which Dovecot ends the
  // session (* BYE Selected mailbox was deleted; RFC 9051 §6.3.5 leaves it to the server), and
  // each run has a server of its own anyway
  const { steps, sessions } = stepsFor(suite, rel, cuts, false);
  return withTempDir('correio-james-dovecot-', async (dir) => {
    const server = await startDovecotServer(dir, jamesUsers);
    try {
      return await runMpt(rel, steps, { port: server.port, sessions, readTimeoutMs, optionalCodes });
    } finally {
      await server.stop();
    }
  });
}

const scripts = jamesScripts();

void test('James MPT scripts: each passes on Dovecot or is listed with its reason', { skip, timeout: 600_000 }, async (t) => {
  // four runs at a time: each mostly waits on Dovecot's processes, and listed runs on a timeout
  const { passed, unexpected, used } = await runSuites(scripts, dovecotListed, 4, runOne);
  // JAMES_MPT_REPORT=file: the failures in full, one paragraph each
  if (process.env.JAMES_MPT_REPORT) writeFileSync(process.env.JAMES_MPT_REPORT, unexpected.join('\n\n') + '\n');
  t.diagnostic(`${passed.size} of ${scripts.length} scripts pass on Dovecot (${cuts.size} single commands left out); ${dovecotListed.size} listed`);
  t.diagnostic(`relaxations used: ${[...used].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const name of used.keys()) assert.ok(relaxations.some((r) => r.name === name), name);
  assert.deepEqual(unexpected, []);
});
