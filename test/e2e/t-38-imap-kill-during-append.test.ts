/**
 * t-38: kill -9 of the IMAP server (a real process) in the middle of MULTIAPPEND, of a run of
 * APPENDs and of EXPUNGE, killed when the folder on disk shows the command under way. After
 * each: a MULTIAPPEND left all its messages or none (RFC 3502); every APPEND that was answered
 * OK is there, none twice; EXPUNGE removed only messages marked \Deleted and each message that
 * stays keeps its UID; a restarted server gives UIDs above every one given before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { files, killDuring, loginAndSelect, start, subjects, user } from '../helpers/imap-kill.js';
import { LineClient } from '../helpers/net.js';
import { withTempDir } from '../helpers/temp-dir.js';

const message = (s: string): string => `Subject: ${s}\r\n\r\n${s} ${'x'.repeat(2000)}\r\n`;

/** The highest UID the store has given in INBOX (from a fresh store: another process). */
async function uidsOf(root: string): Promise<{ uids: Map<string, number>; uidNext: number }> {
  const folders = new MaildirFolders(new MaildirStore(root, { hostname: 'mx' }));
  const snap = await folders.sync(user, 'INBOX');
  const names = await subjects(folders, 'INBOX');
  assert.equal(new Set(names).size, names.length, 'no message twice');
  assert.equal(new Set([...snap.list].map((m) => m.uid)).size, snap.list.length, 'no UID twice');
  return { uids: new Map(names.map((n, i) => [n, snap.list.at(i)!.uid])), uidNext: snap.uidNext };
}

/** A restarted server appends one more: its UID is above `above`. */
async function appendAfterRestart(root: string, above: number): Promise<void> {
  const { proc, port } = await start(root);
  try {
    const c = await LineClient.connect(port, '127.0.0.1');
    try {
      await loginAndSelect(c);
      const m = message('after');
      c.write(`a APPEND INBOX {${m.length}+}\r\n${m}\r\n`);
      const uid = Number(/APPENDUID \d+ (\d+)/.exec((await c.readTagged('a', 60_000)).at(-1)!)?.[1]);
      assert.ok(uid > above, `new UID ${uid} above ${above}`);
    } finally {
      c.close();
    }
  } finally {
    proc.kill('SIGKILL');
  }
}

void test('kill -9 during MULTIAPPEND: all of its messages or none, never some', () =>
  withTempDir('correio-t38-', async (root) => {
    const store = new MaildirStore(root, { hostname: 'mx' });
    await store.deliver(user, Readable.from([Buffer.from(message('before'))]), { uniqueKey: 'before' });
    const batch = Array.from({ length: 300 }, (_, i) => message(`b${i}`));
    const command = `m APPEND INBOX ${batch.map((b) => `{${b.length}+}\r\n${b}`).join(' ')}`;
    // killed as soon as the first of them is on disk (in tmp/, where the batch is written)
    await killDuring(root, 'm', command, async () => (await files(root, 'INBOX', true)) > 1);
    const after = await uidsOf(root);
    const got = batch.filter((_, i) => after.uids.has(`b${i}`)).length;
    assert.ok(got === 0 || got === batch.length, `${got} of ${batch.length} messages stored`);
    // the dead batch's files were taken out of tmp/ too (maildir-append-batch recovery)
    assert.equal((await files(root, 'INBOX', true)) - (await files(root, 'INBOX')), 0, 'no file left in tmp/');
    assert.ok(after.uids.has('before'));
    await appendAfterRestart(root, after.uidNext - 1);
  }));

void test('kill -9 during a run of APPENDs: every one answered OK is there once, UIDs never reused', () =>
  withTempDir('correio-t38-', async (root) => {
    const { proc, port } = await start(root);
    const acked: string[] = [];
    const c = await LineClient.connect(port, '127.0.0.1');
    try {
      await loginAndSelect(c);
      const exited = new Promise((r) => proc.once('exit', r));
      const n = 200;
      for (let i = 0; i < n; i++) {
        const m = message(`a${i}`);
        c.write(`a${i} APPEND INBOX {${m.length}+}\r\n${m}\r\n`);
      }
      let last = '';
      let readEnded = false;
      const reading = (async () => {
        for (;;) {
          // no line for 10 s is no end on a loaded machine (a fresh server process, 200 APPENDs
          // coming): the deadline below bounds the wait
          const line = await c.readLine(130_000).catch(() => undefined);
          if (line === undefined) return;
          last = line;
          const ok = /^a(\d+) OK/.exec(line);
          if (ok) acked.push(`a${ok[1]}`);
        }
      })().finally(() => (readEnded = true));
      // bounded: a server that closed the connection or stalled fails here, not at the runner's timeout
      const deadline = Date.now() + 120_000;
      while (proc.exitCode === null && !readEnded && acked.length < n / 3 && Date.now() < deadline) await sleep(1);
      const before = { answered: acked.length, state: `connection ${readEnded ? 'closed' : 'open'}, server ${proc.exitCode === null ? 'running' : `exited ${proc.exitCode}`}` };
      proc.kill('SIGKILL');
      await exited;
      c.close();
      await reading;
      assert.ok(before.answered >= n / 3, `${before.answered} of ${n} APPENDs answered before the kill (${before.state}); last line: ${last}`);
    } finally {
      c.close();
    }
    assert.ok(acked.length > 0);
    const after = await uidsOf(root);
    for (const s of acked) assert.ok(after.uids.has(s), `${s} was answered OK and is gone`);
    await appendAfterRestart(root, after.uidNext - 1);
  }));

void test('kill -9 during EXPUNGE: only \\Deleted messages go, the others keep their UIDs', () =>
  withTempDir('correio-t38-', async (root) => {
    const store = new MaildirStore(root, { hostname: 'mx' });
    const names = Array.from({ length: 300 }, (_, i) => `e${i}`);
    for (const s of names) await store.deliver(user, Readable.from([Buffer.from(message(s))]), { uniqueKey: s });
    const before = await uidsOf(root);
    // every other message \Deleted, then EXPUNGE killed once the files begin to go
    const { proc, port } = await start(root);
    const c = await LineClient.connect(port, '127.0.0.1');
    try {
      await loginAndSelect(c);
      c.write('s STORE 1:* FLAGS (\\Deleted)\r\n');
      await c.readTagged('s', 60_000);
      const even = names.map((_, i) => i + 1).filter((n) => n % 2 === 0);
      c.write(`k STORE ${even.join(',')} -FLAGS.SILENT (\\Deleted)\r\n`);
      assert.match((await c.readTagged('k', 60_000)).at(-1)!, /^k OK/);
    } finally {
      c.close();
      proc.kill('SIGKILL');
    }
    await killDuring(root, 'x', 'x EXPUNGE', async () => (await files(root, 'INBOX')) < names.length);
    const after = await uidsOf(root);
    for (const [i, s] of names.entries()) {
      // the kept ones (even positions in the mailbox: 2, 4, ...) are all there with their UIDs
      if (i % 2 === 1) assert.equal(after.uids.get(s), before.uids.get(s), `${s} kept its UID`);
      else if (after.uids.has(s)) assert.equal(after.uids.get(s), before.uids.get(s));
    }
    assert.ok(after.uids.size < names.length, 'the EXPUNGE had begun');
    await appendAfterRestart(root, Math.max(before.uidNext, after.uidNext) - 1);
  }));
