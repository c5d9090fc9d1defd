import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../../config/index.js';
import { directoryFile, hashPassword, PgDirectory, PgTokenStore, pgSharedSecret, SqliteDirectory, SqliteTokenStore, tokenFile } from '../../directory/index.js';
import { FsQueueStore, PgQueueStore } from '../../queue/index.js';
import { spoolDir } from '../../app/index.js';
import { generateDkimKey } from '../../policy/index.js';
import { MaildirFolders, MaildirStore, PgMailFolders, PgMailStore } from '../../mailbox/index.js';
import { Readable } from 'node:stream';
import { readAll, storeMessage } from '../../../test/contract/queue-store.contract.js';
import { runCli } from '../../../test/helpers/cli.js';
import { pgUnavailable, withTestDatabase } from '../../../test/helpers/pg.js';
import { withTempDir } from '../../../test/helpers/temp-dir.js';

const skip = await pgUnavailable();

void describe('correio migrate --to postgres://… (a file-based site into PostgreSQL)', { skip }, () => {
  void test('directory and queue are copied and verified; a second run copies nothing again', () =>
    withTempDir('correio-migrate-', (dir) =>
      withTestDatabase(async (db) => {
        const text = 'data_dir = "var"\nlocal_domains = ["dc.uece.br"]\n';
        const file = join(dir, 'correio.toml');
        await writeFile(file, text);
        const config = parseConfig(text, { file, baseDir: dir, absoluteFile: file });
        // a file-based site with some of everything (and postmaster, made at open)
        const sq = await SqliteDirectory.open(directoryFile(config), { localDomains: ['dc.uece.br'] });
        await sq.addUser('suzana@dc.uece.br', await hashPassword('segredo'), 'Suzana');
        await sq.addUser('pascal@dc.uece.br');
        await sq.setAlias('staff@dc.uece.br', ['suzana@dc.uece.br', 'pascal@dc.uece.br']);
        await sq.createList('lista@dc.uece.br', 'suzana@dc.uece.br', 'a list');
        await sq.addListMembers('lista@dc.uece.br', ['pascal@dc.uece.br', 'jacques@dsc.ufpb.br']);
        await sq.setRole('chefe@dc.uece.br', 'suzana@dc.uece.br');
        await sq.close();
        const fs = await FsQueueStore.open(spoolDir(config));
        const m1 = await storeMessage(fs, 'Subject: one\r\n\r\nx\r\n', ['a@x.example', 'b@x.example']);
        const m2 = await storeMessage(fs, 'Subject: two\r\n\r\ny\r\n', ['c@x.example']);
        await fs.putEnvelope({ ...m1[1], nextAttemptAt: 42 });
        await fs.close();
        // mailboxes: INBOX with two messages (one read), Archive with a flagged one with a keyword
        const maildir = new MaildirStore(join(config.dataDir, 'mail'), { hostname: 'mx' });
        const mf = new MaildirFolders(maildir);
        for (const n of [1, 2]) await maildir.deliver('suzana@dc.uece.br', Readable.from([Buffer.from(`Subject: in ${n}\r\n\r\ncorpo ${n}\r\n`)]), { uniqueKey: `k${n}` });
        await mf.ensureDefaultFolders('suzana@dc.uece.br');
        const inbox = await mf.sync('suzana@dc.uece.br', 'INBOX');
        await mf.updateFlags('suzana@dc.uece.br', 'INBOX', [2], { mode: 'add', flags: 'S' });
        await mf.append('suzana@dc.uece.br', 'Archive', Readable.from([Buffer.from('Subject: old\r\n\r\nx\r\n')]), { flags: 'F', keywords: ['$Work'], receivedAt: Date.UTC(2020, 1, 3) });
        const before = { inbox: await mf.sync('suzana@dc.uece.br', 'INBOX'), archive: await mf.sync('suzana@dc.uece.br', 'Archive') };
        assert.equal(before.inbox.uidValidity, inbox.uidValidity);

        const r = await runCli(['migrate', '--to', db.url, '--config', file]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^directory: 1 domains, 3 users, 1 aliases, 1 lists, 1 roles \(verified\)$/m);
        assert.match(r.stdout, /^queue: 2 messages \(2 copied, 0 already there\), 3 envelopes \(verified\)$/m);
        assert.match(r.stdout, /^mailboxes: 1 users, 6 folders, 3 messages \(3 copied, 0 already there\) \(verified\)/m);
        assert.ok(!r.stdout.includes('postgres@'), 'the url is not printed');

        // in PostgreSQL: the password hash works, the list has its members, the envelopes are whole
        const pd = await PgDirectory.open(db.url);
        try {
          assert.equal(await pd.verifyPassword('suzana@dc.uece.br', 'segredo'), true);
          assert.equal((await pd.findUser('suzana@dc.uece.br'))?.name, 'Suzana');
          assert.deepEqual((await pd.findList('lista@dc.uece.br'))?.members, ['pascal@dc.uece.br', 'jacques@dsc.ufpb.br']);
          assert.equal((await pd.findRole('chefe@dc.uece.br'))?.holder, 'suzana@dc.uece.br');
        } finally {
          await pd.close();
        }
        const pq = await PgQueueStore.open(db.url);
        try {
          assert.deepEqual(await pq.findEnvelope(m1[1].id), { ...m1[1], nextAttemptAt: 42 });
          assert.deepEqual(await pq.findEnvelope(m2[0].id), m2[0]);
          assert.equal((await readAll(await pq.openMessage(m1[0].messageId))).toString(), 'Subject: one\r\n\r\nx\r\n');
        } finally {
          await pq.close();
        }

        // the folders in PostgreSQL keep their IMAP identity: UIDVALIDITY, UIDs, MODSEQs, flags, keywords, dates
        const pm = await PgMailStore.open(db.url);
        try {
          const pf = new PgMailFolders(pm);
          for (const [name, snap] of [['INBOX', before.inbox], ['Archive', before.archive]] as const) {
            const { version: _pgVersion, list, ...now } = await pf.sync('suzana@dc.uece.br', name);
            // dates to the millisecond (a Maildir mtime has fractions); `version` names a snapshot inside one store only
            const { version: _fileVersion, list: wasList, ...was } = snap;
            assert.deepEqual(
              { ...now, messages: [...list] },
              { ...was, messages: [...wasList].map((m) => ({ ...m, receivedAt: Math.floor(m.receivedAt) })) },
              `${name} as it was`,
            );
          }
          assert.equal((await readAll(await pf.open('suzana@dc.uece.br', 'INBOX', before.inbox.list.at(0)!.key))).toString(), 'Subject: in 1\r\n\r\ncorpo 1\r\n');
          assert.deepEqual(await pf.listSubscriptions('suzana@dc.uece.br'), await mf.listSubscriptions('suzana@dc.uece.br').then((x) => x.sort()));
          // a node delivering afterwards continues the UIDs
          await pm.deliver('suzana@dc.uece.br', Readable.from([Buffer.from('Subject: new\r\n\r\n')]), { uniqueKey: 'after' });
          assert.equal([...(await pf.sync('suzana@dc.uece.br', 'INBOX')).list].at(-1)?.uid, before.inbox.uidNext);
        } finally {
          await pm.close();
        }

        // resumable: run again, nothing is copied twice, and it still verifies
        const again = await runCli(['migrate', '--to', db.url, '--config', file]);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /^queue: 2 messages \(0 copied, 2 already there\), 3 envelopes \(verified\)$/m);
        assert.match(again.stdout, /^mailboxes: 1 users, 6 folders, 3 messages \(0 copied, 3 already there\) \(verified\)/m);
      })));

  void test('expunge records are copied (QRESYNC VANISHED after the move as before it); DKIM keys are named; API tokens still work; the SRS secret is the nodes\' one', () =>
    withTempDir('correio-migrate-', (dir) =>
      withTestDatabase(async (db) => {
        const text = 'data_dir = "var"\nlocal_domains = ["dc.uece.br"]\n';
        const file = join(dir, 'correio.toml');
        await writeFile(file, text);
        const config = parseConfig(text, { file, baseDir: dir, absoluteFile: file });
        const user = 'suzana@dc.uece.br';
        const maildir = new MaildirStore(join(config.dataDir, 'mail'), { hostname: 'mx' });
        const mf = new MaildirFolders(maildir);
        for (const n of [1, 2, 3, 4]) await maildir.deliver(user, Readable.from([Buffer.from(`Subject: in ${n}\r\n\r\ncorpo ${n}\r\n`)]), { uniqueKey: `k${n}` });
        const seen = await mf.sync(user, 'INBOX'); // a client's state before the expunges
        await mf.remove(user, 'INBOX', seen.list.at(1)!.key);
        const between = (await mf.sync(user, 'INBOX')).highestModseq;
        await mf.remove(user, 'INBOX', seen.list.at(2)!.key);
        const maildirAnswers = [(await mf.changesSince(user, 'INBOX', seen.highestModseq)).vanished, (await mf.changesSince(user, 'INBOX', between)).vanished];
        assert.deepEqual(maildirAnswers, [[{ from: 2, to: 3 }], [{ from: 3, to: 3 }]]);
        generateDkimKey(config.dataDir, 'dc.uece.br', 's1', 'ed25519');
        await writeFile(join(config.dataDir, 'srs-secret'), 'the secret of this files site\n');
        const tokens = SqliteTokenStore.open(tokenFile(config));
        const { token, secret } = await tokens.create(user, ['jmap'], 'phone');
        await tokens.close();

        const r = await runCli(['migrate', '--to', db.url, '--config', file]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^dkim: 1 keys \(dc\.uece\.br\/s1; 1 copied, 0 already there\) \(verified\) from .*\/var\/dkim: every node signs with them$/m);
        assert.match(r.stdout, /^tokens: 1 API tokens \(1 copied, 0 already there\) \(verified\): every node accepts them$/m);
        assert.match(r.stdout, /^srs: the generated secret of .*\/var\/srs-secret is every node's$/m);
        assert.equal(await pgSharedSecret(db.url, 'srs'), 'the secret of this files site', 'bounces to forwards made before the move reverse');
        const pt = PgTokenStore.open(db.url);
        try {
          assert.deepEqual(await pt.verify(secret), { ...token, lastUsedAt: (await pt.list())[0]?.lastUsedAt }, 'the token made on files works on PostgreSQL');
        } finally {
          await pt.close();
        }
        const pm = await PgMailStore.open(db.url);
        try {
          const pf = new PgMailFolders(pm);
          const pgAnswers = [(await pf.changesSince(user, 'INBOX', seen.highestModseq)).vanished, (await pf.changesSince(user, 'INBOX', between)).vanished];
          assert.deepEqual(pgAnswers, maildirAnswers, 'PostgreSQL answers VANISHED as the Maildir did');
          assert.deepEqual((await pf.changesSince(user, 'INBOX', (await pf.sync(user, 'INBOX')).highestModseq)).vanished, []);
        } finally {
          await pm.close();
        }
        // again: the record is there already, and it still verifies
        const again = await runCli(['migrate', '--to', db.url, '--config', file]);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /^dkim: 1 keys \(dc\.uece\.br\/s1; 0 copied, 1 already there\) \(verified\)/m);
        assert.match(again.stdout, /^tokens: 1 API tokens \(0 copied, 1 already there\) \(verified\)/m);
        await writeFile(join(config.dataDir, 'srs-secret'), 'another secret of this site\n');
        const other = await runCli(['migrate', '--to', db.url, '--config', file]);
        assert.match(other.stdout, /^srs: PostgreSQL has another generated secret: add the one of .*\/var\/srs-secret to \[mail_auth\] srs_old_secrets/m);
      })));

  void test('bad targets: not a postgres url (64), unreachable (69), one line each', () =>
    withTempDir('correio-migrate-', async (dir) => {
      const file = join(dir, 'correio.toml');
      await writeFile(file, 'data_dir = "var"\n');
      const bad = await runCli(['migrate', '--to', 'mysql://x', '--config', file]);
      assert.equal(bad.code, 64, bad.stderr);
      const down = await runCli(['migrate', '--to', 'postgres://u:secret@127.0.0.1:1/none', '--config', file]);
      assert.equal(down.code, 69, down.stderr);
      assert.match(down.stderr, /^correio: PostgreSQL at 127\.0\.0\.1:1\/none: /);
      assert.ok(!down.stderr.includes('secret'));
      assert.equal(down.stderr.trim().split('\n').length, 1);
    }));
});
