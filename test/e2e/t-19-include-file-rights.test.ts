/**
 * t-19: `:include:` files and the rights of what they name (issue 12 item 4). The adversarial
 * review's reproduction: an include file owned by nobody, mode 0666, listing a root-owned 0600
 * file and a command, made root append a remote sender's body to the file and run the command.
 * Now file and pipe targets of such a file are refused (550 5.7.1, shown by `correio resolve`),
 * and those of a safe (root-owned 0644) include file run as the unprivileged user, never root:
 * the command sees uid 65534 and the mbox file it names is created by uid 65534.
 * Needs root (to own files as root and as nobody, and to switch users): skipped otherwise.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { sendMail, startSite, waitFor, type Site } from '../helpers/site.js';

const root = process.getuid?.() === 0;
const skip = root ? false : 'needs root: include-file ownership and user switching (CI runs as root)';
const NOBODY = 65534;

let site: Site;
let dir: string;
let out: string;

before(async () => {
  if (!root) return;
  dir = await mkdtemp(join(tmpdir(), 'correio-include-'));
  await chmod(dir, 0o755);
  out = join(dir, 'out');
  await mkdir(out);
  await chmod(out, 0o777); // where the unprivileged user's command and mbox may write
  await writeFile(join(dir, 'secret'), 'root data\n', { mode: 0o600 });

  // the attacker's include file: owned by nobody and writable by all
  const evil = join(dir, 'evil.inc');
  await writeFile(evil, `${join(dir, 'secret')}\n|/usr/bin/touch ${join(out, 'pwned')}\n`);
  await chown(evil, NOBODY, NOBODY);
  await chmod(evil, 0o666);
  // the operator's include file: root-owned, 0644
  const good = join(dir, 'good.inc');
  await writeFile(good, `|/bin/sh -c "id -u > ${join(out, 'whoami')}"\n${join(out, 'archive')}\n`);
  await chmod(good, 0o644);

  site = await startSite({
    domains: ['dc.uece.br'],
    users: ['ana@dc.uece.br'],
    aliases: { 'evil@dc.uece.br': [`:include:${evil}`], 'good@dc.uece.br': [`:include:${good}`] },
  });
});

after(async () => {
  await site?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

void test('an unsafe include file drives no file or pipe: RCPT refused 550 5.7.1, nothing written or run', { skip }, async () => {
  const r = await sendMail(site, 'mallory@remote.example', ['evil@dc.uece.br', 'ana@dc.uece.br'], 'Subject: x\n\nappended by a stranger\n');
  assert.match(r.rcpt[0], /^550 5\.7\.1 /);
  assert.match(r.final ?? '', /^250/);
  await site.waitForMessages('ana@dc.uece.br', 1);
  assert.equal(await readFile(join(dir, 'secret'), 'utf8'), 'root data\n');
  assert.equal(existsSync(join(out, 'pwned')), false);

  // `correio resolve` shows the refusal and why
  const res = await runCli(['resolve', 'evil@dc.uece.br', '--config', site.configFile]);
  assert.equal(res.code, 67);
  assert.match(res.stdout, /:include:\S+evil\.inc {2}include \[unsafe: include file \S+ is owned by uid 65534, not root or the server's user/);
  assert.match(res.stdout, /secret {2}error 550 5\.7\.1 Delivery not authorized, message refused \[include file \S+ is owned by uid 65534/);
  assert.match(res.stdout, /\|\/usr\/bin\/touch \S+ {2}error 550 5\.7\.1 /);
});

void test('a root-owned include file: its command and its mbox file run as uid 65534, never root', { skip }, async () => {
  const r = await sendMail(site, 'mallory@remote.example', ['good@dc.uece.br'], 'Subject: y\n\nfor the archive\n');
  assert.match(r.rcpt[0], /^250/);
  assert.match(r.final ?? '', /^250/);
  // the shell creates the file before `id` writes into it: wait for a whole line
  const whoami = await waitFor('the command ran', async () => {
    const text = existsSync(join(out, 'whoami')) ? await readFile(join(out, 'whoami'), 'utf8') : '';
    return text.endsWith('\n') ? text : undefined;
  });
  assert.equal(whoami.trim(), String(NOBODY));
  const archive = join(out, 'archive');
  await waitFor('the mbox was written', async () => existsSync(archive) && (await readFile(archive, 'utf8')).includes('for the archive'));
  assert.equal((await stat(archive)).uid, NOBODY, 'the mbox file was created by the unprivileged user');

  const res = await runCli(['resolve', 'good@dc.uece.br', '--json', '--config', site.configFile]);
  assert.equal(res.code, 0, res.stderr);
  const [{ targets }] = JSON.parse(res.stdout) as { targets: { kind: string; runAs?: { uid: number } }[] }[];
  assert.deepEqual(targets.map((t) => [t.kind, t.runAs?.uid]), [['pipe', NOBODY], ['file', NOBODY]]);
});
