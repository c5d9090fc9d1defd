/**
 * `correio sendmail` with no server running: the message lands in the spool through intake
 * (real processes, a real spool in a temp data_dir), with the flags cron, PHP, git and mutt use,
 * and sysexits(3) statuses with one line for each bad input.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliCommand } from '../helpers/cli.js';
import { projectRoot } from '../helpers/paths.js';
import { makeSite, withSpool, type Site } from './queue-cli-harness.js';

let site: Site;

before(async () => {
  site = await makeSite();
  for (const u of ['suzana', 'pascal', 'jacques']) {
    const r = await site.run(['user', 'add', `${u}@example.org`]);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(() => site.cleanup());

/** Ids of the messages in the spool (through the store: no CLI run needed). */
function spooled(): Promise<string[]> {
  return withSpool(site, (store) => store.listMessageIds());
}

/** The one message that arrived since `before` (spool ids), with its envelopes' recipients and sender. */
async function arrived(before: readonly string[]): Promise<{ id: string; text: string; recipients: string[]; sender: string }> {
  const fresh = (await spooled()).filter((id) => !before.includes(id));
  assert.equal(fresh.length, 1, `expected one new message, found ${fresh.length}`);
  const id = fresh[0];
  const { text, envelopes } = await withSpool(site, async (store) => ({
    text: Buffer.concat(await (await store.openMessage(id)).toArray()).toString('utf8'),
    envelopes: await store.findMessageEnvelopes(id),
  }));
  const recipients = envelopes.map((e) => `${e.recipient.local}@${e.recipient.domain}`).sort();
  const s = envelopes[0].sender;
  return { id, text, recipients, sender: s === null ? '' : `${s.local}@${s.domain}` };
}

void test('-t: recipients from To/Cc/Bcc, Bcc removed, arguments added, From/Date/Message-ID added, CRLF', async () => {
  const before = await spooled();
  const msg = 'Subject: minutes\nTo: Suzana <suzana@example.org>\nCc: "Smith, J" <pascal>\nBcc: jacques@example.org\n\nline one\nline two\n';
  const r = await site.run(['sendmail', '-t', '-F', 'Jacques Silva', 'bob@remote.test'], { stdin: msg });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const { text, recipients } = await arrived(before);
  assert.deepEqual(recipients.sort(), ['bob@remote.test', 'jacques@example.org', 'pascal@example.org', 'suzana@example.org']);
  assert.doesNotMatch(text, /^Bcc:/im, 'Bcc must be removed from the stored message');
  assert.match(text, /^From: Jacques Silva <jacques@example\.org>\r$/m);
  assert.match(text, /^Message-ID: <[^>]+@mx\.test>\r$/m);
  assert.match(text, /^Date: /m);
  assert.match(text, /^Received: by mx\.test \(correio\) with local id /m);
  assert.ok(text.endsWith('\r\n\r\nline one\r\nline two\r\n'), JSON.stringify(text.slice(-40)));
  assert.doesNotMatch(text.replace(/\r\n/g, ''), /\n/, 'every line end is CRLF');
});

void test('without -i a lone "." ends the input; with -i and -oi it is a line of the message', async () => {
  let before = await spooled();
  const input = 'Subject: dots\n\nbefore\n.\nafter\n';
  assert.equal((await site.run(['sendmail', 'suzana'], { stdin: input })).code, 0);
  const plain = await arrived(before);
  assert.ok(plain.text.endsWith('before\r\n'), JSON.stringify(plain.text.slice(-30)));
  assert.doesNotMatch(plain.text, /after/);
  before = await spooled();
  assert.equal((await site.run(['sendmail', '-i', 'suzana'], { stdin: input })).code, 0);
  assert.ok((await arrived(before)).text.endsWith('before\r\n.\r\nafter\r\n'));
  before = await spooled();
  assert.equal((await site.run(['sendmail', '-oi', '-f', 'pascal@example.org', '--', 'suzana'], { stdin: input })).code, 0);
  const oi = await arrived(before);
  assert.ok(oi.text.endsWith('before\r\n.\r\nafter\r\n'));
  assert.equal(oi.sender, 'pascal@example.org', '-f sets the envelope sender');
  assert.match(oi.text, /^From: <pascal@example\.org>\r$/m, 'a generated From: uses the envelope sender');
});

