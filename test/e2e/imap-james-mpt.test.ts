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
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MailFolderStore } from '../../src/core/index.js';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { ImapServer } from '../../src/server/imap/index.js';
import { groupExpunges, parseMpt, relaxations, unorderUntagged, type MptStep } from '../helpers/mpt-script.js';
import { runMpt, type RelaxationCounts } from '../helpers/mpt-runner.js';
import { corporaDir, corporaSkip } from '../helpers/paths.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { cuts, listed } from './imap-james-mpt.listed.js';

const dir = join(corporaDir, 'imap', 'james-mpt');
const skip = corporaSkip('imap/james-mpt');

/** The accounts James's suites log in as (user → password). */
const users = new Map([
  ['imapuser', 'password'],
  ['boby', 'password'],
  ['diana', 'password'],
  ['delegate', '123456'],
]);

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

type Suite = 'security' | 'greeting' | 'login' | 'selected' | 'inbox';

const securitySuite = ['BadTag', 'BogusCommand', 'IllegalTag', 'JustTag', 'LoginThreeStrikes', 'NoCommand', 'NoTag', 'SharedMailbox'];
const greetingSuite = ['Authenticate', 'AuthenticatePlain', 'Capability', 'Login', 'Logout', 'Noop', 'ValidAuthenticated', 'ValidSelected'];
const selectedSuite = /^(Check|Copy|Expunge|ExpungeBasics|Namespace|Replace|Search|SearchSaveDate|Store|Uid|AppendToSelected|Fetch.*|.*PartialFetch|Metadata.*|Quota|Move|MoveNoMSG|ObjectId|CreateErrorWithLongName|Rename|RenameHierarchy|RenameInbox|RenameSelected)$/;
const inboxSuite = ['Append', 'Capability', 'Create', 'Delete', 'ExamineEmpty', 'ListMailboxes', 'ListNamespace', 'ListSubscribed', 'Logout', 'Noop', 'SelectEmpty', 'Status', 'StringArgs', 'Subscribe', 'ValidNonAuthenticated'];

/**
 * The suites James runs a script in (SOURCES.md): a script may run in several. A script that
 * reads the greeting itself gets nothing before it.
 */
function suitesOf(name: string, steps: readonly MptStep[]): Suite[] {
  const readsGreeting = steps.slice(0, 2).some((s) => s.op === 'expect' && s.pattern.includes('Server ready'));
  if (securitySuite.includes(name) || readsGreeting) return ['security'];
  const out: Suite[] = [];
  if (greetingSuite.includes(name)) out.push('greeting');
  if (selectedSuite.test(name)) out.push('selected');
  if (inboxSuite.includes(name)) out.push('inbox', 'login');
  if (out.length === 0) out.push('login');
  return out;
}

const greeting = 'S: \\* OK .*\n';
const login = `${greeting}C: a001 LOGIN imapuser password\nS: a001 OK .*\n`;

/**
 * The script as we send it: the commands in `cuts` left out with their replies (up to their
 * tagged reply); STORE with two spaces before its flags sent with one, and SEARCH with spaces
 * just inside its parentheses sent without them (RFC 9051 §9: one SP, none after "(" or before
 * ")"; correio answers BAD as the grammar says, and the scripts mean the command: without the
 * STORE every later SEARCH answer of SearchAtoms and its kin would differ).
 */
function repairLine(text: string): string {
  const store = text.replace(/^(\S+ (?:UID )?STORE \S+) {2,}/i, '$1 ');
  return /^\S+ (UID )?SEARCH /i.test(store) ? store.replace(/\( +/g, '(').replace(/ +\)/g, ')') : store;
}

