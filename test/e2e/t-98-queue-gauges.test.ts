/**
 * t-98 (issue 19): /metrics' queue gauges come from the delivery runner's memory, kept exact by
 * every change, never from a walk of the spool. A real `correio serve` (an acceptor process
 * takes the mail) with a next hop that refuses connections: the counts per state after accept
 * and defer (the deferred envelopes are parked: only their id, time and state kept), hold,
 * release, delete, a clean restart (the saved schedule carries the states: nothing is read)
 * and a kill -9 restart (the spool walked again); correio_queue_loaded is 1 once the runner has
 * seen the whole spool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { sendMail, startSiteProcess, waitFor } from '../helpers/site.js';

/** The queue gauges of a scrape: state → count, and correio_queue_loaded. */
async function gauges(port: number): Promise<{ loaded: number; states: Record<string, number> } | undefined> {
  const body = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => undefined);
  if (body === undefined) return undefined;
  const states: Record<string, number> = {};
  for (const m of body.matchAll(/^correio_queue_size\{state="([a-z-]+)"\} (\d+)$/gm)) states[m[1]] = Number(m[2]);
  const loaded = /^correio_queue_loaded (\d)$/m.exec(body)?.[1];
  return loaded === undefined ? undefined : { loaded: Number(loaded), states };
}

void test('queue gauges: exact after accept, defer, hold, release, delete, a clean restart and a kill -9 restart', async () => {
  // nothing listens there: every attempt is deferred (connection refused), retried in an hour
  const refusing = await freePort('127.0.0.1');
  // picked afresh each time startSiteProcess starts serve over (a port taken meanwhile)
  let metricsPort = 0;
  const site = await startSiteProcess({
    domains: ['localhost'],
    users: ['u@localhost'],
    smtp: { processes: 2 },
    delivery: { retry_min: '1h', retry_max: '2h' },
    tables: async () => {
      metricsPort = await freePort('127.0.0.1');
      return `[delivery.routes]\n"example.net" = "smtp:[127.0.0.1]:${refusing}"\n[metrics]\nlisten = ["127.0.0.1:${metricsPort}"]\n`;
    },
  });
  const config = ['--config', site.configFile];
  /** waits until the gauges say `want` (the other states 0) with the spool seen whole */
  const expect = async (what: string, want: Record<string, number>): Promise<void> => {
    const full = { queued: 0, deferred: 0, held: 0, 'notice-pending': 0, ...want };
    let last: unknown;
    try {
      await waitFor(what, async () => {
        const g = await gauges(metricsPort);
        last = g;
        return g !== undefined && g.loaded === 1 && JSON.stringify(g.states) === JSON.stringify(full);
      }, 30_000);
    } catch (err) {
      assert.fail(`${what}: ${(err as Error).message}; last scrape ${JSON.stringify(last)}, wanted ${JSON.stringify(full)}`);
    }
  };
  try {
    for (const r of ['a', 'b', 'c']) {
      const sent = await sendMail(site, 'sender@localhost', [`${r}@example.net`], `Subject: to ${r}\n\nwaits\n`);
      assert.match(sent.final ?? '', /^250/);
    }
    // and one delivered at once: counted nowhere once it is done
    await sendMail(site, 'sender@localhost', ['u@localhost'], 'Subject: local\n\nhere\n');
    await site.waitForMessages('u@localhost', 1);
    await expect('three deferred', { deferred: 3 });
    const list = await runCli(['queue', 'list', '--json', ...config]);
    assert.equal(list.code, 0, list.stderr);
    const ids = (JSON.parse(list.stdout) as { id: string }[]).map((m) => m.id);
    assert.equal(ids.length, 3);
    const queue = async (...args: string[]): Promise<void> => {
      const r = await runCli(['queue', ...args, ...config]);
      assert.equal(r.code, 0, `queue ${args.join(' ')}: ${r.stderr}`);
    };
    await queue('hold', ids[0]);
    await expect('one held', { deferred: 2, held: 1 });
    // released, it is tried at once and deferred again
    await queue('release', ids[0]);
    await expect('released and deferred again', { deferred: 3 });
    await queue('delete', ids[1]);
    await expect('one deleted', { deferred: 2 });
    await queue('hold', ids[2]);
    await expect('one held again', { deferred: 1, held: 1 });
    // a clean stop saves the schedule with the states; the next start reads no envelope
    await site.restart();
    await expect('after a clean restart', { deferred: 1, held: 1 });
    // no schedule after a kill: the start walks the spool
    await site.kill9();
    await site.restart();
    await expect('after a kill -9 restart', { deferred: 1, held: 1 });
    await queue('release', ids[2]);
    await expect('released after the restarts', { deferred: 2 });
  } finally {
    await site.destroy();
  }
});
