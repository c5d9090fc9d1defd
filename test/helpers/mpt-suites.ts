/**
 * @module mpt-suites
 * James's MPT scripts as James's suites run them (../shared/corpora/imap/james-mpt/SOURCES.md),
 * for any server: which suites a script runs in, the setup each suite puts before it (greeting,
 * LOGIN, SelectedStateSetup and its cleanup, SELECT INBOX), the input repairs and left-out
 * commands, and the loop that runs every script in every suite and holds the outcome against a
 * list of expected failures. Used by imap-james-mpt (correio) and imap-james-mpt-dovecot.
 * Security: test only.
 * Limitations: a suite's setup is James's as SOURCES.md transcribes it, not read from James.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { groupExpunges, parseMpt, unorderUntagged, type MptStep } from './mpt-script.js';
import type { RelaxationCounts } from './mpt-runner.js';
import { corporaDir, corporaSkip } from './paths.js';

export const jamesMptDir = join(corporaDir, 'imap', 'james-mpt');
export const jamesMptSkip = corporaSkip('imap/james-mpt');

/** The accounts James's suites log in as (user → password). */
export const jamesUsers: ReadonlyMap<string, string> = new Map([
  ['imapuser', 'password'],
  ['boby', 'password'],
  ['diana', 'password'],
  ['delegate', '123456'],
]);

export type Suite = 'security' | 'greeting' | 'login' | 'selected' | 'inbox';

const securitySuite = ['BadTag', 'BogusCommand', 'IllegalTag', 'JustTag', 'LoginThreeStrikes', 'NoCommand', 'NoTag', 'SharedMailbox'];
const greetingSuite = ['Authenticate', 'AuthenticatePlain', 'Capability', 'Login', 'Logout', 'Noop', 'ValidAuthenticated', 'ValidSelected'];
const selectedSuite = /^(Check|Copy|Expunge|ExpungeBasics|Namespace|Replace|Search|SearchSaveDate|Store|Uid|AppendToSelected|Fetch.*|.*PartialFetch|Metadata.*|Quota|Move|MoveNoMSG|ObjectId|CreateErrorWithLongName|Rename|RenameHierarchy|RenameInbox|RenameSelected)$/;
const inboxSuite = ['Append', 'Capability', 'Create', 'Delete', 'ExamineEmpty', 'ListMailboxes', 'ListNamespace', 'ListSubscribed', 'Logout', 'Noop', 'SelectEmpty', 'Status', 'StringArgs', 'Subscribe', 'ValidNonAuthenticated'];

function readScript(rel: string): string {
  return readFileSync(join(jamesMptDir, rel), 'utf8');
}

/**
 * The suites James runs a script in (SOURCES.md): a script may run in several. A script that
 * reads the greeting itself gets nothing before it.
 */
export function suitesOf(rel: string): Suite[] {
  const name = rel.replace(/^.*\//, '').replace(/\.test$/, '');
  const steps = parseMpt(readScript(rel), rel).steps;
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

function repair(rel: string, steps: readonly MptStep[], cuts: ReadonlyMap<string, string>): MptStep[] {
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

/**
 * The steps of one script in one suite, its setup and (`cleanup`, default true) the selected
 * suite's cleanup around it.
 */
export function stepsFor(suite: Suite, rel: string, cuts: ReadonlyMap<string, string>, cleanup = true): { steps: MptStep[]; sessions: number } {
  const main = parseMpt(readScript(rel), rel);
  const parts: MptStep[][] = [];
  const add = (text: string, name: string): number => parts.push(parseMpt(text, name).steps);
  if (suite === 'greeting') add(greeting, 'greeting');
  if (suite === 'login' || suite === 'selected' || suite === 'inbox') add(login, 'login');
  if (suite === 'selected') add(readScript('SelectedStateSetup.test'), 'SelectedStateSetup.test');
  // James's SELECT of the empty INBOX; its untagged lines, as many as the server sends, are not the script's
  if (suite === 'inbox') parts.push([{ op: 'send', session: -1, text: 'abcd SELECT inbox', line: 0 }, { op: 'until', session: -1, pattern: 'abcd OK .*', line: 0 }]);
  parts.push(repair(rel, main.steps, cuts));
  if (suite === 'selected' && cleanup) add(readScript('SelectedStateCleanup.test'), 'SelectedStateCleanup.test');
  return { steps: groupExpunges(unorderUntagged(parts.flat())), sessions: main.sessions };
}

/** Every script but SelectedStateSetup/Cleanup (JAMES_MPT=regex: only the matching paths). */
export function jamesScripts(): string[] {
  if (jamesMptSkip) return [];
  return [...readdirSync(jamesMptDir).filter((f) => f.endsWith('.test')), ...readdirSync(join(jamesMptDir, 'aclIntegration')).map((f) => `aclIntegration/${f}`)]
    .filter((f) => !/SelectedState(Setup|Cleanup)\.test$/.test(f))
    .filter((f) => !process.env.JAMES_MPT || new RegExp(process.env.JAMES_MPT).test(f))
    .sort();
}

export interface SuiteOutcome {
  /** scripts that passed in at least one suite */
  readonly passed: Set<string>;
  /** runs whose outcome the list does not foresee: a failure not listed, or a listed pass */
  readonly unexpected: string[];
  readonly used: RelaxationCounts;
}

/**
 * Runs every script in each of its suites, `concurrency` runs at a time, and holds each outcome
 * against `listed` (key: script path, every suite, or "path (suite)"): a run fails or passes as
 * listed, or it is `unexpected`. `run` gets the read timeout: 2 s for a listed run (it mostly
 * waits for a line the server never sends), 10 s otherwise.
 */
export async function runSuites(
  scripts: readonly string[],
  listed: ReadonlyMap<string, string>,
  concurrency: number,
  run: (suite: Suite, rel: string, readTimeoutMs: number) => Promise<RelaxationCounts>,
): Promise<SuiteOutcome> {
  const out: SuiteOutcome = { passed: new Set(), unexpected: [], used: new Map() };
  const runs = scripts.flatMap((rel) => suitesOf(rel).map((suite) => ({ rel, suite })));
  const results: { id: string; error?: unknown; reason?: string; rel: string }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < runs.length) {
      const { rel, suite } = runs[next++];
      const id = `${rel} (${suite})`;
      const reason = listed.get(rel) ?? listed.get(id);
      const r: (typeof results)[number] = { id, reason, rel };
      try {
        for (const [k, v] of await run(suite, rel, reason ? 2000 : 10_000)) out.used.set(k, (out.used.get(k) ?? 0) + v);
      } catch (e) {
        r.error = e ?? new Error('failed');
      }
      results.push(r);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  results.sort((a, b) => (a.id < b.id ? -1 : 1));
  for (const { id, error, reason, rel } of results) {
    if (!error) out.passed.add(rel);
    if (error && !reason) out.unexpected.push(`${id}: ${error instanceof Error ? error.message : JSON.stringify(error)}`);
    if (!error && reason) out.unexpected.push(`${id}: passes but is listed (${reason})`);
  }
  return out;
}
