/**
 * Issue 13: `correio check` catches what matters before a start, each finding with a line that
 * names the file:line or key and the fix, exit 78 when something must be fixed, and nothing
 * created or changed in the data directory. Real files, real certificates (test/fixtures/tls),
 * real DKIM keys from `correio dkim keygen`, a real DNS server on loopback, a real process
 * holding a port.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { projectRoot } from '../helpers/paths.js';
import { startDnsServer } from '../helpers/dns-server.js';

const fixtures = join(projectRoot, 'test', 'fixtures', 'tls');
let root: string;
let n = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'correio-check-'));
});
after(() => rm(root, { recursive: true, force: true }));

/** A new site folder with correio.toml = the base config plus `extra`; no listeners unless given. */
async function site(extra = '', listens = '[smtp]\nlisten = []\n'): Promise<string> {
  const dir = join(root, `s${++n}`);
  await mkdir(dir);
  const quiet = '[imap]\nlisten = []\n[http]\nlisten = []\n[metrics]\nlisten = []\n';
  await writeFile(join(dir, 'correio.toml'), `hostname = "mx.a.example"\ndata_dir = "data"\nlocal_domains = ["a.example", "b.example"]\n${extra}${listens}${quiet}`);
  return dir;
}

function lines(r: CliResult, level: 'error' | 'warning'): string[] {
  return r.stdout.split('\n').filter((l) => l.startsWith(`${level}: `)).map((l) => l.slice(level.length + 2));
}

/** Every file under `dir` with its size, mode and modification time. */
async function listing(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir, { recursive: true })).sort()) {
    const s = await stat(join(dir, name));
    out[name] = `${s.size} ${s.mode.toString(8)} ${s.mtimeMs}`;
  }
  return out;
}

