/**
 * `correio queue …`, `mailq` and `correio trace` with no server running: they read and change
 * the spool directly (real processes, a real spool in a temp data_dir).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { makeSite, queueJson, spoolEnvelopes, withSpool, type Site } from './queue-cli-harness.js';
import { projectRoot } from '../helpers/paths.js';

let site: Site;
let id = '';

before(async () => {
  site = await makeSite();
  assert.equal((await site.run(['user', 'add', 'suzana@example.org'])).code, 0);
});
after(() => site.cleanup());

void test('an empty queue: "Mail queue is empty", and --json prints []', async () => {
  const text = await site.run(['queue', 'list']);
  assert.equal(text.code, 0, text.stderr);
  assert.equal(text.stdout, 'Mail queue is empty\n');
  const json = await site.run(['queue', 'list', '--json']);
  assert.equal(json.code, 0);
  assert.deepEqual(JSON.parse(json.stdout), []);
});

void test('list: one line per message, then each recipient with its state', async () => {
  const r = await site.run(['sendmail', 'suzana', 'bob@remote.test'], { stdin: 'Subject: queued\n\nhello\n' });
  assert.equal(r.code, 0, r.stderr);
  const q = await queueJson(site);
  assert.equal(q.length, 1);
  id = q[0].id;
  assert.equal(q[0].sender, 'jacques@example.org');
  assert.ok(q[0].size > 0);
  assert.ok(!Number.isNaN(Date.parse(q[0].arrivedAt)));
  assert.deepEqual(
    q[0].recipients.map((e) => [e.recipient, e.route.replace(/\d+$/, 'PORT'), e.state]),
    [
      ['suzana@example.org', 'local:suzana@example.org', 'active'],
      ['bob@remote.test', 'smtp:[127.0.0.1]:PORT', 'active'],
    ],
  );
  const text = await site.run(['queue', 'list']);
  const lines = text.stdout.trimEnd().split('\n');
  assert.match(lines[0], new RegExp(`^${id}  ${q[0].size}  \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  <jacques@example\\.org>$`));
  assert.equal(lines[1], '    suzana@example.org  active');
  assert.equal(lines[2], '    bob@remote.test  active');
  // issue 13: Postfix's summary line, for monitoring written for its mailq
  assert.equal(lines[3], `-- ${Math.ceil(q[0].size / 1024)} Kbytes in 1 Request.`);
});

void test('hold and release one envelope, then the whole message', async () => {
  const hold = await site.run(['queue', 'hold', `${id}-2`]);
  assert.equal(hold.code, 0, hold.stderr);
  assert.match(hold.stdout, new RegExp(`^${id}-2: held 1 envelope \\(no server running\\)\\n$`));
  let q = await queueJson(site);
  assert.deepEqual(q[0].recipients.map((e) => e.state), ['active', 'held']);
  assert.deepEqual(q[0].recipients.map((e) => e.queueState), ['queued', 'held'], 'the explicit state beside the operator\'s word');
  assert.equal((await site.run(['queue', 'hold', id])).stdout, `${id}: held 1 envelope (no server running)\n`);
  q = await queueJson(site);
  assert.deepEqual(q[0].recipients.map((e) => e.held), [true, true]);
  const rel = await site.run(['queue', 'release', id]);
  assert.equal(rel.code, 0);
  assert.match(rel.stdout, /released 2 envelopes/);
  assert.ok((await spoolEnvelopes(site)).every((e) => !e.held && e.nextAttemptAt === 0));
  assert.ok((await spoolEnvelopes(site)).every((e) => e.state === 'queued'), 'released: queued, due now');
});

void test('show: every envelope with its route and attempts; trace: received, resolved, state', async () => {
  const show = await site.run(['queue', 'show', id]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, new RegExp(`^message ${id}\\n  sender: <jacques@example\\.org>\\n`));
  assert.match(show.stdout, new RegExp(`\\nenvelope ${id}-1\\n  recipient: suzana@example\\.org\\n  route: local:suzana@example\\.org\\n  state: active\\n  attempts: none yet\\n`));
  const json = await site.run(['queue', 'show', id, '--json']);
  const parsed = JSON.parse(json.stdout) as { id: string; recipients: { attempts: unknown[] }[] }[];
  assert.equal(parsed.length, 1);
  assert.equal(parsed[0].id, id);
  assert.deepEqual(parsed[0].recipients[0].attempts, []);

  const trace = await site.run(['trace', `${id}-1`]);
  assert.equal(trace.code, 0, trace.stderr);
  assert.match(trace.stdout, new RegExp(`^message ${id}\\n  received \\S+ from <jacques@example\\.org>, \\d+ octets\\n`));
  assert.match(trace.stdout, new RegExp(`    Received: by mx\\.test \\(correio\\) with local id ${id};`));
  assert.match(trace.stdout, / {2}recipient bob@remote\.test \(envelope \S+-2\)\n {4}resolved: bob@remote\.test => smtp:\[127\.0\.0\.1\]:\d+\n {4}no delivery attempt yet\n {4}now: active \(due now\)\n/);
  assert.match(trace.stdout, / {4}now: active \(due now\)\n {4}queue state: queued\n/);
  assert.match(show.stdout, new RegExp(`\\nenvelope ${id}-2\\n(?:  .*\\n)*  queue state: queued\\n`));
});

void test('unknown ids: exit 65 and one line', async () => {
  for (const args of [['queue', 'show', 'nosuchid'], ['queue', 'hold', 'nosuchid'], ['queue', 'release', 'nosuchid'], ['queue', 'delete', 'nosuchid'], ['queue', 'bounce', 'nosuchid'], ['queue', 'flush', 'nosuchid']]) {
    const r = await site.run(args);
    assert.equal(r.code, 65, args.join(' '));
    assert.equal(r.stderr, 'correio: no such message: nosuchid\n');
  }
  const t = await site.run(['trace', 'nosuchid']);
  assert.equal(t.code, 65);
  assert.match(t.stderr, /^correio: no such message: nosuchid is not in the queue/);
});

void test('flush, bounce and delete act on the spool', async () => {
  const flush = await site.run(['queue', 'flush']);
  assert.equal(flush.code, 0, flush.stderr);
  assert.match(flush.stdout, /^queue: flushed \d+ envelopes? \(no server running: it acts on them when it starts\)\n$/);

  const bounce = await site.run(['queue', 'bounce', `${id}-2`]);
  assert.equal(bounce.code, 0, bounce.stderr);
  const envs = await spoolEnvelopes(site);
  const bounced = envs.find((e) => e.id === `${id}-2`);
  assert.equal(bounced?.attempts.at(-1)?.status, '5.0.0', 'marked failed for the runner to notify');
  const q = await queueJson(site);
  assert.equal(q[0].recipients[1].state, 'bouncing');
  assert.deepEqual([q[0].recipients[1].queueState, q[0].recipients[1].notice], ['notice-pending', 'failure']);
  assert.equal(bounced?.state, 'notice-pending', 'stored with the envelope');
  assert.match((await site.run(['queue', 'show', `${id}-2`])).stdout, /\n {2}state: bouncing\n(?: {2}.*\n)* {2}queue state: notice-pending \(failure\)\n/);
  assert.match(q[0].recipients[1].lastError ?? '', /^5\.0\.0 message bounced by the administrator$/);

  const del = await site.run(['queue', 'delete', id]);
  assert.equal(del.code, 0);
  assert.equal(del.stdout, `${id}: deleted 2 envelopes (no server running)\n`);
  assert.deepEqual(await queueJson(site), []);
  assert.deepEqual(await withSpool(site, (store) => store.listMessageIds()), [], 'the message goes with its last envelope');
});

const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');

void test('the mailq face prints the queue list', { skip: fromSource ? 'bin/mailq.js runs the compiled dist/: run from dist (npm test)' : false }, async () => {
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'mailq.js'), '--config', site.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.resume();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 0);
  assert.equal(out, 'Mail queue is empty\n');
});
