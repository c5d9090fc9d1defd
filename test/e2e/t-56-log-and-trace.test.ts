/**
 * Issue 13: the log of a real `correio serve`. Written to a pipe it is JSON (log.format "auto"),
 * every line parses and no line has a key twice (delivered lines used to carry the server's
 * `host` and the remote `host`); `received` names client, HELO, sender, size and the
 * Message-ID field; `rejected` names the sender, the recipient, the HELO name and the reply
 * as sent. With log.format = "text" the same events are readable lines. docs/logging.md is the
 * schema these lines follow. `correio trace` tells the life of a message that has left the
 * queue (from the delivery history), and `queue list` shows each deferral's real cause.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand, runCli } from '../helpers/cli.js';
import { freePort, LineClient } from '../helpers/net.js';
import { startScriptedPeer, type ScriptedPeer } from '../helpers/scripted-smtp-peer.js';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.js';
import { waitFor } from '../helpers/site.js';

let dir: string;
let peer: ScriptedPeer;
let dns: DnsTestServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'correio-log-'));
  const rcpt = (to: string): string =>
    to.startsWith('later@') ? '451 4.2.0 Mailbox busy, try later' : to.startsWith('bad@') ? '550 5.1.1 No such mailbox' : '250 2.1.5 OK';
  peer = await startScriptedPeer({ script: { RCPT: rcpt } });
  dns = await startDnsServer({ 'refused.example': { refused: true } });
});
after(async () => {
  await peer.close();
  await dns.close();
  await rm(dir, { recursive: true, force: true });
});

/** The top-level keys of a JSON object text, in order, duplicates kept (JSON.parse drops them). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && text[j + 1] === ':') keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

interface Serve {
  child: ChildProcess;
  out: () => string;
  port: number;
  config: string;
  stop(): Promise<void>;
}

async function serve(format: string, setup: string[][] = []): Promise<Serve> {
  const port = await freePort();
  const config = join(dir, `${format}.toml`);
  await writeFile(
    config,
    `hostname = "mx.a.example"\ndata_dir = "data-${format}"\nlocal_domains = ["a.example"]\n` +
      `[smtp]\nlisten = ["127.0.0.1:${port}"]\n[imap]\nlisten = []\n[http]\nlisten = []\n[metrics]\nlisten = []\n` +
      `[delivery]\nretry_min = "1h"\ndns_servers = ["${dns.server}"]\n[delivery.routes]\n"far.example" = "smtp:[127.0.0.1]:${peer.port}"\n` +
      `[log]\nformat = "${format}"\n`,
  );
  assert.equal((await runCli(['user', 'add', 'ana@a.example', '--config', config])).code, 0);
  for (const args of setup) assert.equal((await runCli([...args, '--config', config])).code, 0, args.join(' '));
  const child = spawn(process.execPath, [...cliCommand(), 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CORREIO_CONFIG: undefined } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.resume();
  await waitFor('serve listening', async () => {
    try {
      const c = await LineClient.connect(port);
      const greeting = await c.readReply();
      c.close();
      return greeting?.startsWith('220');
    } catch {
      return false;
    }
  }, 30_000);
  return {
    child,
    out: () => out,
    port,
    config,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One SMTP transaction to `rcpts` (after a refused recipient); the queue id. */
async function send(port: number, rcpts = ['ana@a.example', 'ok@far.example', 'later@far.example']): Promise<string> {
  const c = await LineClient.connect(port);
  try {
    await c.readReply();
    await c.command('EHLO client.test');
    assert.match((await c.command('MAIL FROM:<sender@far.example>')) ?? '', /^250/);
    assert.match((await c.command('RCPT TO:<nobody@a.example>')) ?? '', /^550/);
    for (const r of rcpts) assert.match((await c.command(`RCPT TO:<${r}>`)) ?? '', /^250/);
    assert.match((await c.command('DATA')) ?? '', /^354/);
    const done = (await c.command('Message-ID: <log-test@far.example>\r\nSubject: log\r\n\r\nhello\r\n.')) ?? '';
    const id = /queued as (\S+)/.exec(done)?.[1];
    assert.ok(id, done);
    await c.command('QUIT');
    return id;
  } finally {
    c.close();
  }
}