void describe('correio check findings', { concurrency: 2 }, () => {
  void test('no side effects: an absent data directory stays absent; an existing one is unchanged', async () => {
    const dir = await site();
    const r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(existsSync(join(dir, 'data')), false, 'check must not create the data directory');
    assert.equal((await runCli(['user', 'add', 'ana@a.example'], { cwd: dir })).code, 0);
    const before = await listing(join(dir, 'data'));
    assert.ok(Object.keys(before).includes('directory.sqlite'));
    const again = await runCli(['check'], { cwd: dir });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.deepEqual(await listing(join(dir, 'data')), before);
  });

  void test('aliases file syntax: file:line for each bad line, 78', async () => {
    const dir = await site('aliases_file = "aliases"\n');
    await writeFile(join(dir, 'aliases'), 'postmaster: ana@a.example\n# comment\nbad line here\nx: <broken\n');
    const r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 78);
    const errs = lines(r, 'error');
    assert.ok(errs.includes(`${join(dir, 'aliases')}:3: missing ":" after the alias name (the server skips this line)`), errs.join('\n'));
    assert.ok(errs.some((e) => e.startsWith(`${join(dir, 'aliases')}:4: x: `)), errs.join('\n'));
  });

  void test("postmaster (Debian's postmaster: root without a root mailbox) and abuse once the site has one", async () => {
    const dir = await site('aliases_file = "aliases"\n');
    await writeFile(join(dir, 'aliases'), 'postmaster: root\n');
    let r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 78);
    const file = join(dir, 'aliases');
    for (const d of ['a.example', 'b.example']) {
      assert.ok(
        lines(r, 'error').includes(
          `postmaster@${d} is not deliverable: postmaster@${d} (alias, ${file}:1) -> root@${d}: 550 5.1.1 No such user here ` +
            `(RFC 5321 §4.5.1 requires it): make root@${d} a mailbox (correio user add) or point the alias at one`,
        ),
        r.stdout,
      );
    }
    await writeFile(join(dir, 'aliases'), 'postmaster: ana@a.example\n');
    assert.equal((await runCli(['user', 'add', 'ana@a.example'], { cwd: dir })).code, 0);
    assert.equal((await runCli(['alias', 'set', 'abuse@a.example', 'ana@a.example'], { cwd: dir })).code, 0);
    r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 78, r.stdout);
    assert.deepEqual(lines(r, 'error').map((e) => e.replace(/:.*/, '')), ['abuse@b.example is not deliverable']);
    assert.equal((await runCli(['alias', 'set', 'abuse@b.example', 'ana@a.example'], { cwd: dir })).code, 0);
    r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
  });

  void test('an alias that shadows a mailbox, unless it names the mailbox too', async () => {
    const dir = await site('aliases_file = "aliases"\n');
    await writeFile(join(dir, 'aliases'), '# site aliases\njacques: suzana@a.example\n');
    for (const u of ['jacques@a.example', 'suzana@a.example']) assert.equal((await runCli(['user', 'add', u], { cwd: dir })).code, 0);
    let r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 78);
    assert.deepEqual(lines(r, 'error'), [
      `alias jacques@a.example (${join(dir, 'aliases')}:2) shadows the mailbox jacques@a.example: its mail never reaches the mailbox ` +
        `(name the user among the targets to keep a copy, or delete one of them)`,
    ]);
    await writeFile(join(dir, 'aliases'), '# site aliases\njacques@a.example: jacques, suzana@a.example\n');
    r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
  });

  void test('listen addresses: a port another process holds (named), a socket folder that does not exist', async () => {
    const port = await freePort();
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once('data', () => resolve());
        holder.once('exit', () => reject(new Error('the port holder exited')));
      });
      const free = await freePort();
      const dir = await site('', `[smtp]\nlisten = ["127.0.0.1:${free}", "127.0.0.1:${port}"]\n[lmtp]\nlisten = ["unix:nowhere/lmtp.sock"]\n`);
      const r = await runCli(['check'], { cwd: dir });
      assert.equal(r.code, 78);
      const errs = lines(r, 'error');
      assert.ok(errs.includes(`smtp.listen: 127.0.0.1:${port} is in use by PID ${holder.pid} (${process.execPath} -e require('net').createServer().listen(${port}, '127.0.0.1', () => console.log('up'))): stop that program or set smtp.listen to another port`), errs.join('\n'));
      assert.ok(errs.some((e) => e.startsWith(`lmtp.listen: unix:${join(dir, 'nowhere', 'lmtp.sock')}: the folder ${join(dir, 'nowhere')} does not exist`)), errs.join('\n'));
      assert.equal(errs.length, 2, errs.join('\n'));
    } finally {
      holder.kill();
    }
  });

  void test('TLS: an expired certificate, a key that is not the certificate\'s, one expiring within 14 days', async () => {
    const dir = await site('', `[smtp]\nlisten = []\ntls_cert = "${join(fixtures, 'expired.crt')}"\ntls_key = "${join(fixtures, 'localhost.key')}"\n`);
    let r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 78);
    assert.deepEqual(lines(r, 'error'), [
      `smtp.tls_cert: ${join(fixtures, 'expired.crt')} expired on 2020-02-01: clients refuse it; renew it (e.g. certbot renew) and run correio reload`,
      `smtp.tls_key: ${join(fixtures, 'localhost.key')} is not the key of the certificate ${join(fixtures, 'expired.crt')}: name the key the certificate was made for`,
    ]);
    // a certificate made now for 3 days: a warning, not an error
    const made = spawn('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '3', '-subj', '/CN=mx.a.example'], { stdio: 'ignore' });
    assert.equal(await new Promise((resolve) => made.on('exit', resolve)), 0, 'openssl req');
    const text = await readFile(join(dir, 'correio.toml'), 'utf8');
    await writeFile(join(dir, 'correio.toml'), text.replace(join(fixtures, 'expired.crt'), join(dir, 'c.pem')).replace(join(fixtures, 'localhost.key'), join(dir, 'k.pem')));
    r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, new RegExp(`^warning: smtp.tls_cert: ${join(dir, 'c.pem')} expires on \\d{4}-\\d\\d-\\d\\d, in [34] day\\(s\\): renew it`, 'm'));
  });

  void test('DKIM: a key other users may read, the published key compared through DNS, DNS unreachable skipped', async () => {
    const dns = await startDnsServer({});
    try {
      const dir = await site(`[delivery]\ndns_servers = ["${dns.server}"]\n`);
      const keygen = await runCli(['dkim', 'keygen', 'a.example', '--selector', 's1', '--algorithm', 'ed25519'], { cwd: dir });
      assert.equal(keygen.code, 0, keygen.stderr);
      const record = /"(v=DKIM1;[^"]+)"/.exec(keygen.stdout)?.[1];
      assert.ok(record, keygen.stdout);
      const keyFile = join(dir, 'data', 'dkim', 'a.example', 's1.pem');
      // not published yet: a warning; b.example has no key while signing is on: a warning
      let r = await runCli(['check'], { cwd: dir });
      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual(lines(r, 'warning'), [
        'mail_auth.dkim_sign: b.example has no DKIM key, so its mail goes out unsigned: correio dkim keygen b.example',
        "DKIM: s1._domainkey.a.example TXT is not published, so receivers cannot verify a.example's signatures: publish the record correio dns records a.example prints",
      ]);
      // another key published: an error
      dns.zone = { 's1._domainkey.a.example': { txt: ['v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='] } };
      r = await runCli(['check'], { cwd: dir });
      assert.equal(r.code, 78);
      assert.deepEqual(lines(r, 'error'), [
        `DKIM: s1._domainkey.a.example TXT publishes another public key than ${keyFile}: signatures fail; publish the record correio dns records a.example prints`,
      ]);
      // the right key, and a mode that lets others read it
      dns.zone = { 's1._domainkey.a.example': { txt: [record] } };
      await chmod(keyFile, 0o644);
      r = await runCli(['check'], { cwd: dir });
      assert.equal(r.code, 78);
      assert.deepEqual(lines(r, 'error'), [`DKIM key ${keyFile}: mode 0644 lets other users read the private key: chmod 600 ${keyFile}`]);
      await chmod(keyFile, 0o600);
      await copyFile(keyFile, join(dir, 'data', 'dkim', 'a.example', 's1.pem.bak'));
      r = await runCli(['check'], { cwd: dir });
      assert.equal(r.code, 0, r.stdout);
      assert.equal(lines(r, 'error').length, 0);
      // DNS that does not answer: one warning, not an error
      dns.zone = { 's1._domainkey.a.example': { servfail: true } };
      r = await runCli(['check'], { cwd: dir });
      assert.equal(r.code, 0, r.stdout);
      assert.ok(lines(r, 'warning').includes('DKIM: DNS did not answer for s1._domainkey.a.example TXT (SERVFAIL); the published keys were not compared'), r.stdout);
    } finally {
      await dns.close();
    }
  });
});
