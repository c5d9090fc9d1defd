import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../test/helpers/cli.js';
import { MemoryDirectory } from '../../../test/helpers/memory-directory.js';
import { loadConfig } from '../../config/index.js';
import { checkAliases } from '../../app/index.js';

const CONFIG = 'hostname = "mx.dc.uece.br"\nlocal_domains = ["dc.uece.br", "example.org"]\naliases_file = "aliases"\n';

async function withSite(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-cli-alias-'));
  try {
    await writeFile(join(dir, 'correio.toml'), CONFIG);
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

void describe('correio alias / list / resolve / newaliases (spawned)', { concurrency: 2 }, () => {
  void test('newaliases and alias set/list/delete; resolve follows them', () =>
    withSite(async (cwd) => {
      await writeFile(join(cwd, 'aliases'), 'root: suzana@dc.uece.br\nstaff: suzana, carla@remote.example\nbroken line\n');
      let r = await runCli(['newaliases'], { cwd });
      assert.equal(r.code, 65);
      assert.equal(
        r.stderr,
        `correio: ${join(cwd, 'aliases')}:3: missing ":" after the alias name\ncorreio: ${join(cwd, 'aliases')}: 1 bad line skipped, 4 aliases imported\n`,
      );

      r = await runCli(['alias', 'set', 'team@dc.uece.br', 'staff', 'dora@Remote.Example', '|/usr/bin/robot -v'], { cwd });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'team@dc.uece.br: staff, dora@remote.example, "|/usr/bin/robot -v"\n');
      r = await runCli(['alias', 'set', 'x@dc.uece.br', 'error:2.0.0 fine'], { cwd });
      assert.equal(r.code, 65);
      assert.match(r.stderr, /^correio: invalid target "error:2.0.0 fine": error: needs a 4.x.x or 5.x.x status code, got "2.0.0"\n$/);

      r = await runCli(['alias', 'list', '--json'], { cwd });
      const all = JSON.parse(r.stdout) as { name: string; targets: string[]; source: string }[];
      assert.deepEqual(all.map((a) => a.name), ['root@dc.uece.br', 'root@example.org', 'staff@dc.uece.br', 'staff@example.org', 'team@dc.uece.br']);
      assert.equal(all[0].source, join(cwd, 'aliases'));
      assert.equal(all[4].source, 'directory');

      r = await runCli(['user', 'add', 'suzana@dc.uece.br'], { cwd });
      assert.equal(r.code, 0, r.stderr);
      r = await runCli(['resolve', 'team@dc.uece.br'], { cwd });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        [
          'team@dc.uece.br  alias (directory)',
          `  staff@dc.uece.br  alias (${join(cwd, 'aliases')})`,
          '    suzana@dc.uece.br  mailbox -> local:suzana@dc.uece.br',
          '    carla@remote.example  remote -> smtp:remote.example',
          '  dora@remote.example  remote -> smtp:remote.example',
          '  |/usr/bin/robot -v  pipe -> pipe:["/usr/bin/robot","-v"]',
          '',
        ].join('\n'),
      );

      r = await runCli(['alias', 'delete', 'staff'], { cwd });
      assert.equal(r.stdout, 'deleted staff@dc.uece.br\ndeleted staff@example.org\n');
      r = await runCli(['alias', 'delete', 'team@dc.uece.br'], { cwd });
      assert.equal(r.stdout, 'deleted team@dc.uece.br\n');
      r = await runCli(['resolve', 'team@dc.uece.br', '--json'], { cwd });
      assert.equal(r.code, 67);
      assert.equal(r.stderr, 'correio: team@dc.uece.br: 550 5.1.1 No such user here\n');
      const json = JSON.parse(r.stdout) as { targets: { kind: string; reply: string }[] }[];
      assert.deepEqual(json[0].targets, [{ kind: 'error', via: [], reply: '550 5.1.1 No such user here' }]);
      r = await runCli(['alias', 'delete', 'team@dc.uece.br'], { cwd });
      assert.equal(r.code, 67);
    }));

  void test('list create/add/remove/show and resolve of a list', () =>
    withSite(async (cwd) => {
      await writeFile(join(cwd, 'aliases'), '');
      let r = await runCli(['list', 'create', 'lista@dc.uece.br', '--owner', 'suzana@dc.uece.br', '--description', 'Lista do DC'], { cwd });
      assert.equal(r.code, 0, r.stderr);
      r = await runCli(['list', 'add', 'lista@dc.uece.br', 'postmaster@dc.uece.br', 'carla@remote.example', 'lista@dc.uece.br'], { cwd });
      assert.equal(r.code, 0, r.stderr);
      r = await runCli(['list', 'remove', 'lista@dc.uece.br', 'carla@remote.example', 'nobody@x.example'], { cwd });
      assert.equal(r.code, 67);
      assert.equal(r.stderr, 'correio: lista@dc.uece.br: not members: nobody@x.example\n');
      r = await runCli(['list', 'show', 'lista@dc.uece.br', '--json'], { cwd });
      assert.deepEqual(JSON.parse(r.stdout), [
        {
          address: 'lista@dc.uece.br',
          owner: 'suzana@dc.uece.br',
          description: 'Lista do DC',
          sender: 'lista-owner@dc.uece.br',
          listId: '<lista.dc.uece.br>',
          members: ['postmaster@dc.uece.br', 'lista@dc.uece.br'],
        },
      ]);
      r = await runCli(['resolve', 'lista@dc.uece.br'], { cwd });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^lista@dc.uece.br {2}list -> list:lista@dc.uece.br /);
      assert.match(r.stdout, /^ {2}postmaster@dc.uece.br {2}mailbox -> local:postmaster@dc.uece.br$/m);
      assert.match(r.stdout, /^ {2}lista@dc.uece.br {2}duplicate \[the list itself: skipped \(no loop\)\]$/m);
      // issue 12 item 10: a pipe (or any alias-target form) is no list member, even when it parses as an address
      r = await runCli(['list', 'add', 'lista@dc.uece.br', '|/usr/bin/touch@dc.uece.br'], { cwd });
      assert.equal(r.code, 65);
      assert.equal(r.stderr, 'correio: invalid member address "|/usr/bin/touch@dc.uece.br": a "|command" is not a list member (members are addresses)\n');
      r = await runCli(['list', 'add', 'lista@dc.uece.br', 'ana'], { cwd });
      assert.equal(r.code, 65);
      assert.match(r.stderr, /invalid member address "ana": expected a full address/);
      r = await runCli(['list', 'show', 'lista@dc.uece.br', '--json'], { cwd });
      assert.deepEqual((JSON.parse(r.stdout) as { members: string[] }[])[0].members, ['postmaster@dc.uece.br', 'lista@dc.uece.br']);
      r = await runCli(['list', 'create', 'x@elsewhere.example', '--owner', 'suzana@dc.uece.br'], { cwd });
      assert.equal(r.code, 65);
      assert.equal(r.stderr, 'correio: elsewhere.example is not a local domain\n');
      r = await runCli(['list', 'show', 'nolist@dc.uece.br'], { cwd });
      assert.equal(r.stderr, 'correio: no such list: nolist@dc.uece.br\n');
    }));
});

void test('checkAliases: cycles without a mailbox are errors, dangling targets warnings', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'correio-check-'));
  try {
    await writeFile(join(dir, 'correio.toml'), CONFIG);
    await writeFile(join(dir, 'aliases'), 'nowhere: ghost\n');
    const config = loadConfig({ path: join(dir, 'correio.toml'), env: {}, cwd: dir });
    const directory = new MemoryDirectory({ domains: ['dc.uece.br'], users: ['bob@dc.uece.br'] });
    await directory.setAlias('a@dc.uece.br', ['b']);
    await directory.setAlias('b@dc.uece.br', ['a']);
    await directory.setAlias('bob@dc.uece.br', ['bob', 'x@remote.example']);
    const findings = await checkAliases({ config, directory });
    assert.deepEqual(findings, [
      { level: 'error', message: 'alias cycle a@dc.uece.br -> b@dc.uece.br -> a@dc.uece.br: mail to it is refused (5.4.6 mail loop)' },
      // the aliases file is read as the server reads it: bare names qualified for each local domain
      { level: 'warning', message: 'nowhere@dc.uece.br: target ghost leads nowhere (no such user or alias: ghost@dc.uece.br)' },
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
