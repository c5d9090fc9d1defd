/**
 * @module imap-kill
 * Helpers for the tests that kill an IMAP server with SIGKILL in the middle of a command
 * (t-35, t-38): the server in a process of its own (imap-child), the files of a folder on
 * disk, the subjects a fresh store reads, and the kill when the disk shows the command under way.
 * Security: test only; loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { MaildirFolders } from '../../src/mailbox/index.js';
import { LineClient } from './net.js';

export const user = 'suzana@dc.uece.br';
const child = fileURLToPath(new URL('./imap-child.js', import.meta.url));

export async function start(root: string): Promise<{ proc: ChildProcess; port: number }> {
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

/** The files in a folder's new/ and cur/, and tmp/ too with `withTmp` (a batch being written: maildir-folders). */
export async function files(root: string, folder: string, withTmp = false): Promise<number> {
  const dir = join(root, 'dc.uece.br', 'suzana', folder === 'INBOX' ? '' : `.${folder}`);
  let n = 0;
  for (const sub of withTmp ? ['tmp', 'new', 'cur'] : ['new', 'cur']) n += (await readdir(join(dir, sub)).catch(() => [])).length;
  return n;
}

/** The subjects in a folder, as the store (a fresh one: another process) reads them. */
export async function subjects(folders: MaildirFolders, folder: string): Promise<string[]> {
  const out: string[] = [];
  for (const m of (await folders.sync(user, folder)).list) {
    const chunks: Buffer[] = [];
    for await (const c of await folders.open(user, folder, m.key)) chunks.push(c as Buffer);
    out.push(/^Subject: (.*)$/m.exec(Buffer.concat(chunks).toString('latin1'))![1].trim());
  }
  return out;
}

/** Greeting, LOGIN, SELECT INBOX: the SELECT's lines (a minute for each: a fresh server process on a loaded machine). */
export async function loginAndSelect(c: LineClient): Promise<string[]> {
  await c.readLine(60_000);
  c.write('l LOGIN suzana@dc.uece.br secret\r\n');
  await c.readTagged('l', 60_000);
  c.write('s SELECT INBOX\r\n');
  return c.readTagged('s', 60_000);
}

/**
 * Runs `command` on a fresh server over INBOX (holding `count` messages) and kills the server
 * with SIGKILL as soon as `halfDone` says the folders on disk show the command under way.
 */
export async function killDuring(root: string, tag: string, command: string, halfDone: () => Promise<boolean>): Promise<void> {
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