function repair(rel: string, steps: readonly MptStep[]): MptStep[] {
  const out: MptStep[] = [];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    if (step.op === 'send' && cuts.has(`${rel}:${step.line}`)) {
      const tag = step.text.split(' ')[0];
      while (i < steps.length && !(steps[i].op === 'expect' && (steps[i] as { pattern: string }).pattern.startsWith(`${tag} `))) i++;
      continue;
    }
    out.push(step.op === 'send' ? { ...step, text: repairLine(step.text) } : step);
  }
  return out;
}

function readScript(rel: string): string {
  return readFileSync(join(dir, rel), 'utf8');
}

function stepsFor(suite: Suite, rel: string): { steps: MptStep[]; sessions: number } {
  const main = parseMpt(readScript(rel), rel);
  const parts: MptStep[][] = [];
  const add = (text: string, name: string): number => parts.push(parseMpt(text, name).steps);
  if (suite === 'greeting') add(greeting, 'greeting');
  if (suite === 'login' || suite === 'selected' || suite === 'inbox') add(login, 'login');
  if (suite === 'selected') add(readScript('SelectedStateSetup.test'), 'SelectedStateSetup.test');
  if (suite === 'inbox') add('C: abcd SELECT inbox\nSUB {\n' + 'S: \\* .*\n'.repeat(7) + '}\nS: abcd OK .*\n', 'select-inbox');
  parts.push(repair(rel, main.steps));
  if (suite === 'selected') add(readScript('SelectedStateCleanup.test'), 'SelectedStateCleanup.test');
  return { steps: groupExpunges(unorderUntagged(parts.flat())), sessions: main.sessions };
}

/**
 * `readTimeoutMs`: how long a missing server line is waited for. A listed script is expected to
 * fail, often by waiting for a line correio never sends (ACL, XLIST): it gets 2 s, so that the
 * run does not spend minutes on those; a listed script that passes still passes.
 */
async function runOne(suite: Suite, rel: string, readTimeoutMs: number): Promise<RelaxationCounts> {
  const { steps, sessions } = stepsFor(suite, rel);
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

const scripts = skip
  ? []
  : [...readdirSync(dir).filter((f) => f.endsWith('.test')), ...readdirSync(join(dir, 'aclIntegration')).map((f) => `aclIntegration/${f}`)]
      .filter((f) => !/SelectedState(Setup|Cleanup)\.test$/.test(f))
      // JAMES_MPT=regex: only the scripts whose path matches (while working on one)
      .filter((f) => !process.env.JAMES_MPT || new RegExp(process.env.JAMES_MPT).test(f))
      .sort();

void test('James MPT scripts: each passes on correio or is listed with its reason', { skip }, async (t) => {
  const used: RelaxationCounts = new Map();
  const unexpected: string[] = [];
  const passed = new Set<string>();
  for (const rel of scripts) {
    const name = rel.replace(/^.*\//, '').replace(/\.test$/, '');
    for (const suite of suitesOf(name, parseMpt(readScript(rel), rel).steps)) {
      const id = `${rel} (${suite})`;
      const reason = listed.get(rel) ?? listed.get(id);
      let error: unknown;
      try {
        for (const [k, v] of await runOne(suite, rel, reason ? 2000 : 10_000)) used.set(k, (used.get(k) ?? 0) + v);
      } catch (e) {
        error = e;
      }
      if (!error) passed.add(rel);
      if (error && !reason) unexpected.push(`${id}: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
      if (!error && reason) unexpected.push(`${id}: passes but is listed (${reason})`);
    }
  }
  // JAMES_MPT_REPORT=file: the failures in full, one paragraph each
  if (process.env.JAMES_MPT_REPORT) writeFileSync(process.env.JAMES_MPT_REPORT, unexpected.join('\n\n') + '\n');
  t.diagnostic(`${passed.size} of ${scripts.length} scripts pass (${cuts.size} single commands left out); ${[...listed.keys()].length} listed`);
  t.diagnostic(`relaxations used: ${[...used].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const name of used.keys()) assert.ok(relaxations.some((r) => r.name === name), name);
  assert.deepEqual(unexpected, []);
});
