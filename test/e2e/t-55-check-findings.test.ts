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
import { chmod, chown, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { projectRoot } from '../helpers/paths.js';
import { startDnsServer } from '../helpers/dns-server.js';
import { pgUnavailable, withTestDatabase } from '../helpers/pg.js';
import pg from 'pg';
import { findSystemUser } from '../../src/app/index.js';
import { directorySchema } from '../../src/directory/index.js';
import { migrateSchema, openPgPool } from '../../src/util/pg-database.js';

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

  void test('aliases, lists and roles in a domain that is no longer in local_domains', async () => {
    const dir = await site('aliases_file = "aliases"\n');
    await writeFile(join(dir, 'aliases'), 'x@c.example: ana@a.example\n');
    assert.equal((await runCli(['user', 'add', 'ana@a.example'], { cwd: dir })).code, 0);
    assert.equal((await runCli(['alias', 'set', 'info@b.example', 'ana@a.example'], { cwd: dir })).code, 0);
    assert.equal((await runCli(['list', 'create', 'team@b.example', '--owner', 'ana@a.example'], { cwd: dir })).code, 0);
    assert.equal((await runCli(['role', 'set', 'chefe@b.example', 'ana@a.example'], { cwd: dir })).code, 0);
    const text = await readFile(join(dir, 'correio.toml'), 'utf8');
    await writeFile(join(dir, 'correio.toml'), text.replace('local_domains = ["a.example", "b.example"]', 'local_domains = ["a.example"]'));
    const before = await listing(join(dir, 'data'));
    const r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 78, r.stdout);
    const file = join(dir, 'aliases');
    assert.deepEqual(lines(r, 'error').filter((e) => e.includes('is not in local_domains')), [
      'alias info@b.example (the directory): b.example is not in local_domains, so mail to it never reaches this alias: add b.example to local_domains or correio alias delete info@b.example',
      `alias x@c.example (${file}:1): c.example is not in local_domains, so mail to it never reaches this alias: add c.example to local_domains or remove it from ${file}:1`,
      'list team@b.example (the directory): b.example is not in local_domains, so mail to it never reaches this list: add b.example to local_domains or correio list delete team@b.example',
      'role chefe@b.example (the directory): b.example is not in local_domains, so mail to it never reaches this role: add b.example to local_domains or correio role delete chefe@b.example',
    ]);
    assert.deepEqual(await listing(join(dir, 'data')), before);
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
      `smtp.tls_cert: ${join(fixtures, 'expired.crt')} is for localhost, not for hostname mx.a.example: clients that check names (submission clients, MTA-STS senders) refuse it; ` +
        'get a certificate for mx.a.example (e.g. certbot certonly -d mx.a.example) or set hostname to the name it is for, then correio reload',
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

  void test("TLS names: SAN and CN against hostname, a wildcard covers one label; the generated certificate a warning", async () => {
    const dir = await site();
    const make = async (name: string, subj: string, san?: string): Promise<void> => {
      const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`), '-days', '30', '-subj', subj];
      if (san !== undefined) args.push('-addext', `subjectAltName=${san}`);
      const p = spawn('openssl', args, { stdio: 'ignore' });
      assert.equal(await new Promise((resolve) => p.on('exit', resolve)), 0, 'openssl req');
    };
    const use = (name: string): Promise<void> =>
      writeFile(join(dir, 'correio.toml'), `hostname = "mx.a.example"\ndata_dir = "data"\nlocal_domains = ["a.example"]\n[smtp]\nlisten = []\ntls_cert = "${name}.crt"\ntls_key = "${name}.key"\n[imap]\nlisten = []\n[http]\nlisten = []\n[metrics]\nlisten = []\n`);
    // a wildcard for the parent domain covers mx.a.example
    await make('wild', '/CN=unrelated.example', 'DNS:*.a.example,DNS:a.example');
    await use('wild');
    let r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    // the SAN wins over a CN that matches (RFC 6125 §6.4.4), and *.example does not cover two labels
    await make('other', '/CN=mx.a.example', 'DNS:mail.b.example,DNS:*.example');
    await use('other');
    r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 78, r.stdout);
    assert.deepEqual(lines(r, 'error'), [
      `smtp.tls_cert: ${join(dir, 'other.crt')} is for mail.b.example, *.example, not for hostname mx.a.example: clients that check names (submission clients, MTA-STS senders) refuse it; ` +
        'get a certificate for mx.a.example (e.g. certbot certonly -d mx.a.example) or set hostname to the name it is for, then correio reload',
    ]);
    // the certificate serve made for an earlier hostname: a warning naming the folder to remove
    await mkdir(join(dir, 'data', 'tls'), { recursive: true });
    await make('old', '/CN=old.a.example', 'DNS:old.a.example');
    await copyFile(join(dir, 'old.crt'), join(dir, 'data', 'tls', 'cert.pem'));
    await copyFile(join(dir, 'old.key'), join(dir, 'data', 'tls', 'key.pem'));
    const text = await readFile(join(dir, 'correio.toml'), 'utf8');
    await writeFile(join(dir, 'correio.toml'), text.replace('tls_cert = "other.crt"\ntls_key = "other.key"\n', ''));
    const before = await listing(join(dir, 'data'));
    r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 0, r.stdout);
    assert.ok(
      lines(r, 'warning').includes(
        `the generated certificate: ${join(dir, 'data', 'tls', 'cert.pem')} is for old.a.example, not for hostname mx.a.example: clients that check names (submission clients, MTA-STS senders) refuse it; ` +
          `remove ${join(dir, 'data', 'tls')} so that serve makes one for mx.a.example at its next start, or configure smtp.tls_cert and smtp.tls_key`,
      ),
      r.stdout,
    );
    assert.deepEqual(await listing(join(dir, 'data')), before);
  });

  void test('data_dir and its spool and mail folders writable by the user serve runs as: path, owner, mode and the fix', async () => {
    const dir = await site();
    assert.equal((await runCli(['user', 'add', 'ana@a.example'], { cwd: dir })).code, 0);
    const data = join(dir, 'data');
    await mkdir(join(data, 'spool'), { recursive: true });
    await mkdir(join(data, 'mail'), { recursive: true });
    const runAs = process.getuid?.() === 0 ? findSystemUser('www-data') : undefined;
    let expected: string;
    if (process.getuid?.() === 0) {
      // root checks for run_as (data_dir's owner, www-data here) by the mode bits
      assert.ok(runAs, 'needs the www-data account (Debian base-passwd)');
      for (const name of ['', 'directory.sqlite', 'mail']) await chown(join(data, name), runAs.uid, runAs.gid);
      await chmod(join(data, 'spool'), 0o755); // root's, as a root `mkdir` would leave it
      expected = `data_dir: ${join(data, 'spool')} is not writable by www-data, the user correio serves as (owner root, mode 0755): chown -R www-data: ${join(data, 'spool')}`;
    } else {
      await chmod(join(data, 'spool'), 0o500);
      const me = (await import('node:os')).userInfo().username;
      expected = `data_dir: ${join(data, 'spool')} is not writable by ${me}, the user correio serves as (owner ${me}, mode 0500): chmod u+rwx ${join(data, 'spool')}`;
    }
    const before = await listing(data);
    const r = await runCli(['check'], { cwd: dir });
    assert.equal(r.code, 78, r.stdout);
    assert.deepEqual(lines(r, 'error'), [expected]);
    assert.deepEqual(await listing(data), before);
    await chmod(join(data, 'spool'), 0o700);
    if (runAs) await chown(join(data, 'spool'), runAs.uid, runAs.gid);
    const fixed = await runCli(['check'], { cwd: dir });
    assert.equal(fixed.code, 0, fixed.stdout);
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

  void test('PostgreSQL: read through read-only sessions, never migrated: a schema behind is a finding, a current one is checked', async (t) => {
    const skip = await pgUnavailable();
    if (skip) return t.skip(skip);
    await withTestDatabase(async (db) => {
      const dir = await site(`[storage]\nurl = ${JSON.stringify(db.url)}\n`);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const tables = async (): Promise<string[]> =>
          (await client.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((x) => x.t);
        const latest = directorySchema.migrations.length;
        // an empty database: a warning, and still nothing in it
        let r = await runCli(['check'], { cwd: dir });
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.ok(
          lines(r, 'warning').includes(
            `storage.url: the PostgreSQL database has no correio directory schema yet, this correio expects ${latest}: correio serve migrates it at its next start ` +
              "(nodes still running an older correio may then fail); correio db migrate does it now. check changed nothing and did not check the directory's entries",
          ),
          r.stdout,
        );
        assert.deepEqual(await tables(), []);
        // the directory schema one version behind: named, and left at that version
        const pool = openPgPool(db.url, { max: 1 });
        try {
          await migrateSchema(pool, [{ ...directorySchema, migrations: directorySchema.migrations.slice(0, latest - 1) }]);
        } finally {
          await pool.end();
        }
        r = await runCli(['check'], { cwd: dir });
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, new RegExp(`^warning: storage.url: the PostgreSQL database has the directory schema at version ${latest - 1}, this correio expects ${latest}: correio serve migrates it`, 'm'));
        const version = async (): Promise<number> => (await client.query<{ version: number }>("SELECT version FROM correio_schema WHERE component = 'directory'")).rows[0].version;
        assert.equal(await version(), latest - 1);
        // current (correio db migrate): the entries are checked; postmaster and b.example are not added to PostgreSQL
        assert.equal((await runCli(['db', 'migrate'], { cwd: dir })).code, 0);
        await client.query('DELETE FROM dir_users');
        await client.query('DELETE FROM dir_domains');
        await client.query('INSERT INTO dir_aliases (key, name, targets, source, updated_at) VALUES ($1, $1, $2, $3, 0)', ['abuse@a.example', '["nobody@a.example"]', 'cli']);
        r = await runCli(['check'], { cwd: dir });
        assert.equal(r.code, 78, r.stdout + r.stderr);
        assert.ok(lines(r, 'error').some((e) => e.startsWith('abuse@a.example is not deliverable: ')), r.stdout);
        assert.equal(lines(r, 'error').filter((e) => e.startsWith('postmaster')).length, 0, r.stdout);
        assert.equal((await client.query('SELECT count(*)::int AS n FROM dir_users')).rows[0].n, 0);
        assert.equal((await client.query('SELECT count(*)::int AS n FROM dir_domains')).rows[0].n, 0);
      } finally {
        await client.end();
      }
    });
  });
});
