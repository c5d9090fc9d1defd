/**
 * t-95: two correio nodes behind a real PgBouncer (issue 17). The test starts Debian's
 * pgbouncer (1.18) itself: its own ini, a free port, transaction pooling, trust auth with a
 * userlist, in front of 127.0.0.1:5432. Both nodes reach PostgreSQL through it
 * (`[storage] url`, with `prepared_statements = false`: 1.18 carries no named statement in
 * transaction mode) except their LISTEN sessions, which go straight to PostgreSQL
 * (`listen_url`): transaction pooling hands a server connection to whichever client runs a
 * transaction, so a LISTEN made through it hears nothing (PgBouncer drops the notification:
 * "got packet 'A' from server when not linked"). Checked: accept on B (a small message, and
 * one of 3 MB, streamed into the queue in a transaction through PgBouncer), delivery into the
 * mailboxes in PostgreSQL, IDLE on node A told of B's delivery (NOTIFY sent in a transaction
 * through PgBouncer, heard on A's direct LISTEN), IMAP FETCH on A and JMAP on B reading both
 * messages whole, and PgBouncer's own view: its pool in transaction mode, with clients of both
 * nodes; `correio check` warns of a LISTEN url that hears nothing (A's configuration without
 * listen_url) and not of A's own. Skips, saying so, only where pgbouncer is not installed (CI installs it).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import pg from 'pg';
import { freePort } from '../helpers/net.js';
import { pgUnavailable, withTestDatabase } from '../helpers/pg.js';
import { runCli } from '../helpers/cli.js';
import { sendMail, startSiteProcess, waitFor } from '../helpers/site.js';

const binary = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p));
const skip = (await pgUnavailable()) ?? (binary ? false : 'pgbouncer is not installed (apt-get install pgbouncer; .ci/run installs it)');

const reader = 'helena@dc.uece.br';

interface Bouncer {
  readonly port: number;
  /** `url` with PgBouncer's port */
  via(url: string): string;
  stop(): Promise<void>;
}

