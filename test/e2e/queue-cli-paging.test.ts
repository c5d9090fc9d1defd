/**
 * `correio queue list --limit N --since ID|TIME` (and mailq's same options): pages of a real spool,
 * read by the real command. The spool holds 25 messages committed through the files store with
 * ids made at known times (one minute apart), so that pages by id and by time can be checked
 * exactly; bad options end with exit 64 and one line naming the option.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeSite, type Site } from './queue-cli-harness.js';
import { FsQueueStore } from '../../src/queue/index.js';
import { uniqueId } from '../../src/util/index.js';

let site: Site;
/** the ids in the spool, oldest first */
const ids: string[] = [];
const t0 = Date.parse('2026-12-01T10:00:00Z');
const minute = 60_000;

before(async () => {
  site = await makeSite();
  let i = 0;
  // the ids encode their time: message i was made at t0 + i minutes (and arrived then)
  const store = await FsQueueStore.open(join(site.dataDir, 'spool'), { recover: 'never', lock: false, newId: () => uniqueId(t0 + i * minute) });
  try {
    for (; i < 25; i++) {
      const draft = await store.createMessage();
      draft.body.end(`Subject: ${i}\r\n\r\nbody ${i}\r\n`);
      const [env] = await draft.commit([{
        sender: { local: 'jacques', domain: 'example.org' }, recipient: { local: `r${i}`, domain: 'remote.test' },
        route: { transport: 'smtp', nextHop: '[127.0.0.1]:9' }, arrivedAt: t0 + i * minute, size: 20, nextAttemptAt: 0, dsn: {},
      }]);
      ids.push(env.messageId);
    }
  } finally {
    await store.close();
  }
  assert.deepEqual([...ids].sort(), ids, 'ids sort by the time they were made');
});
after(() => site.cleanup());

async function page(args: string[]): Promise<{ ids: string[]; next: string | undefined; stdout: string }> {
  const r = await site.run(['queue', 'list', '--json', ...args]);
  assert.equal(r.code, 0, r.stderr);
  const next = /^more: --since (\S+)$/m.exec(r.stderr)?.[1];
  return { ids: (JSON.parse(r.stdout) as { id: string }[]).map((m) => m.id), next, stdout: r.stdout };
}

void test('--limit pages through the whole queue in order, each page\'s cursor leading to the next', async () => {
  const seen: string[] = [];
  let since: string[] = [];
  let pages = 0;
  for (;;) {
    const p = await page(['--limit', '10', ...since]);
    pages++;
    seen.push(...p.ids);
    if (p.next === undefined) break;
    assert.equal(p.next, p.ids.at(-1), 'the cursor is the last id shown');
    since = ['--since', p.next];
  }
  assert.deepEqual(seen, ids, 'every message once, oldest first');
  assert.equal(pages, 3);
});

void test('a page that ends the queue exactly gives no cursor; one more message left gives it', async () => {
  const exact = await page(['--limit', '5', '--since', ids[19]]);
  assert.deepEqual(exact.ids, ids.slice(20));
  assert.equal(exact.next, undefined, 'exactly N left: no "more"');
  const all = await site.run(['queue', 'list', '--limit', '25']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.stderr, '', 'the whole queue in one page of exactly its size: nothing on stderr');
  const more = await page(['--limit', '5', '--since', ids[18]]);
  assert.deepEqual(more.ids, ids.slice(19, 24));
  assert.equal(more.next, ids[23], 'N+1 left: the cursor is the last id shown');
  const last = await page(['--limit', '5', '--since', more.next]);
  assert.deepEqual(last.ids, [ids[24]]);
  assert.equal(last.next, undefined);
  const after = await page(['--limit', '5', '--since', ids[24]]);
  assert.deepEqual(after.ids, []);
  assert.equal(after.stdout, '[]\n');
  assert.equal(after.next, undefined);
});

void test('--since a time lists the messages received from then on; an envelope id counts as its message', async () => {
  const p = await page(['--since', new Date(t0 + 20 * minute).toISOString()]);
  assert.deepEqual(p.ids, ids.slice(20));
  assert.equal(p.next, undefined, 'no --limit: everything after, no cursor');
  const q = await page(['--since', `${ids[22]}-1`]);
  assert.deepEqual(q.ids, ids.slice(23));
  const all = await page(['--since', '2026-12-01']);
  assert.deepEqual(all.ids, ids);
});

void test('the text form pages too: the page\'s own summary line, the cursor on stderr', async () => {
  const r = await site.run(['queue', 'list', '--limit', '2', '--since', ids[0]]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.filter((l) => !l.startsWith(' ') && !l.startsWith('--')).map((l) => l.split(' ')[0]), ids.slice(1, 3));
  assert.match(lines.at(-1)!, /^-- \d+ Kbytes in 2 Requests\.$/);
  assert.equal(r.stderr, `more: --since ${ids[2]}\n`);
});

void test('bad --limit and --since: exit 64 and one line naming the option and what it takes', async () => {
  for (const [args, option] of [
    [['--limit', '0'], '--limit "0"'],
    [['--limit', 'ten'], '--limit "ten"'],
    [['--limit', '-3'], '--limit "-3"'],
    [['--limit', '99999999'], '--limit "99999999"'],
    [['--since', 'yesterday'], '--since "yesterday"'],
    [['--since', '2026-13-45T99:00:00Z'], '--since "2026-13-45T99:00:00Z"'],
  ] as const) {
    const r = await site.run(['queue', 'list', ...args]);
    assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0].startsWith(`correio: ${option}: expected `), r.stderr);
  }
});