void test('ignored sendmail flags are accepted; -fFROM attached; an existing From: is kept', async () => {
  const before = await spooled();
  const r = await site.run(['sendmail', '-oem', '-odi', '-v', '-fsuzana@example.org', 'pascal@example.org'], {
    stdin: 'From: Someone <someone@example.org>\nSubject: x\n\nbody\n',
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^correio: queued as [0-9a-z]+ \(no server running/m, '-v reports the queue id');
  const { text, sender } = await arrived(before);
  assert.match(text, /^From: Someone <someone@example\.org>\r$/m);
  assert.equal(text.match(/^From:/gm)?.length, 1);
  assert.equal(sender, 'suzana@example.org');
});

void test('exit statuses: one line each, nothing queued', async () => {
  const before = await spooled();
  const cases: { args: string[]; stdin?: string; code: number; line: RegExp }[] = [
    { args: ['sendmail'], stdin: 'Subject: x\n\nhi\n', code: 64, line: /no recipients given/ },
    { args: ['sendmail', '-t'], stdin: 'Subject: no recipients\n\nhi\n', code: 64, line: /no recipient addresses found in the message header/ },
    { args: ['sendmail', '-Z', 'suzana'], stdin: 'x\n', code: 64, line: /unknown option -Z/ },
    { args: ['sendmail', 'bad@@address'], stdin: 'x\n', code: 65, line: /invalid recipient address "bad@@address"/ },
    { args: ['sendmail', '-t'], stdin: 'To: <unclosed@example.org\n\nhi\n', code: 65, line: /invalid recipient address/ },
    { args: ['sendmail', '-f', 'a b@c', 'suzana'], stdin: 'x\n', code: 65, line: /invalid sender address/ },
    { args: ['sendmail', 'nosuchuser@example.org'], stdin: 'Subject: x\n\nhi\n', code: 67, line: /nosuchuser@example\.org: 550 5\.1\.1 No such user here/ },
  ];
  for (const c of cases) {
    const r = await site.run(c.args, { stdin: c.stdin });
    assert.equal(r.code, c.code, `${c.args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${c.args.join(' ')}: one line, got ${r.stderr}`);
    assert.match(lines[0], /^correio: /);
    assert.match(lines[0], c.line);
  }
  assert.deepEqual(await spooled(), before, 'nothing queued');
});

void test('unreadable input → 66; a header block over the cap → 65', async () => {
  const before = await spooled();
  // stdin is a directory: reading it fails with EISDIR
  const fd = openSync(site.dir, 'r');
  const child = spawn(process.execPath, [...cliCommand(), '--config', site.configFile, 'sendmail', 'suzana'], {
    stdio: [fd, 'pipe', 'pipe'],
    env: { ...process.env, USER: 'jacques', CORREIO_CONFIG: undefined },
  });
  closeSync(fd);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout?.resume();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 66, stderr);
  assert.match(stderr, /^correio: cannot read the message: /);

  const huge = `Subject: big\nX-Long: ${'a'.repeat(1100 * 1024)}\n\nbody\n`;
  const r = await site.run(['sendmail', 'suzana'], { stdin: huge });
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, /header block over/);
  assert.deepEqual(await spooled(), before, 'nothing queued');
});

void test('some recipients unknown: the others get it, each refusal named, status 67', async () => {
  const before = await spooled();
  const r = await site.run(['sendmail', 'suzana', 'ghost@example.org', 'pascal@example.org'], { stdin: 'Subject: s\n\nhi\n' });
  assert.equal(r.code, 67);
  assert.equal(r.stderr, 'correio: ghost@example.org: 550 5.1.1 No such user here\n');
  const { recipients } = await arrived(before);
  assert.deepEqual(recipients.sort(), ['pascal@example.org', 'suzana@example.org']);
});

