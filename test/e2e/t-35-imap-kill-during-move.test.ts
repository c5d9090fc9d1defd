/**
 * t-35: kill -9 of the IMAP server in the middle of MOVE and COPY (a real process, killed
 * when the folders on disk show the command under way): every message is
 * afterwards in the source folder, the target folder or both, never in neither; no folder
 * holds a message twice; a restarted server serves the folders at once (the dead process's
 * lock is taken over) and gives new messages UIDs above every UID it gave before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { MaildirFolders, MaildirStore } from '../../src/mailbox/index.js';
import { LineClient } from '../helpers/net.js';
import { withTempDir } from '../helpers/temp-dir.js';

const user = 'suzana@dc.uece.br';
const child = fileURLToPath(new URL('../helpers/imap-child.js', import.meta.url));
const count = 150;

async function start(root: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [child, root], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`imap-child exited ${code}`)));
  });
  return { proc, port };
}

async function files(root: string, folder: string): Promise<number> {
  const dir = join(root, 'dc.uece.br', 'suzana', folder === 'INBOX' ? '' : `.${folder}`);
  let n = 0;
  for (const sub of ['new', 'cur']) n += (await readdir(join(dir, sub)).catch(() => [])).length;
  return n;
}

/** The subjects in a folder, as the store (a fresh one: another process) reads them. */
async function subjects(folders: MaildirFolders, folder: string): Promise<string[]> {
  const out: string[] = [];
  for (const m of (await folders.sync(user, folder)).messages) {
    const chunks: Buffer[] = [];
    for await (const c of await folders.open(user, folder, m.key)) chunks.push(c as Buffer);
    out.push(/^Subject: (.*)$/m.exec(Buffer.concat(chunks).toString('latin1'))![1].trim());
  }
  return out;
}

/** Greeting, LOGIN, SELECT INBOX: the SELECT's lines. */
async function loginAndSelect(c: LineClient): Promise<string[]> {
  await c.readLine();
  c.write('l LOGIN suzana@dc.uece.br secret\r\n');
  await c.readTagged('l');
  c.write('s SELECT INBOX\r\n');
  return c.readTagged('s');
}

/**
 * Runs `command` on a fresh server over INBOX (holding `count` messages) and kills the server
 * with SIGKILL as soon as `halfDone` says the folders on disk show the command under way.
 */
async function killDuring(root: string, tag: string, command: string, halfDone: () => Promise<boolean>): Promise<void> {
  const { proc, port } = await start(root);
  const c = await LineClient.connect(port, '127.0.0.1');
  try {
    await loginAndSelect(c);
    const exited = new Promise((r) => proc.once('exit', r));
    let finished = false;
    c.write(`${command}\r\n`);
    void c.readTagged(tag, 60_000).then(() => (finished = true));
    while (!finished && proc.exitCode === null && !(await halfDone())) await sleep(1);
    proc.kill('SIGKILL');
    await exited;
  } finally {
    c.close();
  }
}

void test('kill -9 during MOVE and COPY: nothing lost, nothing doubled within a folder, UIDs never reused', () =>
  withTempDir('correio-t35-', async (root) => {
    const store = new MaildirStore(root, { hostname: 'mx' });
    const folders = new MaildirFolders(store);
    await folders.ensureDefaultFolders(user);
    const all = Array.from({ length: count }, (_, i) => `m${i}`);
    for (const s of all) await store.deliver(user, Readable.from([Buffer.from(`Subject: ${s}\r\n\r\n${s}\r\n`)]), { uniqueKey: s });
    const seen = await folders.sync(user, 'INBOX');
    let maxUid = Math.max(...seen.messages.map((m) => m.uid));

    const check = async (what: string): Promise<void> => {
      const inbox = await subjects(folders, 'INBOX');
      const archive = await subjects(folders, 'Archive');
      for (const [name, list] of [['INBOX', inbox], ['Archive', archive]] as const) {
        assert.equal(new Set(list).size, list.length, `${what}: a message twice in ${name}`);
      }
      const union = new Set([...inbox, ...archive]);
      for (const s of all) assert.ok(union.has(s), `${what}: ${s} is in neither folder`);
    };

    // MOVE: killed once the copies have started to appear in Archive
    await killDuring(root, 'm', 'm UID MOVE 1:* Archive', async () => (await files(root, 'Archive')) > 0);
    await check('MOVE');
    // MOVE again from what is left, killed once INBOX has begun to empty
    const left = await files(root, 'INBOX');
    await killDuring(root, 'm2', 'm2 UID MOVE 1:* Archive', async () => (await files(root, 'INBOX')) < left);
    await check('second MOVE');
    // COPY back, killed midway: copies may be doubled across folders, never lost
    const inboxNow = await files(root, 'INBOX');
    await killDuring(root, 'c2', 'c SELECT Archive\r\nc2 UID COPY 1:* INBOX', async () => (await files(root, 'INBOX')) > inboxNow + 5);
    await check('COPY');

    // a restarted server answers at once on the same folders (no lock left by the dead one)
    const { proc, port } = await start(root);
    try {
      const c = await LineClient.connect(port, '127.0.0.1');
      try {
        const sel = await loginAndSelect(c);
        assert.match(sel.at(-1)!, /^s OK \[READ-WRITE\] SELECT completed$/);
        c.write('a APPEND INBOX {13+}\r\nSubject: new\r\n\r\n');
        const a = await c.readTagged('a');
        const uid = Number(/APPENDUID \d+ (\d+)/.exec(a.at(-1)!)?.[1]);
        assert.ok(uid > maxUid, `new UID ${uid} above ${maxUid}`);
        maxUid = uid;
        c.write('x LOGOUT\r\n');
        await c.readTagged('x');
      } finally {
        c.close();
      }
    } finally {
      proc.kill('SIGKILL');
    }
    // the UIDs the store gives now are above every one given before
    const inbox = await folders.sync(user, 'INBOX');
    assert.ok(inbox.uidNext > maxUid);
    assert.equal(new Set(inbox.messages.map((m) => m.uid)).size, inbox.messages.length);
  }));
