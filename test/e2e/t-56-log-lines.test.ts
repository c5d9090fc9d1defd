/**
 * Issue 13: the log of a real `correio serve`. Written to a pipe it is JSON (log.format "auto"),
 * every line parses and no line has a key twice (delivered lines used to carry the server's
 * `host` and the remote `host`); `received` names client, HELO, sender, size and the
 * Message-ID field; `rejected` names the sender, the recipient, the HELO name and the reply
 * as sent. With log.format = "text" the same events are readable lines. docs/logging.md is the
 * schema these lines follow.
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
import { waitFor } from '../helpers/site.js';

let dir: string;
let peer: ScriptedPeer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'correio-log-'));
  peer = await startScriptedPeer({ script: { RCPT: (to) => (to.startsWith('later@') ? '451 4.2.0 Mailbox busy, try later' : '250 2.1.5 OK') } });
});
after(async () => {
  await peer.close();
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
  stop(): Promise<void>;
}

async function serve(format: string): Promise<Serve> {
  const port = await freePort();
  const config = join(dir, `${format}.toml`);
  await writeFile(
    config,
    `hostname = "mx.a.example"\ndata_dir = "data-${format}"\nlocal_domains = ["a.example"]\n` +
      `[smtp]\nlisten = ["127.0.0.1:${port}"]\n[imap]\nlisten = []\n[http]\nlisten = []\n[metrics]\nlisten = []\n` +
      `[delivery]\nretry_min = "1h"\n[delivery.routes]\n"far.example" = "smtp:[127.0.0.1]:${peer.port}"\n` +
      `[log]\nformat = "${format}"\n`,
  );
  assert.equal((await runCli(['user', 'add', 'ana@a.example', '--config', config])).code, 0);
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
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One SMTP transaction: a refused recipient, a local one, one the remote accepts, one it defers. */
async function send(port: number): Promise<void> {
  const c = await LineClient.connect(port);
  try {
    await c.readReply();
    await c.command('EHLO client.test');
    assert.match((await c.command('MAIL FROM:<sender@far.example>')) ?? '', /^250/);
    assert.match((await c.command('RCPT TO:<nobody@a.example>')) ?? '', /^550/);
    for (const r of ['ana@a.example', 'ok@far.example', 'later@far.example']) assert.match((await c.command(`RCPT TO:<${r}>`)) ?? '', /^250/);
    assert.match((await c.command('DATA')) ?? '', /^354/);
    assert.match((await c.command('Message-ID: <log-test@far.example>\r\nSubject: log\r\n\r\nhello\r\n.')) ?? '', /^250/);
    await c.command('QUIT');
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