test('JSON lines: each parses, no key twice, received and rejected carry the issue\'s fields', async () => {
  const s = await serve('auto');
  try {
    await send(s.port);
    await waitFor('delivered and deferred lines', () => /"msg":"deferred"/.test(s.out()) && (s.out().match(/"msg":"delivered"/g) ?? []).length >= 2, 30_000);
  } finally {
    await s.stop();
  }
  const lines = s.out().split('\n').filter((l) => l !== '');
  const events: Record<string, unknown>[] = [];
  for (const l of lines) {
    const keys = topLevelKeys(l);
    assert.deepEqual(keys.filter((k, i) => keys.indexOf(k) !== i), [], `a key twice in ${l}`);
    events.push(JSON.parse(l) as Record<string, unknown>);
  }
  const one = (msg: string, match: (e: Record<string, unknown>) => boolean = () => true): Record<string, unknown> => {
    const found = events.filter((e) => e.msg === msg && match(e));
    assert.equal(found.length, 1, `one ${msg} line: ${JSON.stringify(found)}`);
    return found[0];
  };
  const received = one('received');
  assert.equal(received.hostname, 'mx.a.example');
  assert.equal(received.client, '127.0.0.1');
  assert.equal(received.helo, 'client.test');
  assert.equal(received.sender, 'sender@far.example');
  assert.equal(received.messageIdHeader, '<log-test@far.example>');
  assert.equal(typeof received.size, 'number');
  const rejected = one('rejected');
  assert.deepEqual(
    { stage: rejected.stage, reply: rejected.reply, sender: rejected.sender, recipient: rejected.recipient, helo: rejected.helo, client: rejected.client },
    { stage: 'rcpt', reply: '550 5.1.1 No such user here', sender: 'sender@far.example', recipient: 'nobody@a.example', helo: 'client.test', client: '127.0.0.1' },
  );
  assert.equal(events.filter((e) => e.msg === 'queued' && e.messageId === received.messageId).length, 3);
  const remote = one('delivered', (e) => e.recipient === 'ok@far.example');
  assert.equal(remote.hostname, 'mx.a.example', 'the server');
  assert.equal(remote.host, '127.0.0.1', 'the remote host');
  const deferred = one('deferred');
  assert.equal(deferred.recipient, 'later@far.example');
  assert.equal(deferred.reply, '451 4.2.0 Mailbox busy, try later');
});

test('text lines: time, level word, message id, event, key=value fields', async () => {
  const s = await serve('text');
  try {
    await send(s.port);
    await waitFor('the deferred line', () => / deferred /.test(s.out()), 30_000);
  } finally {
    await s.stop();
  }
  const lines = s.out().split('\n').filter((l) => l !== '');
  assert.ok(lines.every((l) => !l.startsWith('{')), s.out());
  const rejected = lines.find((l) => / rejected /.test(l));
  assert.match(rejected ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN {2}rejected .*stage=rcpt reply="550 5\.1\.1 No such user here" client=127\.0\.0\.1 helo=client\.test sender=sender@far\.example recipient=nobody@a\.example/);
  const deferred = lines.find((l) => / deferred /.test(l));
  assert.match(deferred ?? '', /^\S+Z WARN {2}\S+ deferred .*recipient=later@far\.example .*reply="451 4\.2\.0 Mailbox busy, try later"/);
});

