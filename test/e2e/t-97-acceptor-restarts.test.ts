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
 *   reload once the cause is gone replaces the old one;
 * - with three acceptors (processes = 4), a reload one of whose new acceptors ends at its start
 *   (CORREIO_TEST_ACCEPTOR_FAIL=once:PATH: the one that removes the file) is refused as a whole
 *   (exit 78): the two new ones that accepted are stopped, the three old ones go on, and mail
 *   sent all along, with an old acceptor killed -9 after the refusal, is delivered exactly once;
 * - a reload while a killed acceptor's replacement waits out its backoff drops that restart: no
 *   acceptor of the old set starts beside the new one (issue 19);
 * - a reload by SIGHUP after acceptors kept ending starts the new set's backoff afresh: its
 *   acceptor killed at its start is replaced after 1 s (a warning), not after the old set's next
 *   step (8 s, an error line), and mail is taken after.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand, runCli } from '../helpers/cli.js';
import { assertExactlyOnce, delivered, load, moreAcked } from '../helpers/delivered-once.js';
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

void test('processes = 4: a reload one of whose three new acceptors cannot start is refused as a whole; the old set serves on, no 250 lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 't97-'));
  const failFile = join(dir, 'fail-one');
  process.env.CORREIO_TEST_ACCEPTOR_FAIL = `once:${failFile}`;
  // info: 'correio started' says that all three accept (each one has looked for the file by then)
  const site = await startSiteProcess({ ...opts, smtp: { processes: 4 }, logLevel: 'info' });
  const acked = new Set<string>();
  let stop = false;
  let running: Promise<void> | undefined;
  try {
    const server = site.child!.pid!;
    await waitFor('the start', () => site.started(), 60_000);
    const old = childrenOf(server).sort();
    assert.equal(old.length, 3, 'three acceptor processes');
    running = load(site, 3, () => stop, acked, 'p');
    await moreAcked(acked, 20, 'mail flowing');
    // one of the three new acceptors removes the file and ends at its start; two accept
    writeFileSync(failFile, '');
    const refused = await runCli(['reload', '--config', site.configFile]);
    assert.equal(refused.code, 78, `exit status; stderr: ${refused.stderr}; server's log: ${site.stdout().slice(-3000)}`);
    assert.match(
      refused.stderr,
      /^correio: reload refused, the running configuration stays: 1 of 3 new SMTP acceptor processes ended before accepting a connection \(pid \d+: made to fail at its start \(CORREIO_TEST_ACCEPTOR_FAIL\)\); the old acceptor processes go on serving\n$/,
    );
    // the two that accepted are stopped (after their sessions): the old three are the set
    await waitFor('only the old acceptors', () => JSON.stringify(childrenOf(server).sort()) === JSON.stringify(old), 60_000);
    await moreAcked(acked, 20, 'mail flowing after the refusal');
    // kill -9 of one old acceptor: it is replaced (set of the running configuration), mail goes on
    process.kill(old[0], 'SIGKILL');
    await waitFor('a replacement for the killed acceptor', () => {
      const now = childrenOf(server);
      return now.length === 3 && !now.includes(old[0]);
    }, 30_000);
    await moreAcked(acked, 20, 'mail flowing after the kill');
    stop = true;
    await running;
    assertExactlyOnce(await delivered(site, acked), acked);
  } finally {
    stop = true;
    await running?.catch(() => undefined);
    delete process.env.CORREIO_TEST_ACCEPTOR_FAIL;
    await site.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

void test('a reload while a killed acceptor waits out its restart backoff drops that restart: no second set beside the new one', async (t) => {
  const site = await startSiteProcess(opts);
  try {
    const server = site.child!.pid!;
    const killed: number[] = [];
    // killed at each start until its replacement waits `atLeast` (8 s) or more, then a reload.
    // The restart cannot start before its kill plus its wait: a reload answered by then has
    // dropped it. One answered later (a loaded machine: a CLI and a new acceptor process to
    // start) may have let it start first (then retired with its set, nothing dropped): again
    // with the new set, until a restart that waits twice as long, and half as long again as
    // that reload took (at most the longest wait, 60 s)
    let backoff: { ms: number; seenAt: number } | undefined;
    let atLeast = 8000;
    while (!backoff) {
      let pending: { ms: number; seenAt: number; killedAt: number } | undefined;
      while (!pending) {
        const [acceptor] = await waitFor('an acceptor process', () => {
          const now = childrenOf(server).filter((p) => !killed.includes(p));
          return now.length === 1 ? now : undefined;
        }, 60_000);
        const killedAt = Date.now();
        process.kill(acceptor, 'SIGKILL');
        killed.push(acceptor);
        const ms = await waitFor(`the restart line after kill ${killed.length}`, () => {
          const lines = site.stdout().split('\n').filter((l) => /acceptor process ended/.test(l) && l.includes(`"pid":${acceptor}`));
          const inMs = /"inMs":(\d+)/.exec(lines[0] ?? '')?.[1];
          return inMs === undefined ? undefined : Number(inMs);
        }, 30_000);
        if (ms >= atLeast) pending = { ms, seenAt: Date.now(), killedAt };
      }
      const ok = await runCli(['reload', '--config', site.configFile]);
      assert.equal(ok.code, 0, `exit status; stderr: ${ok.stderr}`);
      const took = Date.now() - pending.killedAt;
      if (took < pending.ms) {
        backoff = pending;
        continue;
      }
      assert.ok(atLeast < 60_000, `the reload was answered ${took} ms after the kill, after even the longest restart wait (${pending.ms} ms); server's log: ${site.stdout().slice(-3000)}`);
      atLeast = Math.min(60_000, Math.max(2 * atLeast, 1.5 * took));
      t.diagnostic(`the reload was answered ${took} ms after the kill, its restart due after ${pending.ms} ms: again, with a restart due after ${atLeast} ms or more`);
    }
    const [fresh] = await waitFor('the new set\'s acceptor', () => (childrenOf(server).length === 1 ? childrenOf(server) : undefined), 30_000);
    // past the moment the dropped restart would have started one beside it
    await new Promise((r) => setTimeout(r, Math.max(0, backoff.seenAt + backoff.ms + 2000 - Date.now())));
    assert.deepEqual(childrenOf(server), [fresh], 'one acceptor, as configured');
    await waitFor('the dropped restart\'s line', () => /"level":40,.*a pending acceptor restart dropped: its set no longer serves \(a reload replaced or refused it\)/.test(site.stdout()));
    const sent = await sendMail(site, 'a@example.org', ['u@localhost'], 'Subject: after the reload\n\nbody\n');
    assert.match(sent.final ?? '', /^250 /);
    await site.waitForMessages('u@localhost', 1);
  } finally {
    await site.destroy();
  }
});

void test('a reload by SIGHUP after acceptors kept ending starts the new set\'s backoff afresh: its first end is restarted after 1 s, and mail goes on', async () => {
  // info: the reload's 'configuration reloaded' line, written once the old set is retired
  const site = await startSiteProcess({ ...opts, logLevel: 'info' });
  try {
    const server = site.child!.pid!;
    const killed: number[] = [];
    const next = (what: string): Promise<number> => waitFor(what, () => {
      const now = childrenOf(server).filter((p) => !killed.includes(p));
      return now.length === 1 ? now[0] : undefined;
    }, 60_000);
    const restartLine = (pid: number): Promise<{ line: string; inMs: number }> => waitFor(`the restart line after the kill of ${pid}`, () => {
      const line = site.stdout().split('\n').find((l) => /acceptor process ended/.test(l) && l.includes(`"pid":${pid}`));
      const inMs = /"inMs":(\d+)/.exec(line ?? '')?.[1];
      return line === undefined || inMs === undefined ? undefined : { line, inMs: Number(inMs) };
    }, 30_000);
    // killed at each start until its replacement waits 4 s or more (3 in a row)
    for (;;) {
      const acceptor = await next('an acceptor process');
      process.kill(acceptor, 'SIGKILL');
      killed.push(acceptor);
      if ((await restartLine(acceptor)).inMs >= 4000) break;
    }
    process.kill(server, 'SIGHUP');
    // the old set retired (its pending restart dropped, or the acceptor it started retired)
    await waitFor('the reload', () => /"msg":"configuration reloaded"/.test(site.stdout()), 60_000);
    const fresh = await next('the new set\'s acceptor');
    process.kill(fresh, 'SIGKILL');
    killed.push(fresh);
    const { line, inMs } = await restartLine(fresh);
    assert.equal(inMs, 1000, `the new set's first end is restarted after 1 s: ${line}`);
    assert.match(line, /"level":40,.*"msg":"acceptor process ended; starting another"/);
    await next('the replacement of the new set\'s acceptor');
    const sent = await sendMail(site, 'a@example.org', ['u@localhost'], 'Subject: after the reload\n\nbody\n');
    assert.match(sent.final ?? '', /^250 /);
    await site.waitForMessages('u@localhost', 1);
  } finally {
    await site.destroy();
  }
});
