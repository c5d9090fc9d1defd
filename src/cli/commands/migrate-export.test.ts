import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { generateDkimKey } from '../../policy/index.js';
import { join } from 'node:path';
import { hashPassword, PgDirectory, PgTokenStore, pgSharedSecret, SqliteDirectory, SqliteTokenStore } from '../../directory/index.js';
import { FsQueueStore, PgQueueStore } from '../../queue/index.js';
import { MaildirFolders, MaildirStore, PgMailFolders, PgMailStore } from '../../mailbox/index.js';
import { Readable } from 'node:stream';
import { readAll, storeMessage } from '../../../test/contract/queue-store.contract.js';
import { runCli } from '../../../test/helpers/cli.js';
import { pgUnavailable, withTestDatabase } from '../../../test/helpers/pg.js';
import { withTempDir } from '../../../test/helpers/temp-dir.js';
import { freePort } from '../../../test/helpers/net.js';
import { startSite } from '../../../test/helpers/site.js';
import { ImapFlow } from 'imapflow';
import pg from 'pg';

const skip = await pgUnavailable();

void describe('correio migrate --to file:DIR (a PostgreSQL site back into files)', { skip }, () => {
  void test('directory, queue and mailboxes are exported and verified; the files site logs users in and holds the queue and the folders; a second run copies nothing', () =>
    withTempDir('correio-export-', (dir) =>
      withTestDatabase(async (db) => {
        const file = join(dir, 'correio.toml');
        await writeFile(file, `data_dir = "node"\nlocal_domains = ["dc.uece.br"]\n[storage]\nurl = "${db.url}"\n`);
        // a PostgreSQL site with some of everything (postmaster is made at open)
        const pd = await PgDirectory.open(db.url, { localDomains: ['dc.uece.br'] });
        await pd.addUser('suzana@dc.uece.br', await hashPassword('segredo'), 'Suzana');
        await pd.addUser('pascal@dc.uece.br', await hashPassword('outra'));
        await pd.setUserQuota('suzana@dc.uece.br', { storage: 5000, messages: 7 });
        await pd.setUserDisabled('pascal@dc.uece.br', true);
        await pd.setAlias('staff@dc.uece.br', ['suzana@dc.uece.br', 'pascal@dc.uece.br']);
        await pd.createList('lista@dc.uece.br', 'suzana@dc.uece.br', 'a list');
        await pd.addListMembers('lista@dc.uece.br', ['pascal@dc.uece.br', 'jacques@dsc.ufpb.br']);
        await pd.setRole('chefe@dc.uece.br', 'suzana@dc.uece.br', 'the head');
        await pd.close();
        const pq = await PgQueueStore.open(db.url);
        const m1 = await storeMessage(pq, 'Subject: one\r\n\r\nx\r\n', ['a@x.example', 'b@x.example', 'c@x.example']);
        const m2 = await storeMessage(pq, 'Subject: two\r\n\r\ny\r\n', ['d@x.example']);
        // m1: its first envelope delivered (the ids left have a gap), its second deferred after an attempt, its third held
        await pq.deleteEnvelope(m1[0].id);
        const deferred = {
          ...m1[1], state: 'deferred' as const, nextAttemptAt: 4242,
          attempts: [{ at: 4000, host: 'mx.x.example', reply: { code: 451, status: '4.3.0' as const, lines: ['try later'] }, status: '4.3.0' as const }],
        };
        await pq.putEnvelope(deferred);
        const held = { ...m1[2], state: 'held' as const, held: true };
        await pq.putEnvelope(held);
        await pq.close();
        // mailboxes: INBOX with two messages (one read and flagged), Archive with one with a keyword, a folder of its own
        const pm = await PgMailStore.open(db.url);
        const pf = new PgMailFolders(pm);
        for (const n of [1, 2]) await pm.deliver('suzana@dc.uece.br', Readable.from([Buffer.from(`Subject: in ${n}\r\n\r\ncorpo ${n}\r\n`)]), { uniqueKey: `k${n}` });
        await pf.ensureDefaultFolders('suzana@dc.uece.br');
        await pf.updateFlags('suzana@dc.uece.br', 'INBOX', [2], { mode: 'add', flags: 'FS' });
        await pf.append('suzana@dc.uece.br', 'Archive', Readable.from([Buffer.from('Subject: old\r\n\r\nx\r\n')]), { flags: 'S', keywords: ['$Work'], receivedAt: Date.UTC(2020, 1, 3) });
        await pf.createFolder('suzana@dc.uece.br', 'Projetos');
        // an expunge a QRESYNC client must still hear of from the files site (VANISHED)
        const gone = await pm.deliver('suzana@dc.uece.br', Readable.from([Buffer.from('Subject: gone\r\n\r\n')]), { uniqueKey: 'k3' });
        const seenModseq = (await pf.sync('suzana@dc.uece.br', 'INBOX')).highestModseq;
        await pf.remove('suzana@dc.uece.br', 'INBOX', gone.key);
        generateDkimKey(join(dir, 'node'), 'dc.uece.br', 's1', 'ed25519');
        const pt = PgTokenStore.open(db.url);
        const made = await pt.create('suzana@dc.uece.br', ['submit']);
        await pt.close();
        // the SRS secret a node generated for every node (forwards made before the move must still reverse)
        const srsSecret = await pgSharedSecret(db.url, 'srs', 'the secret of the postgres site');
        const before = { inbox: await pf.sync('suzana@dc.uece.br', 'INBOX'), archive: await pf.sync('suzana@dc.uece.br', 'Archive'), subs: await pf.listSubscriptions('suzana@dc.uece.br') };
        const folderNames = (await pf.listFolders('suzana@dc.uece.br')).map((x) => x.name).sort();
        await pm.close();

        const out = join(dir, 'files-site');
        // a node still delivering (an envelope leased now) is refused before anything is copied
        const admin = new pg.Client({ connectionString: db.url });
        await admin.connect();
        try {
          await admin.query("UPDATE queue_envelopes SET lease_owner = 'node-b', lease_until = now() + interval '1 hour' WHERE id = $1", [m2[0].id]);
          const busy = await runCli(['migrate', '--to', `file:${out}`, '--config', file]);
          assert.equal(busy.code, 75, busy.stderr);
          assert.match(busy.stderr, /^correio: 1 envelopes are being delivered by a running node \(leased until .*\): stop every node, then run again\n$/);
          assert.equal(existsSync(out), false, 'nothing was written');
          await admin.query('UPDATE queue_envelopes SET lease_owner = NULL, lease_until = NULL WHERE id = $1', [m2[0].id]);
        } finally {
          await admin.end();
        }
        const r = await runCli(['migrate', '--to', `file:${out}`, '--config', file]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^directory: 1 domains, 3 users, 1 aliases, 1 lists, 1 roles \(verified\)$/m);
        assert.match(r.stdout, /^queue: 2 messages \(2 copied, 0 already there\), 3 envelopes \(verified\)$/m);
        assert.match(r.stdout, new RegExp(`^mailboxes: 1 users, ${folderNames.length} folders, 3 messages \\(3 copied, 0 already there\\) \\(verified\\) into .*files-site/mail$`, 'm'));
        assert.match(r.stdout, /^next: set data_dir = ".*files-site" and \[storage\] url = "file:"/m);
        assert.ok(!r.stdout.includes(db.name) && !r.stdout.includes('postgres@'), 'the url is not printed');
        assert.equal((await stat(out)).mode & 0o777, 0o700);
        assert.match(r.stdout, /^dkim: 1 keys \(1 copied, 0 already there\) \(verified\) into .*files-site\/dkim$/m);
        const key = join(out, 'dkim', 'dc.uece.br', 's1.pem');
        assert.deepEqual(await readFile(key), await readFile(join(dir, 'node', 'dkim', 'dc.uece.br', 's1.pem')));
        assert.equal((await stat(key)).mode & 0o777, 0o600);
        assert.match(r.stdout, /^tokens: 1 API tokens \(1 copied, 0 already there\) \(verified\) into .*files-site\/tokens\.sqlite$/m);
        assert.match(r.stdout, /^srs: the nodes' generated secret is .*files-site\/srs-secret$/m);
        assert.equal(await readFile(join(out, 'srs-secret'), 'utf8'), `${srsSecret}\n`, 'where a files site reads its generated secret');
        assert.equal((await stat(join(out, 'srs-secret'))).mode & 0o777, 0o600);
        const st = SqliteTokenStore.open(join(out, 'tokens.sqlite'));
        try {
          assert.equal((await st.verify(made.secret))?.id, made.token.id, 'the token works on the files site');
        } finally {
          await st.close();
        }

        // the exported site, opened as a files site opens it
        const sq = await SqliteDirectory.open(join(out, 'directory.sqlite'), { localDomains: ['dc.uece.br'] });
        try {
          assert.equal(await sq.verifyPassword('suzana@dc.uece.br', 'segredo'), true, 'the password hash came along');
          assert.equal(await sq.verifyPassword('suzana@dc.uece.br', 'wrong'), false);
          assert.equal(await sq.verifyPassword('pascal@dc.uece.br', 'outra'), false, 'a disabled user stays disabled');
          assert.deepEqual(await sq.findUser('pascal@dc.uece.br').then((u) => u?.disabled), true);
          const suzana = await sq.findUser('suzana@dc.uece.br');
          assert.equal(suzana?.name, 'Suzana');
          assert.deepEqual(suzana?.quota, { storage: 5000, messages: 7 });
          assert.deepEqual((await sq.findAlias('staff@dc.uece.br'))?.targets, ['suzana@dc.uece.br', 'pascal@dc.uece.br']);
          assert.deepEqual(await sq.findList('lista@dc.uece.br'), { address: 'lista@dc.uece.br', owner: 'suzana@dc.uece.br', description: 'a list', members: ['pascal@dc.uece.br', 'jacques@dsc.ufpb.br'] });
          assert.deepEqual(await sq.findRole('chefe@dc.uece.br'), { address: 'chefe@dc.uece.br', holder: 'suzana@dc.uece.br', description: 'the head' });
        } finally {
          await sq.close();
        }
        const fq = await FsQueueStore.open(join(out, 'spool'), { lock: false });
        try {
          assert.deepEqual(await fq.findMessageEnvelopes(m1[0].messageId), [deferred, held], 'same ids, states and attempts');
          assert.deepEqual(await fq.findMessageEnvelopes(m2[0].messageId), m2);
          assert.equal((await readAll(await fq.openMessage(m1[0].messageId))).toString(), 'Subject: one\r\n\r\nx\r\n');
        } finally {
          await fq.close();
        }
        // the Maildirs keep the folders' IMAP identity: UIDVALIDITY, UIDs, MODSEQs, flags, keywords, dates
        const maildir = new MaildirStore(join(out, 'mail'), { hostname: 'mx' });
        const mf = new MaildirFolders(maildir);
        assert.deepEqual((await mf.listFolders('suzana@dc.uece.br')).map((x) => x.name).sort(), folderNames);
        assert.deepEqual((await mf.changesSince('suzana@dc.uece.br', 'INBOX', seenModseq)).vanished, [{ from: 3, to: 3 }], 'the expunge record came along');
        for (const [name, snap] of [['INBOX', before.inbox], ['Archive', before.archive]] as const) {
          // `version` names a snapshot inside one store only
          const { version: _fileVersion, list, ...now } = await mf.sync('suzana@dc.uece.br', name);
          const { version: _pgVersion, list: wasList, ...was } = snap;
          const ms = (m: { receivedAt: number }): number => Math.round(m.receivedAt);
          assert.deepEqual(
            { ...now, messages: [...list].map((m) => ({ ...m, key: '', receivedAt: ms(m) })) },
            { ...was, messages: [...wasList].map((m) => ({ ...m, key: '', receivedAt: ms(m) })) },
            `${name} as it was`,
          );
        }
        const inbox = await mf.sync('suzana@dc.uece.br', 'INBOX');
        assert.equal((await readAll(await mf.open('suzana@dc.uece.br', 'INBOX', inbox.list.at(0)!.key))).toString(), 'Subject: in 1\r\n\r\ncorpo 1\r\n');
        assert.deepEqual((await mf.listSubscriptions('suzana@dc.uece.br')).sort(), [...before.subs].sort());
        // a delivery afterwards continues the UIDs
        await maildir.deliver('suzana@dc.uece.br', Readable.from([Buffer.from('Subject: new\r\n\r\n')]), { uniqueKey: 'after' });
        assert.equal([...(await mf.sync('suzana@dc.uece.br', 'INBOX')).list].at(-1)?.uid, before.inbox.uidNext);

        // the CLI of the files site sees the same (a config pointing at the export)
        const filesConf = join(dir, 'files.toml');
        await writeFile(filesConf, `data_dir = "files-site"\nlocal_domains = ["dc.uece.br"]\n`);
        const list = await runCli(['queue', 'list', '--json', '--config', filesConf]);
        assert.equal(list.code, 0, list.stderr);
        assert.equal((JSON.parse(list.stdout) as unknown[]).length, 2);

        // resumable: nothing is copied twice, and it still verifies
        const again = await runCli(['migrate', '--to', `file:${out}`, '--config', file]);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /^queue: 2 messages \(0 copied, 2 already there\), 3 envelopes \(verified\)$/m);
        assert.match(again.stdout, new RegExp(`^mailboxes: 1 users, ${folderNames.length} folders, 3 messages \\(0 copied, 3 already there\\)`, 'm'));
        assert.match(again.stdout, /^directory: 1 domains, 3 users, 1 aliases, 1 lists, 1 roles \(verified\)$/m);
        assert.match(again.stdout, /^srs: the nodes' generated secret is .*srs-secret \(already there\)$/m);

        // a run cut short after writing files but before the UID list: the files are found again, not written twice
        await rm(join(out, 'mail', 'dc.uece.br', 'suzana', 'correio-uidlist'));
        // (and a DIR/srs-secret of its own is kept, and said)
        await writeFile(join(out, 'srs-secret'), 'a secret of the files site\n');
        const resumed = await runCli(['migrate', '--to', `file:${out}`, '--config', file]);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.match(resumed.stdout, /^srs: .*srs-secret holds another secret: add the nodes' \(shared_secrets, row srs\) to \[mail_auth\] srs_old_secrets/m);
        assert.equal(await readFile(join(out, 'srs-secret'), 'utf8'), 'a secret of the files site\n');
        const inboxAfter = await mf.sync('suzana@dc.uece.br', 'INBOX');
        assert.equal(inboxAfter.list.length, 3, 'two exported and the one delivered afterwards, none twice');
        assert.deepEqual([...inboxAfter.list].slice(0, 2).map((m) => [m.uid, m.flags]), [...before.inbox.list].map((m) => [m.uid, m.flags]));

        // a spool holding a message PostgreSQL does not (an old spool) is refused before anything is written
        const stray = await FsQueueStore.open(join(out, 'spool'), { lock: false });
        await storeMessage(stray, 'Subject: stray\r\n\r\nz\r\n', ['e@x.example']);
        await stray.close();
        const refused = await runCli(['migrate', '--to', `file:${out}`, '--config', file]);
        assert.equal(refused.code, 65, refused.stderr);
        assert.match(refused.stderr, /^correio: .*spool holds 1 messages that are not in PostgreSQL/);

        // last (serving changes the queue): a correio serving the exported directory: IMAP logins with the old passwords, the folder as clients knew it
        const imapPort = await freePort();
        const closed = await freePort();
        const site = await startSite({
          dataDir: out, hostname: 'dc.uece.br', domains: ['dc.uece.br'],
          tables: `[imap]\nlisten = ["127.0.0.1:${imapPort}"]\n[delivery.routes]\n"x.example" = "smtp:[127.0.0.1]:${closed}"\n`,
        });
        try {
          const login = (user: string, pass: string): ImapFlow =>
            new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, tls: { rejectUnauthorized: false }, auth: { user, pass }, logger: false });
          const c = login('suzana@dc.uece.br', 'segredo');
          await c.connect();
          try {
            const box = await c.mailboxOpen('INBOX');
            assert.equal(String(box.uidValidity), String(before.inbox.uidValidity));
            const seen = [];
            for await (const m of c.fetch('1:*', { uid: true, flags: true })) seen.push([m.uid, [...(m.flags ?? [])].sort()]);
            assert.deepEqual(seen.slice(0, 2), [[before.inbox.list.at(0)!.uid, []], [before.inbox.list.at(1)!.uid, ['\\Flagged', '\\Seen']]]);
          } finally {
            await c.logout();
          }
          await assert.rejects(login('pascal@dc.uece.br', 'outra').connect(), 'a disabled account cannot log in');
        } finally {
          await site.destroy();
        }
      })));

  void test('bad input: a files site (78), no directory (64), this node\'s own data_dir (64), unreachable PostgreSQL (69); one line each', () =>
    withTempDir('correio-export-', async (dir) => {
      const files = join(dir, 'files.toml');
      await writeFile(files, 'data_dir = "var"\n');
      const notPg = await runCli(['migrate', '--to', `file:${join(dir, 'out')}`, '--config', files]);
      assert.equal(notPg.code, 78, notPg.stderr);
      assert.match(notPg.stderr, /storage\.url is "file:"; migrate --to file:DIR exports a PostgreSQL site/);
      const pgConf = join(dir, 'pg.toml');
      await writeFile(pgConf, 'data_dir = "var"\n[storage]\nurl = "postgres://u:secret@127.0.0.1:1/none"\n');
      const empty = await runCli(['migrate', '--to', 'file:', '--config', pgConf]);
      assert.equal(empty.code, 64, empty.stderr);
      const own = await runCli(['migrate', '--to', `file:${join(dir, 'var')}`, '--config', pgConf]);
      assert.equal(own.code, 64, own.stderr);
      assert.match(own.stderr, /is this node's data_dir/);
      const down = await runCli(['migrate', '--to', `file:${join(dir, 'out')}`, '--config', pgConf]);
      assert.equal(down.code, 69, down.stderr);
      assert.match(down.stderr, /^correio: PostgreSQL at 127\.0\.0\.1:1\/none: /);
      assert.ok(!down.stderr.includes('secret'));
      for (const x of [notPg, empty, own, down]) assert.equal(x.stderr.trim().split('\n').length, 1, x.stderr);
    }));
});