/** PgBouncer in transaction mode in front of the server of `url`, on a free port. */
async function startBouncer(url: string): Promise<Bouncer> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-t95-'));
  const port = await freePort();
  const u = new URL(url);
  const user = decodeURIComponent(u.username) || userInfo().username;
  await writeFile(join(dir, 'userlist.txt'), `"${user}" ""\n`);
  await writeFile(
    join(dir, 'pgbouncer.ini'),
    `[databases]\n* = host=${u.hostname} port=${u.port || 5432}\n` +
      `[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\n` +
      `auth_type = trust\nauth_file = ${join(dir, 'userlist.txt')}\nadmin_users = ${user}\n` +
      'pool_mode = transaction\ndefault_pool_size = 20\nmax_client_conn = 500\n' +
      // node-postgres sends none of these by default; a client that does must not be refused
      'ignore_startup_parameters = extra_float_digits,options\n',
  );
  // PgBouncer refuses to run as root: it then runs as the database's user where that is a system user
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    await chmod(dir, 0o755);
    for (const f of ['userlist.txt', 'pgbouncer.ini']) await chmod(join(dir, f), 0o644);
  }
  const runAs = asRoot ? ['-u', existsSync('/var/lib/postgresql') ? 'postgres' : 'nobody'] : [];
  const child: ChildProcess = spawn(binary!, [...runAs, join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const via = (target: string): string => {
    const v = new URL(target);
    v.hostname = '127.0.0.1';
    v.port = String(port);
    return v.toString();
  };
  await waitFor(`pgbouncer to listen on ${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited ${child.exitCode}: ${log}`);
    const c = new pg.Client({ connectionString: via(url), connectionTimeoutMillis: 2000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch {
      return undefined;
    } finally {
      await c.end().catch(() => undefined);
    }
  }, 15_000, 200);
  return {
    port,
    via,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** PgBouncer's admin console: SHOW <what>. */
async function show(bouncer: Bouncer, url: string, what: string): Promise<Record<string, unknown>[]> {
  const admin = new URL(bouncer.via(url));
  admin.pathname = '/pgbouncer';
  // the console speaks the simple query protocol only: a query without parameters
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  try {
    return (await c.query<Record<string, unknown>>(`SHOW ${what}`)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const big = (): string => {
  const line = 'a line of a big message through PgBouncer, 72 octets long with its end..\n';
  return `From: helvecio@dsc.ufpb.br\nSubject: big through pgbouncer\n\n${line.repeat(Math.ceil((3 * 1024 * 1024) / line.length))}`;
};

void describe('t-95 two nodes behind PgBouncer in transaction mode', { skip }, () => {
  void test('accept (small and streamed), delivery, IDLE across nodes through a direct LISTEN, IMAP and JMAP reads', () =>
    withTestDatabase(async (db) => {
      const bouncer = await startBouncer(db.url);
      const hosts = ['127.0.0.2', '127.0.0.3'];
      // IMAP and HTTP ports picked afresh each time startSiteProcess starts a node over (one
      // taken by a parallel test meanwhile): the ones the running node listens on are kept here
      const imapPorts: number[] = [];
      const httpPorts: number[] = [];
      const tables = (i: number) => async (): Promise<string> => {
        imapPorts[i] = await freePort(hosts[i]);
        httpPorts[i] = await freePort(hosts[i]);
        return (
          `[storage]\nurl = ${JSON.stringify(bouncer.via(db.url))}\nlisten_url = ${JSON.stringify(db.url)}\nprepared_statements = false\n` +
          'lease = "3s"\npoll_interval = "1s"\n' +
          `[metrics]\nlisten = []\n[imap]\nlisten = ["${hosts[i]}:${imapPorts[i]}"]\n[http]\nlisten = ["${hosts[i]}:${httpPorts[i]}"]\n`
        );
      };
      const nodes: Awaited<ReturnType<typeof startSiteProcess>>[] = [];
      try {
        nodes.push(await startSiteProcess({ domains: ['dc.uece.br'], host: hosts[0], hostname: 'a.dc.uece.br', tables: tables(0), users: [reader] }));
        nodes.push(await startSiteProcess({ domains: ['dc.uece.br'], host: hosts[1], hostname: 'b.dc.uece.br', tables: tables(1) }));
        const [a, b] = nodes;

        // IDLE on A; a message accepted and delivered by B
        const idle = new ImapFlow({ host: hosts[0], port: imapPorts[0], secure: false, tls: { rejectUnauthorized: false }, auth: { user: reader, pass: 'secret' }, logger: false, autoIdleDelay: 200 });
        await idle.connect();
        try {
          await idle.mailboxOpen('INBOX');
          let exists = 0;
          idle.on('exists', (e: { count: number }) => (exists = e.count));
          await new Promise((r) => setTimeout(r, 500)); // imapflow is in IDLE now
          const small = 'From: helvecio@dsc.ufpb.br\nSubject: small through pgbouncer\n\nolá\n';
          assert.match((await sendMail(b, 'helvecio@dsc.ufpb.br', [reader], small)).final ?? '', /^250/);
          await waitFor('IDLE on A to announce the message B delivered', () => (exists === 1 ? true : undefined), 20_000);
          // a body over 1 MiB: streamed into the queue in a transaction of its own, through PgBouncer
          const text = big();
          assert.match((await sendMail(b, 'helvecio@dsc.ufpb.br', [reader], text)).final ?? '', /^250/);
          await waitFor('IDLE on A to announce the big message', () => (exists === 2 ? true : undefined), 30_000);
          const fetched = await idle.fetchOne('2', { source: true });
          assert.ok(fetched && fetched.source);
          const source = fetched.source.toString('utf8');
          const want = text.replace(/\n/g, '\r\n');
          assert.ok(source.endsWith(want), 'the big message read over IMAP on A ends with what was sent');
          assert.equal(createHash('sha256').update(source.slice(source.length - want.length)).digest('hex'), createHash('sha256').update(want).digest('hex'));
        } finally {
          await idle.logout().catch(() => undefined);
        }

        // JMAP on B: both messages, with their sizes
        const account = `a${Buffer.from(reader, 'utf8').toString('base64url')}`;
        const r = await fetch(`http://${hosts[1]}:${httpPorts[1]}/jmap/api`, {
          method: 'POST',
          headers: { Authorization: `Basic ${Buffer.from(`${reader}:secret`).toString('base64')}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({
            using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
            methodCalls: [
              ['Email/query', { accountId: account }, 'q'],
              ['Email/get', { accountId: account, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject', 'size'] }, 'g'],
            ],
          }),
        });
        assert.equal(r.status, 200);
        const got = ((await r.json()) as { methodResponses: [string, { list?: { subject: string; size: number }[] }, string][] }).methodResponses[1][1].list ?? [];
        assert.deepEqual(got.map((e) => e.subject).sort(), ['big through pgbouncer', 'small through pgbouncer']);
        assert.ok(got.find((e) => e.subject === 'big through pgbouncer')!.size > 3 * 1024 * 1024);

        // the queue drained, no chunk left; and PgBouncer's view: transaction mode, clients of both nodes
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          await waitFor('the queue to drain', async () => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM queue_messages')).rows[0].n) === 0 || undefined, 30_000);
          assert.equal(Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM queue_body_chunks')).rows[0].n), 0);
          // the LISTEN sessions are direct: PostgreSQL sees them from the nodes, not from PgBouncer.
          // B's is opened by its first watcher (the JMAP index warmer, after the request above),
          // without the request waiting for it: wait for it rather than race it
          const listening = async (): Promise<number> =>
            Number((await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'correio mail notify'")).rows[0].n);
          await waitFor('one direct LISTEN session per node', async () => ((await listening()) >= 2 ? true : undefined), 15_000);
          assert.equal(await listening(), 2, 'one direct LISTEN session per node, no more');
        } finally {
          await c.end();
        }
        const pools = await show(bouncer, db.url, 'POOLS');
        const ours = pools.filter((p) => p.database === db.name);
        assert.equal(ours.length, 1, JSON.stringify(pools));
        assert.equal(ours[0].pool_mode, 'transaction');
        const clients = (await show(bouncer, db.url, 'CLIENTS')).filter((x) => x.database === db.name);
        assert.ok(clients.length >= 2, `clients of the nodes through PgBouncer: ${clients.length}`);
        assert.equal(a.child?.exitCode, null);

        // correio check: A's LISTEN url (direct) hears; the same configuration without
        // listen_url would LISTEN through PgBouncer, and is warned
        const checkA = await runCli(['check', '--config', a.configFile]);
        assert.doesNotMatch(checkA.stdout + checkA.stderr, /LISTEN/);
        const deaf = join(a.dir, 'deaf.toml');
        await writeFile(deaf, (await readFile(a.configFile, 'utf8')).replace(/^listen_url = .*\n/m, ''));
        const checkDeaf = await runCli(['check', '--config', deaf]);
        assert.match(checkDeaf.stdout, /^warning: storage\.url: a LISTEN there does not hear a NOTIFY sent through another connection .*set \[storage\] listen_url to a direct url/m);
        assert.doesNotMatch(checkDeaf.stdout, /postgres:\/\//, 'the url is not printed');
      } finally {
        for (const n of nodes) await n.destroy();
        await bouncer.stop();
      }
    }));
});
