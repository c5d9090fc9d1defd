import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../test/helpers/cli.js';

void test('correio role set / list / delete, and resolve follows the role to its holder (spawned)', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'correio-role-'));
  try {
    await writeFile(join(cwd, 'correio.toml'), 'hostname = "mx.dc.uece.br"\nlocal_domains = ["dc.uece.br"]\n');
    assert.equal((await runCli(['user', 'add', 'suzana@dc.uece.br'], { cwd })).code, 0);
    assert.equal((await runCli(['user', 'add', 'pascal@dc.uece.br'], { cwd })).code, 0);

    let r = await runCli(['role', 'set', 'Chefe@DC.uece.br', 'suzana@dc.uece.br', '--description', 'head of department'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Chefe@dc.uece.br -> suzana@dc.uece.br\n');
    r = await runCli(['resolve', 'chefe@dc.uece.br'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /suzana@dc\.uece\.br/);

    // handed over: the description stays
    r = await runCli(['role', 'set', 'chefe@dc.uece.br', 'pascal@dc.uece.br'], { cwd });
    assert.equal(r.code, 0, r.stderr);
    r = await runCli(['role', 'list'], { cwd });
    assert.equal(r.stdout, 'chefe@dc.uece.br\tpascal@dc.uece.br\thead of department\n');
    r = await runCli(['role', 'list', '--json'], { cwd });
    assert.deepEqual(JSON.parse(r.stdout), [{ address: 'chefe@dc.uece.br', holder: 'pascal@dc.uece.br', description: 'head of department' }]);

    r = await runCli(['role', 'set', 'chefe@elsewhere.net', 'pascal@dc.uece.br'], { cwd });
    assert.deepEqual([r.code, r.stderr], [65, 'correio: elsewhere.net is not a local domain\n']);
    r = await runCli(['role', 'set', 'no-at-sign', 'pascal@dc.uece.br'], { cwd });
    assert.deepEqual([r.code, r.stderr], [65, 'correio: invalid role address "no-at-sign": expected local-part@domain\n']);

    // a holder is an address only: a pipe that parses as one is refused (as list members are)
    r = await runCli(['role', 'set', 'chefe@dc.uece.br', '|/usr/bin/touch@dc.uece.br'], { cwd });
    assert.deepEqual([r.code, r.stderr], [65, 'correio: invalid holder address "|/usr/bin/touch@dc.uece.br": a "|command" is not a role holder (holders are addresses)\n']);
    r = await runCli(['list', 'create', 'staff@dc.uece.br', '--owner', '/etc/passwd@dc.uece.br'], { cwd });
    assert.deepEqual([r.code, r.stderr], [65, 'correio: invalid owner address "/etc/passwd@dc.uece.br": a file is not a list owner (owners are addresses)\n']);

    r = await runCli(['role', 'delete', 'CHEFE@dc.uece.br'], { cwd });
    assert.deepEqual([r.code, r.stdout], [0, 'deleted CHEFE@dc.uece.br\n']);
    r = await runCli(['role', 'delete', 'chefe@dc.uece.br'], { cwd });
    assert.deepEqual([r.code, r.stderr], [67, 'correio: no such role: chefe@dc.uece.br\n']);
    assert.equal((await runCli(['role', 'list'], { cwd })).stdout, '');
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});