void test('a body without a header/body separator gets one; a leading mbox "From " line is dropped', async () => {
  const before = await spooled();
  const r = await site.run(['sendmail', 'suzana'], { stdin: 'From jacques Mon Jan  1 00:00:00 2024\nhello, no header here\n' });
  assert.equal(r.code, 0, r.stderr);
  const { text } = await arrived(before);
  assert.doesNotMatch(text, /^From jacques/m);
  assert.ok(text.endsWith('From: <jacques@example.org>\r\n\r\nhello, no header here\r\n'), JSON.stringify(text));
});

void test('-bv prints how each recipient resolves and queues nothing', async () => {
  const before = await spooled();
  const ok = await site.run(['sendmail', '-bv', 'suzana', 'bob@remote.test']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^suzana@example\.org: deliverable: local mailbox suzana@example\.org$/m);
  assert.match(ok.stdout, /^bob@remote\.test: deliverable: remote bob@remote\.test via smtp:\[127\.0\.0\.1\]:\d+$/m);
  const bad = await site.run(['sendmail', '-bv', 'ghost']);
  assert.equal(bad.code, 67);
  assert.match(bad.stdout, /^ghost@example\.org: undeliverable: 550 5\.1\.1 No such user here$/m);
  assert.deepEqual(await spooled(), before, 'nothing queued');
});

void test('-bs: an SMTP dialogue on stdin/stdout (LF input accepted), the message queued', async () => {
  let before = await spooled();
  const dialogue = [
    'EHLO client.example.org',
    'MAIL FROM:<jacques@example.org>',
    'RCPT TO:<suzana@example.org>',
    'RCPT TO:<ghost@example.org>',
    'DATA',
    'Subject: over stdio',
    '',
    '..leading dot',
    '.',
    'QUIT',
    '',
  ].join('\n');
  const r = await site.run(['sendmail', '-bs'], { stdin: dialogue });
  assert.equal(r.code, 0, r.stderr);
  const codes = r.stdout.split('\r\n').filter((l) => l !== '').map((l) => l.slice(0, 4));
  assert.equal(codes[0], '220 ');
  assert.match(r.stdout, /^250-mx\.test\r\n/m);
  assert.match(r.stdout, /\r\n250 2\.1\.0 OK\r\n250 2\.1\.5 OK\r\n550 5\.1\.1 No such user here\r\n354 /);
  assert.match(r.stdout, /\r\n250 2\.0\.0 OK: queued as [0-9a-z]+\r\n221 2\.0\.0 mx\.test Service closing transmission channel\r\n$/);
  const { text, recipients } = await arrived(before);
  assert.deepEqual(recipients, ['suzana@example.org']);
  assert.match(text, /^Received: from client\.example\.org\r\n\tby mx\.test \(correio\) with ESMTP id/m);
  assert.ok(text.endsWith('Subject: over stdio\r\n\r\n.leading dot\r\n'), 'dot-unstuffed, CRLF');

  // end of input inside DATA: the transaction is abandoned, nothing queued
  before = await spooled();
  const cut = await site.run(['sendmail', '-bs'], { stdin: 'HELO x\nMAIL FROM:<a@example.org>\nRCPT TO:<suzana@example.org>\nDATA\nunfinished\n' });
  assert.equal(cut.code, 0);
  assert.match(cut.stdout, /^354 /m);
  assert.doesNotMatch(cut.stdout, /queued as/);
  assert.deepEqual(await spooled(), before, 'nothing queued');
});

const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');

void test('the sendmail face (bin/sendmail.js) submits like correio sendmail', { skip: fromSource ? 'bin/sendmail.js runs the compiled dist/: run from dist (npm test)' : false }, async () => {
  const before = await spooled();
  const child = spawn(process.execPath, [join(projectRoot, 'bin', 'sendmail.js'), '--config', site.configFile, '-t', '-oi'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, USER: 'jacques', CORREIO_CONFIG: undefined },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout.resume();
  child.stdin.end('To: suzana\nSubject: face\n\n.\nbody\n');
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  assert.equal(code, 0, stderr);
  const m = await arrived(before);
  assert.deepEqual(m.recipients, ['suzana@example.org']);
  assert.ok(m.text.endsWith('\r\n\r\n.\r\nbody\r\n'));
});
