/**
 * t-97: an SMTP acceptor process that cannot run is not started again every second forever
 * (`[smtp] processes = 2`, real processes):
 * - one that ends before it ever accepted while the server starts fails that start: `correio
 *   serve` exits 70 with one line naming the cause (the acceptor tells it before it exits; made
 *   to fail by the test hook CORREIO_TEST_ACCEPTOR_FAIL=start) and logs it;
 * - a running one killed again and again right after each start is replaced after 1, 1, 2,
 *   4 s (backing off), with an error line saying how many in a row, and mail is taken again;
 * - a reload whose new acceptor ends at its start (the hook with a file that is there only then:
 *   CORREIO_TEST_ACCEPTOR_FAIL=file:PATH) is refused naming the cause, with an error line; the
 *   old acceptor goes on (same pid, mail answered 250), the new one is not started again, and a
 *   reload once the cause is gone replaces the old one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand, runCli } from '../helpers/cli.js';
import { childrenOf, sendMail, startSiteProcess, waitFor } from '../helpers/site.js';

const opts = { domains: ['localhost'], users: ['u@localhost'], smtp: { processes: 2 }, logLevel: 'warn' };

void test('an acceptor that can never start fails the start: exit 70, one line and a log line naming the cause', async () => {
  const site = await startSiteProcess(opts);
  try {
    await site.stop();
    const child = spawn(process.execPath, [...cliCommand(), 'serve', '--config', site.configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CORREIO_CONFIG: undefined, CORREIO_TEST: '1', CORREIO_TEST_ACCEPTOR_FAIL: 'start' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    clearTimeout(timer);
    assert.equal(code, 70, `exit status; stderr: ${stderr}`);
    const lines = stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, `one line on stderr: ${JSON.stringify(stderr)}`);
    assert.match(
      lines[0],
      /^correio: the SMTP acceptor process \(pid \d+\) ended before it accepted a connection: made to fail at its start \(CORREIO_TEST_ACCEPTOR_FAIL\); fix that, or set \[smtp\] processes = 1 to run SMTP in the server$/,
    );
    assert.match(stdout, /acceptor process ended before it accepted a connection \(made to fail at its start \(CORREIO_TEST_ACCEPTOR_FAIL\)\); the start fails/);
    assert.doesNotMatch(stdout, /starting another/, 'not started again');
  } finally {
    await site.destroy();
  }
});

void test('an acceptor killed again and again at its start is replaced less and less often; mail is taken again after', async () => {
  const site = await startSiteProcess(opts);
  try {
    const server = site.child!.pid!;
    let last: number | undefined;
    for (let i = 0; i < 4; i++) {
      const [acceptor] = await waitFor('an acceptor process', () => {
        const now = childrenOf(server).filter((p) => p !== last);
        return now.length === 1 ? now : undefined;
      }, 30_000);
      process.kill(acceptor, 'SIGKILL');
      last = acceptor;
    }
    // each replacement was killed within 10 s of its start: the last waits 4 s
    await waitFor('the backoff log line', () => /"inARow":3/.test(site.stdout()), 30_000);
    const backoff = site.stdout().split('\n').find((l) => l.includes('"inARow":3')) ?? '';
    assert.match(backoff, /acceptor process ended \(killed by SIGKILL\), 3 in a row within 10 s of their start; starting another in 4 s \(backing off, at most 60 s\)/);
    assert.match(backoff, /"inMs":4000/);
    assert.match(site.stdout(), /"inARow":2,.*starting another in 2 s/);
    // after the backoff another acceptor takes mail
    const c = await waitFor('a greeting from a new acceptor', async () => {
      const now = childrenOf(server).filter((p) => p !== last);
      if (now.length !== 1) return undefined;
      return site.connect();
    }, 30_000);
    assert.match((await c.readReply()) ?? '', /^220 /);
    c.close();
  } finally {
    await site.destroy();
  }
});

void test('a reload whose new acceptor cannot start is refused, the old acceptor goes on serving, and is retired by the next good reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 't97-'));
  const failFile = join(dir, 'fail');
  // inherited by the server and its acceptors: they fail at their start while failFile is there
  process.env.CORREIO_TEST_ACCEPTOR_FAIL = `file:${failFile}`;
  const site = await startSiteProcess(opts);
  try {
    const server = site.child!.pid!;
    const [old] = await waitFor('an acceptor process', () => (childrenOf(server).length === 1 ? childrenOf(server) : undefined), 30_000);
    writeFileSync(failFile, '');
    const refused = await runCli(['reload', '--config', site.configFile]);
    assert.equal(refused.code, 78, `exit status; stderr: ${refused.stderr}`);
    assert.match(
      refused.stderr,
      /^correio: reload refused, the running configuration stays: the new SMTP acceptor process ended before accepting a connection \(pid \d+: made to fail at its start \(CORREIO_TEST_ACCEPTOR_FAIL\)\); the old acceptor processes go on serving\n$/,
    );
    await waitFor('the error line of the refused reload', () => /"level":50,.*reload refused, the running configuration stays: the new SMTP acceptor process ended before accepting/.test(site.stdout()));
    // the old acceptor is the only one: the failed new one has ended and is not started again
    assert.deepEqual(childrenOf(server), [old]);
    const sent = await sendMail(site, 'a@example.org', ['u@localhost'], 'Subject: after a failed reload\n\nbody\n');
    assert.match(sent.final ?? '', /^250 /);
    await site.waitForMessages('u@localhost', 1);
    assert.deepEqual(childrenOf(server), [old], 'the old acceptor is still the one serving');

    rmSync(failFile);
    const ok = await runCli(['reload', '--config', site.configFile]);
    assert.equal(ok.code, 0, `exit status; stderr: ${ok.stderr}`);
    await waitFor('the old acceptor retired, a new one there', () => {
      const now = childrenOf(server);
      return now.length === 1 && now[0] !== old;
    }, 30_000);
    const again = await sendMail(site, 'a@example.org', ['u@localhost'], 'Subject: after a good reload\n\nbody\n');
    assert.match(again.final ?? '', /^250 /);
    assert.doesNotMatch(site.stdout(), /starting another/, 'no acceptor was started again after the failed reload');
  } finally {
    delete process.env.CORREIO_TEST_ACCEPTOR_FAIL;
    await site.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
