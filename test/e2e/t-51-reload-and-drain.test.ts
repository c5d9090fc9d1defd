/**
 * Issue 13: SIGHUP and `correio reload` re-read the configuration without dropping a session;
 * a bad configuration is refused and the running one stays; SIGTERM drains a transaction in
 * progress (its message is acknowledged and delivered once, or refused with a 4xx, never lost).
 * Real `correio serve` processes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { freePort, LineClient } from '../helpers/net.js';
import { fixturesDir, projectRoot } from '../helpers/paths.js';
import { startSiteProcess, waitFor } from '../helpers/site.js';

/** the SIZE an EHLO reply advertises */
function advertisedSize(ehlo: string | undefined): number | undefined {
  const m = /^250[- ]SIZE (\d+)/m.exec(ehlo ?? '');
  return m ? Number(m[1]) : undefined;
}

async function ehloSize(port: number, host: string): Promise<number | undefined> {
  const c = await LineClient.connect(port, host);
  try {
    await c.readReply();
    return advertisedSize(await c.command('EHLO client.test'));
  } finally {
    c.close();
  }
}

void describe('reload and drain', { concurrency: 2 }, () => {
  void test('SIGHUP under a live session: the session goes on, the next one has the new config; a bad config is refused', async () => {
    const site = await startSiteProcess({ domains: ['example.org'], users: ['suzana@example.org'], smtp: { trusted_networks: [] } });
    try {
      const original = await readFile(site.configFile, 'utf8');
      assert.equal(await ehloSize(site.port, site.host), 25 * 1024 * 1024);

      // a session in the middle of a transaction when the reload comes
      const live = await LineClient.connect(site.port, site.host);
      await live.readReply();
      await live.command('EHLO client.test');
      assert.match((await live.command('MAIL FROM:<jacques@client.test>')) ?? '', /^250 /);
      assert.match((await live.command('RCPT TO:<suzana@example.org>')) ?? '', /^250 /);
      // example.net is not ours yet: relaying is refused to an untrusted client
      const before = await LineClient.connect(site.port, site.host);
      await before.readReply();
      await before.command('EHLO client.test');
      await before.command('MAIL FROM:<jacques@client.test>');
      assert.match((await before.command('RCPT TO:<postmaster@example.net>')) ?? '', /^5\d\d /);
      before.close();

      const next = original
        .replace('local_domains = ["example.org"]', 'local_domains = ["example.org", "example.net"]')
        .replace('[smtp]\n', '[smtp]\nmax_message_size = "1MB"\n');
      assert.notEqual(next, original);
      await writeFile(site.configFile, next);
      site.child!.kill('SIGHUP');
      await waitFor('the new max_message_size', async () => (await ehloSize(site.port, site.host)) === 1024 * 1024, 20_000);

      // the live session survived and its message is accepted and delivered
      assert.match((await live.command('DATA')) ?? '', /^354 /);
      live.write('Subject: across a reload\r\n\r\nstill here\r\n.\r\n');
      assert.match((await live.readReply(20_000)) ?? '', /^250 /);
      assert.match((await live.command('QUIT')) ?? '', /^221 /);
      live.close();
      const [mail] = await site.waitForMessages('suzana@example.org', 1);
      assert.match(mail, /^Subject: across a reload$/m);

      // the new local domain is in force for the next session
      const after = await LineClient.connect(site.port, site.host);
      await after.readReply();
      await after.command('EHLO client.test');
      await after.command('MAIL FROM:<jacques@client.test>');
      assert.match((await after.command('RCPT TO:<postmaster@example.net>')) ?? '', /^250 /);
      after.close();

      // a broken file: `correio reload` names the problem as at start; SIGHUP is refused, the server runs on
      const broken = next.replace('max_message_size = "1MB"', 'max_message_size = "1MB');
      const line = broken.split('\n').findIndex((l) => l === 'max_message_size = "1MB') + 1;
      await writeFile(site.configFile, broken);
      const bad = await runCli(['reload', '--config', site.configFile]);
      assert.equal(bad.code, 78, bad.stderr);
      assert.equal(
        bad.stderr,
        `correio: ${site.configFile}:${line}: TOML syntax error at line ${line}, column 24: a string is not closed: the closing quote is missing at the end of the line\n`,
      );
      site.child!.kill('SIGHUP');
      // a certificate that does not match its key is refused by the server itself
      const otherKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
      await writeFile(join(site.dir, 'other.key'), otherKey);
      await writeFile(
        site.configFile,
        next.replace('[smtp]\n', `[smtp]\ntls_cert = ${JSON.stringify(join(fixturesDir, 'tls', 'localhost.crt'))}\ntls_key = "other.key"\n`).replace('max_message_size = "1MB"', 'max_message_size = "2MB"'),
      );
      const mismatch = await runCli(['reload', '--config', site.configFile]);
      assert.equal(mismatch.code, 78, mismatch.stderr);
      assert.match(mismatch.stderr, /^correio: reload refused, the running configuration stays: smtp\.tls_cert\/smtp\.tls_key \(.*localhost\.crt, .*other\.key\): .+\n$/);
      assert.equal(site.child!.exitCode, null, 'still running');
      assert.equal(await ehloSize(site.port, site.host), 1024 * 1024, 'the running configuration stayed');

      // and a good file again is taken by `correio reload`
      await writeFile(site.configFile, next.replace('max_message_size = "1MB"', 'max_message_size = "3MB"'));
      const good = await runCli(['reload', '--config', site.configFile]);
      assert.equal(good.code, 0, good.stderr);
      assert.equal(good.stdout, 'configuration reloaded\n');
      assert.equal(await ehloSize(site.port, site.host), 3 * 1024 * 1024);
    } finally {
      await site.destroy();
    }
  });

  void test('reload with no server running: 69 and one line', async () => {
    const site = await startSiteProcess({ domains: ['example.org'] });
    await site.stop();
    try {
      const r = await runCli(['reload', '--config', site.configFile]);
      assert.equal(r.code, 69, r.stderr);
      assert.equal(r.stderr, `correio: no correio serve is running on data directory ${site.dataDir}\n`);
    } finally {
      await site.destroy();
    }
  });

  void test('SIGTERM during DATA: the transaction completes (250, delivered once) or gets a 4xx; new connections are refused', async () => {
    const site = await startSiteProcess({ domains: ['example.org'], users: ['suzana@example.org'] });
    try {
      const c = await LineClient.connect(site.port, site.host);
      await c.readReply();
      await c.command('EHLO client.test');
      assert.match((await c.command('MAIL FROM:<jacques@client.test>')) ?? '', /^250 /);
      assert.match((await c.command('RCPT TO:<suzana@example.org>')) ?? '', /^250 /);
      assert.match((await c.command('DATA')) ?? '', /^354 /);
      c.write('Subject: in flight at SIGTERM\r\n\r\nfirst half\r\n');
      const exited = new Promise<number | null>((res) => site.child!.once('exit', (code) => res(code)));
      site.child!.kill('SIGTERM');
      // the listener closes at once: a new client is turned away
      await waitFor(
        'the listener to close',
        () =>
          LineClient.connect(site.port, site.host).then(
            (x) => {
              x.close();
              return false;
            },
            () => true,
          ),
        20_000,
      );
      c.write('second half\r\n.\r\n');
      const final = (await c.readReply(30_000)) ?? '';
      c.close();
      assert.match(final, /^(250|4\d\d) /, `final reply: ${final}`);
      assert.equal(await exited, 0, 'a drained stop exits 0');
      await site.restart();
      if (final.startsWith('250')) {
        const msgs = await site.waitForMessages('suzana@example.org', 1);
        // give a second delivery (there must be none) a moment to show up
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal((await site.messages('suzana@example.org')).length, 1, 'delivered exactly once');
        assert.match(msgs[0], /first half\nsecond half\n$/);
      } else {
        assert.deepEqual(await site.messages('suzana@example.org'), []);
      }
    } finally {
      await site.destroy();
    }
  });

  // The SMTP listener opens before the other services; a SIGTERM in between used to end the
  // process by node's default action (killed by the signal, a session in DATA cut without a reply).
  void test('SIGTERM as soon as the SMTP port answers, while the rest still starts: a drained stop, exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'correio-t51-'));
    try {
      const [smtp, http, imap, metrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
      await writeFile(
        join(dir, 'correio.toml'),
        `hostname = "mx.test"\ndata_dir = "var"\nlocal_domains = ["example.org"]\n[smtp]\nlisten = ["127.0.0.1:${smtp}"]\nsubmission = []\n` +
          `[http]\nlisten = ["127.0.0.1:${http}"]\n[imap]\nlisten = ["127.0.0.1:${imap}"]\n[metrics]\nlisten = ["127.0.0.1:${metrics}"]\n`,
      );
      const child = spawn(process.execPath, [join(projectRoot, 'bin', 'correio.js'), 'serve', '--config', join(dir, 'correio.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
      const open = (): Promise<boolean> =>
        new Promise((res) => {
          const s = net.connect(smtp, '127.0.0.1');
          s.once('connect', () => {
            s.destroy();
            res(true);
          });
          s.once('error', () => res(false));
        });
      await waitFor('the SMTP port to open', open, 30_000, 2);
      child.kill('SIGTERM');
      assert.deepEqual(await exited, { code: 0, signal: null });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void test('SIGTERM under load: every message acknowledged with 250 is delivered exactly once', async () => {
    const site = await startSiteProcess({ domains: ['example.org'], users: ['suzana@example.org'] });
    try {
      const acked: string[] = [];
      const stopAt = 8; // SIGTERM once this many messages are acknowledged
      let signalled = false;
      const exited = new Promise<number | null>((res) => site.child!.once('exit', (code) => res(code)));
      /** one client sending up to 25 messages on one session, until the server turns it away */
      const client = async (n: number): Promise<void> => {
        let c: LineClient;
        try {
          c = await LineClient.connect(site.port, site.host);
        } catch {
          return;
        }
        try {
          if (!(await c.readReply())?.startsWith('220')) return;
          if (!(await c.command('EHLO client.test'))?.startsWith('250')) return;
          for (let i = 0; i < 25; i++) {
            const marker = `load-${n}-${i}`;
            if (!(await c.command('MAIL FROM:<jacques@client.test>'))?.startsWith('250')) return;
            if (!(await c.command('RCPT TO:<suzana@example.org>'))?.startsWith('250')) return;
            if (!(await c.command('DATA'))?.startsWith('354')) return;
            c.write(`Subject: ${marker}\r\n\r\n${marker}\r\n.\r\n`);
            const final = (await c.readReply(30_000)) ?? '';
            if (!final.startsWith('250')) return;
            acked.push(marker);
            if (!signalled && acked.length >= stopAt) {
              signalled = true;
              site.child!.kill('SIGTERM');
            }
          }
        } catch {
          /* the server closed the session: what was acknowledged counts */
        } finally {
          c.close();
        }
      };
      await Promise.all([0, 1, 2, 3].map((n) => client(n)));
      if (!signalled) {
        // every client was turned away before the threshold: stop now instead
        site.child!.kill('SIGTERM');
      }
      assert.equal(await exited, 0, 'a drained stop exits 0');
      assert.ok(acked.length >= 8, `messages acknowledged: ${acked.length}`);
      await site.restart();
      await site.waitForMessages('suzana@example.org', acked.length, 60_000);
      // a second copy (there must be none) would come from the spool right after the restart
      await new Promise((r) => setTimeout(r, 1500));
      const subjects = (await site.messages('suzana@example.org')).map((m) => /^Subject: (\S+)$/m.exec(m)?.[1] ?? '?');
      for (const marker of acked) assert.equal(subjects.filter((x) => x === marker).length, 1, `${marker} delivered exactly once`);
      assert.equal(new Set(subjects).size, subjects.length, 'no message delivered twice');
    } finally {
      await site.destroy();
    }
  });
});
