/**
 * `correio queue …` and `correio trace` against a running server: actions go through its
 * control socket so that its queue runner stays the owner of the spool. Remote mail is routed
 * to a closed port on 127.0.0.1, so attempts fail for real ("connection refused") and the mail
 * is deferred with that attempt recorded.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeSite, queueJson, spoolEnvelopes, waitSpool, type Server, type Site } from './queue-cli-harness.js';

let site: Site;
let server: Server;
let id = '';

before(async () => {
  site = await makeSite();
  for (const u of ['suzana', 'jacques']) assert.equal((await site.run(['user', 'add', `${u}@example.org`])).code, 0);
  server = await site.serve();
});
after(async () => {
  await server.stop();
  await site.cleanup();
});

void test('a deferred message: list, show and trace print the recorded attempt', async () => {
  const r = await site.run(['sendmail', 'bob@remote.test'], { stdin: 'Subject: to a dead host\n\nhello\n' });
  assert.equal(r.code, 0, r.stderr);
  const envs = await waitSpool(site, 'a recorded attempt', (es) => es.length === 1 && es[0].attempts.length > 0);
  id = envs[0].messageId;

  const q = await queueJson(site);
  assert.equal(q.length, 1);
  assert.equal(q[0].recipients[0].state, 'deferred');
  assert.equal(q[0].recipients[0].queueState, 'deferred');
  assert.equal(envs[0].state, 'deferred', 'the runner stored the state');
  assert.ok(q[0].recipients[0].lastError, 'the last error is listed');

  const list = await site.run(['queue', 'list']);
  assert.match(list.stdout, /^ {4}bob@remote\.test {2}deferred until \S+ {2}\(4\.\d\.\d .+\)$/m);

  const show = await site.run(['queue', 'show', id]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^ {2}state: deferred, next attempt \S+$/m);
  assert.match(show.stdout, /^ {2}attempt 1: \d{4}-\d\d-\d\dT\S+Z .*\[127\.0\.0\.1\].*: 4\.\d\.\d .+$/m);
  const json = JSON.parse((await site.run(['queue', 'show', id, '--json'])).stdout) as { recipients: { attempts: { ip: string | null; status: string }[] }[] }[];
  assert.equal(json[0].recipients[0].attempts[0].ip, '127.0.0.1');
  assert.match(json[0].recipients[0].attempts[0].status, /^4\./);

  const trace = await site.run(['trace', id]);
  assert.equal(trace.code, 0, trace.stderr);
  assert.match(trace.stdout, /^ {4}Received: by mx\.test \(correio\) with local id \S+ for <bob@remote\.test>;/m);
  assert.match(trace.stdout, /^ {4}attempt 1: .*\[127\.0\.0\.1\]/m);
  assert.match(trace.stdout, /^ {4}now: deferred, next attempt \S+$/m);
  assert.match(trace.stdout, /^ {4}queue state: deferred$/m);
});

void test('hold, release and flush through the server', async () => {
  const hold = await site.run(['queue', 'hold', id]);
  assert.equal(hold.code, 0, hold.stderr);
  assert.equal(hold.stdout, `${id}: held 1 envelope\n`, 'no "no server running" note: the server did it');
  await waitSpool(site, 'held', (es) => es[0]?.held === true);
  assert.equal((await queueJson(site))[0].recipients[0].state, 'held');
  assert.equal((await spoolEnvelopes(site))[0].state, 'held');

  const flushHeld = await site.run(['queue', 'flush', id]);
  assert.equal(flushHeld.stdout, `${id}: flushed 0 envelopes\n`, 'held envelopes stay held');

  const attempts = (await spoolEnvelopes(site))[0].attempts.length;
  const release = await site.run(['queue', 'release', id]);
  assert.equal(release.stdout, `${id}: released 1 envelope\n`);
  // released envelopes are due now: the runner tries again and records a second attempt
  await waitSpool(site, 'a new attempt after release', (es) => es[0] !== undefined && !es[0].held && es[0].attempts.length > attempts);

  const flush = await site.run(['queue', 'flush']);
  assert.equal(flush.code, 0, flush.stderr);
  assert.match(flush.stdout, /^queue: flushed [01] envelopes?\n$/);
});

void test('bounce through the server: the sender gets a failure notice and the message leaves', async () => {
  const r = await site.run(['queue', 'bounce', id]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${id}: bounced 1 envelope\n`);
  const [name] = await site.waitMail('jacques');
  const notice = await site.readMail('jacques', name);
  assert.match(notice, /multipart\/report/i);
  assert.match(notice, /bob@remote\.test/);
  await waitSpool(site, 'the bounced message removed', (es) => es.every((e) => e.messageId !== id));
  // gone from the queue, still traced from the delivery history (issue 13)
  const t = await site.run(['trace', id]);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, new RegExp(`^message ${id} \\(left the queue; from the delivery history\\)$`, 'm'));
  assert.match(t.stdout, /^ {4}attempt 1: \S+Z 127\.0\.0\.1 \[127\.0\.0\.1\]: 4\.4\.1 connect to 127\.0\.0\.1:\d+: ECONNREFUSED$/m);
  assert.match(t.stdout, /^ {4}now: bounced \(bounced by \S+ \S+Z\)$/m);
});

void test('delete through the server; unknown ids still exit 65', async () => {
  const r = await site.run(['sendmail', 'bob@remote.test'], { stdin: 'Subject: delete me\n\nx\n' });
  assert.equal(r.code, 0, r.stderr);
  const envs = await waitSpool(site, 'the new message', (es) => es.length === 1);
  const del = await site.run(['queue', 'delete', envs[0].messageId]);
  assert.equal(del.code, 0, del.stderr);
  assert.equal(del.stdout, `${envs[0].messageId}: deleted 1 envelope\n`);
  await waitSpool(site, 'an empty spool', (es) => es.length === 0);
  assert.deepEqual(JSON.parse((await site.run(['queue', 'list', '--json'])).stdout), []);
  const bad = await site.run(['queue', 'hold', 'nosuchid']);
  assert.equal(bad.code, 65);
  assert.equal(bad.stderr, 'correio: no such message: nosuchid\n');
});
