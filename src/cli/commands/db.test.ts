import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { storageComponents } from '../../app/index.js';
import { runCli } from '../../../test/helpers/cli.js';
import { pgUnavailable, withTestDatabase } from '../../../test/helpers/pg.js';
import { withTempDir } from '../../../test/helpers/temp-dir.js';

const skip = await pgUnavailable();
// each component's newest version as this correio has it (a new migration changes no line here)
const [d, qv, m] = ['directory', 'queue', 'mailbox'].map((name) => Math.max(...storageComponents.find((c) => c.name === name)!.migrations.map((x) => x.version)));

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
          { component: 'directory', current: 0, latest: d },
          { component: 'queue', current: 0, latest: qv },
          { component: 'mailbox', current: 0, latest: m },
        ]);
        assert.match(before.stderr, /migrations pending; run correio db migrate/);
        assert.ok(!before.stderr.includes('postgres@'), 'no user/password in messages');

        const migrate = await runCli(['db', 'migrate', '--config', config]);
        assert.equal(migrate.code, 0, migrate.stderr);
        assert.ok(migrate.stdout.includes(`directory: 0 -> ${d}\nqueue: 0 -> ${qv}\nmailbox: 0 -> ${m}`), migrate.stdout);
        const again = await runCli(['db', 'migrate', '--config', config]);
        assert.ok(again.stdout.includes(`directory: at version ${d}\nqueue: at version ${qv}\nmailbox: at version ${m}`), again.stdout);
        const after = await runCli(['db', 'status', '--config', config]);
        assert.equal(after.code, 0, after.stderr);
        assert.ok(after.stdout.includes(`directory\t${d}\t${d}\tcurrent\nqueue\t${qv}\t${qv}\tcurrent\nmailbox\t${m}\t${m}\tcurrent`), after.stdout);

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