test('trace after the message left the queue; queue list shows the real deferral cause', async () => {
  const s = await serve('json', [['alias', 'set', 'info@a.example', 'ana@a.example']]);
  let gone: string;
  let waiting: string;
  let local: string;
  try {
    // from the sendmail command (the data directory's owner: it writes the spool itself)
    const sm = await runCli(['sendmail', '-v', '--config', s.config, 'ana@a.example'], { stdin: 'Subject: local\n\nby sendmail\n' });
    assert.equal(sm.code, 0, sm.stderr);
    local = /queued as (\S+)/.exec(sm.stderr)?.[1] ?? '';
    assert.ok(local, sm.stderr);
    gone = await send(s.port, ['info@a.example', 'ok@far.example', 'bad@far.example']);
    // one recipient delivered to a local Maildir, two deferred (a refusing host, a failing DNS)
    waiting = await send(s.port, ['ana@a.example', 'later@far.example', 'x@refused.example']);
    await waitFor('the first message out of the queue, the second delivered to ana and deferred twice', () => {
      const o = s.out();
      return new RegExp(`"messageId":"${local}"[^\\n]*"msg":"delivered"`).test(o) && o.includes(`"messageId":"${gone}"`) && (o.match(new RegExp(`"messageId":"${gone}"[^\n]*"msg":"(delivered|bounced)"`, 'g')) ?? []).length === 3 &&
        (o.match(new RegExp(`"messageId":"${waiting}"[^\n]*"msg":"deferred"`, 'g')) ?? []).length === 2 && new RegExp(`"messageId":"${waiting}"[^\n]*"msg":"delivered"`).test(o);
    }, 30_000);
    // the bounce of bad@far.example is delivered too, so the message is gone from the queue
    await waitFor('the message gone from the queue', async () => !(await runCli(['queue', 'list', '--config', s.config])).stdout.includes(gone), 20_000);
  } finally {
    await s.stop();
  }
  const fromSendmail = await runCli(['trace', local, '--config', s.config]);
  assert.equal(fromSendmail.code, 0, fromSendmail.stderr);
  assert.match(fromSendmail.stdout, /^ {4}\(\S+\) with local\n/m, fromSendmail.stdout);
  assert.match(fromSendmail.stdout, /^ {4}now: delivered \(left the queue \S+Z\)$/m);
  const t = await runCli(['trace', gone, '--config', s.config]);
  assert.equal(t.code, 0, t.stderr);
  const out = t.stdout;
  assert.match(out, new RegExp(`^message ${gone} \\(left the queue; from the delivery history\\)$`, 'm'));
  assert.match(out, /^ {2}received \S+Z from <sender@far\.example>, \d+ octets$/m);
  assert.match(out, /^ {4}from client\.test \(127\.0\.0\.1\) with ESMTP$/m);
  // the Received field as stored, and the alias chain from the address given at RCPT
  assert.match(out, new RegExp(`^ {4}Received: from client\\.test \\(\\S+ \\[127\\.0\\.0\\.1\\]\\) by mx\\.a\\.example \\(correio\\) with ESMTP id ${gone}; .+\\d{4}$`, 'm'));
  assert.match(out, /^ {2}recipient info@a\.example \(envelope \S+\)\n {4}resolved: info@a\.example -> ana@a\.example => local:ana@a\.example\n {4}attempt 1: \S+Z: 2\.0\.0\n {4}now: delivered \(left the queue \S+Z\)$/m);
  // an envelope id finds its message too
  const byEnvelope = await runCli(['trace', `${gone}-1`, '--config', s.config]);
  assert.equal(byEnvelope.stdout, out);
  assert.match(out, new RegExp(`^  recipient ok@far\\.example \\(envelope \\S+\\)\\n    resolved: ok@far\\.example => smtp:\\[127\\.0\\.0\\.1\\]:${peer.port}\\n    attempt 1: \\S+Z 127\\.0\\.0\\.1 \\[127\\.0\\.0\\.1\\]: 250 `, 'm'));
  assert.match(out, /^ {2}recipient bad@far\.example [^\n]*\n[^\n]*\n {4}attempt 1: \S+Z 127\.0\.0\.1 \[127\.0\.0\.1\]: 550 5\.1\.1 No such mailbox\n {4}now: bounced \(left the queue \S+Z\)$/m);
  // still queued: the queue's own trace, and the list names each recipient's cause
  const q = await runCli(['queue', 'list', '--config', s.config]);
  assert.equal(q.code, 0, q.stderr);
  assert.match(q.stdout, /^ {4}later@far\.example {2}deferred until \S+ {2}\(451 4\.2\.0 Mailbox busy, try later\)$/m);
  assert.match(q.stdout, /^ {4}x@refused\.example {2}deferred until \S+ {2}\(451 4\.4\.3 Directory server failure, try again later \(DNS lookup for refused\.example failed: REFUSED\)\)$/m);
  // still queued, every recipient: the one delivered already (from the history; it used to be
  // left out until the whole message had left) beside the two still waiting
  const queued = (await runCli(['trace', waiting, '--config', s.config])).stdout;
  assert.match(queued, new RegExp(`^message ${waiting}$`, 'm'));
  assert.deepEqual([...queued.matchAll(/^ {2}recipient (\S+)/gm)].map((m) => m[1]), ['ana@a.example', 'later@far.example', 'x@refused.example'], queued);
  assert.match(queued, /^ {2}recipient ana@a\.example [^\n]*\n {4}resolved: [^\n]*=> local:ana@a\.example\n {4}attempt 1: \S+Z: 2\.0\.0\n {4}now: delivered \(left the queue \S+Z\)\n {4}queue state: removed$/m, queued);
  assert.match(queued, /^ {2}recipient later@far\.example [^\n]*\n[^\n]*\n {4}attempt 1: [^\n]*451 4\.2\.0 Mailbox busy, try later\n {4}now: deferred, next attempt \S+Z$/m, queued);
  // ana's envelope has left the queue, its message has not: that envelope id finds the queued
  // message too (it used to give the history's view alone: 'left the queue', the others with
  // 'no outcome in the history')
  const anaEnvelope = /^ {2}recipient ana@a\.example \(envelope (\S+)\)$/m.exec(queued)?.[1] ?? '';
  const byAna = (await runCli(['trace', anaEnvelope, '--config', s.config])).stdout;
  assert.match(byAna, new RegExp(`^message ${waiting}$`, 'm'), byAna);
  assert.deepEqual([...byAna.matchAll(/^ {2}recipient .+$|^ {4}(now|queue state): .+$/gm)].map((m) => m[0]), [...queued.matchAll(/^ {2}recipient .+$|^ {4}(now|queue state): .+$/gm)].map((m) => m[0]));
  // by the Message-ID field: both messages carry <log-test@far.example>, newest first
  const byField = await runCli(['trace', '--message-id', '<log-test@far.example>', '--config', s.config]);
  assert.equal(byField.code, 0, byField.stderr);
  assert.deepEqual([...byField.stdout.matchAll(/^message (\S+)/gm)].map((m) => m[1]), [waiting, gone]);
  const bare = await runCli(['trace', '--message-id', 'log-test@far.example', '--config', s.config]);
  assert.equal(bare.stdout, byField.stdout);
  const noField = await runCli(['trace', '--message-id', '<nobody@nowhere.example>', '--config', s.config]);
  assert.equal(noField.code, 65);
  assert.match(noField.stderr, /^correio: no message with Message-ID <nobody@nowhere\.example> in the delivery history/);
  assert.equal((await runCli(['trace', gone, '--message-id', '<log-test@far.example>', '--config', s.config])).code, 64);
  assert.equal((await runCli(['trace', '--config', s.config])).code, 64);
  const none = await runCli(['trace', 'nosuchid', '--config', s.config]);
  assert.equal(none.code, 65);
  assert.equal(none.stderr, 'correio: no such message: nosuchid is not in the queue or in the delivery history (older than [log] history, deleted, or never queued)\n');
  // deleted with the server stopped: the command records it in the history, and trace tells it
  const del = await runCli(['queue', 'delete', waiting, '--config', s.config], { env: { SUDO_USER: 'night-operator' } });
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stdout, /deleted 2 envelopes \(no server running\)/);
  const deleted = await runCli(['trace', waiting, '--config', s.config]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match(deleted.stdout, new RegExp(`^message ${waiting} \\(left the queue; from the delivery history\\)$`, 'm'));
  for (const r of ['later@far\\.example', 'x@refused\\.example']) {
    assert.match(deleted.stdout, new RegExp(`^  recipient ${r} [^\\n]*\\n(    [^\\n]*\\n)*?    now: deleted \\(deleted by night-operator \\S+Z, the server stopped\\)\\n    queue state: removed$`, 'm'), deleted.stdout);
  }
});
