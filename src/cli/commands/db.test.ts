import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../../../test/helpers/cli.js';
import { pgUnavailable, withTestDatabase } from '../../../test/helpers/pg.js';
import { withTempDir } from '../../../test/helpers/temp-dir.js';

const skip = await pgUnavailable();

async function configFor(dir: string, url: string): Promise<string> {
  const file = join(dir, 'correio.toml');
  await writeFile(file, `data_dir = "var"\nlocal_domains = ["dc.uece.br"]\n[storage]\nurl = "${url}"\n`);
  return file;
}

void describe('correio db migrate / db status on a real PostgreSQL', { skip }, () => {
  void test('status says pending (75), migrate applies, status then says current; users land in PostgreSQL', () =>
    withTempDir('correio-db-', (dir) =>
      withTestDatabase(async (db) => {
        const config = await configFor(dir, db.url);
        const before = await runCli(['db', 'status', '--json', '--config', config]);
        assert.equal(before.code, 75, before.stderr);
        assert.deepEqual(JSON.parse(before.stdout), [
          { component: 'directory', current: 0, latest: 3 },
          { component: 'queue', current: 0, latest: 3 },
          { component: 'mailbox', current: 0, latest: 2 },
        ]);
        assert.match(before.stderr, /migrations pending; run correio db migrate/);
        assert.ok(!before.stderr.includes('postgres@'), 'no user/password in messages');

        const migrate = await runCli(['db', 'migrate', '--config', config]);
        assert.equal(migrate.code, 0, migrate.stderr);
        assert.match(migrate.stdout, /^directory: 0 -> 3\nqueue: 0 -> 3\nmailbox: 0 -> 2$/m);
        const again = await runCli(['db', 'migrate', '--config', config]);
        assert.match(again.stdout, /^directory: at version 3\nqueue: at version 3\nmailbox: at version 2$/m);
        const after = await runCli(['db', 'status', '--config', config]);
        assert.equal(after.code, 0, after.stderr);
        assert.match(after.stdout, /^directory\t3\t3\tcurrent\nqueue\t3\t3\tcurrent\nmailbox\t2\t2\tcurrent$/m);

        // the directory commands now work on PostgreSQL
        const add = await runCli(['user', 'add', 'suzana@dc.uece.br', '--config', config]);
        assert.equal(add.code, 0, add.stderr);
        const list = await runCli(['user', 'list', '--config', config]);
        assert.match(list.stdout, /suzana@dc\.uece\.br/);
        assert.match(list.stdout, /postmaster@dc\.uece\.br/);
        // and so do the queue commands (an empty shared queue)
        const q = await runCli(['queue', 'list', '--json', '--config', config]);
        assert.equal(q.code, 0, q.stderr);
        assert.deepEqual(JSON.parse(q.stdout), []);
      })));

  void test('an unreachable server is one line and 69; a file: storage is 78', () =>
    withTempDir('correio-db-', async (dir) => {
      const down = await configFor(dir, 'postgres://someone:secret@127.0.0.1:1/nothing');
      const r = await runCli(['db', 'status', '--config', down]);
      assert.equal(r.code, 69, r.stderr);
      assert.match(r.stderr, /^correio: PostgreSQL at 127\.0\.0\.1:1\/nothing: .*check \[storage\] url/);
      assert.ok(!r.stderr.includes('secret'));
      assert.equal(r.stderr.trim().split('\n').length, 1);
      const fileCfg = join(dir, 'file.toml');
      await writeFile(fileCfg, 'data_dir = "var"\n');
      const f = await runCli(['db', 'migrate', '--config', fileCfg]);
      assert.equal(f.code, 78, f.stderr);
      assert.match(f.stderr, /storage\.url is "file:"/);
    }));
});
