import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../test/helpers/cli.js';
import { projectRoot } from '../../test/helpers/paths.js';
import { wantsHelp } from './faces.js';

const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** Runs one of the installed faces (bin/sendmail.js …) as a user would. */
function face(name: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', `${name}.js`), ...args], {
    cwd: projectRoot,
    input: '',
    encoding: 'utf8',
    env: { ...process.env, CORREIO_CONFIG: '/nonexistent/correio.toml' },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

void test('correio --version and -V print "correio X.Y.Z" from package.json', async () => {
  for (const flag of ['--version', '-V']) {
    const r = await runCli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `correio ${version}\n`);
    assert.equal(r.stderr, '');
  }
});

void test('sendmail --help and a lone -h print its usage and exit 0, reading no config', async () => {
  // the config named does not exist: help must not need one
  for (const args of [['--help'], ['-h'], ['-t', '--help']]) {
    const r = face('sendmail', args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: sendmail \[flags\] \[recipient\.\.\.\] < message\n/);
    assert.match(r.stdout, /-bs +speak SMTP/);
    assert.equal(r.stderr, '');
  }
  const viaCorreio = await runCli(['sendmail', '--help']);
  assert.equal(viaCorreio.code, 0, viaCorreio.stderr);
  assert.match(viaCorreio.stdout, /^Usage: sendmail /);
});

void test('mailq and newaliases -h/--help print their own usage', () => {
  for (const [name, first] of [
    ['mailq', 'Usage: mailq [--json] [--limit N] [--since ID|TIME] [--config FILE]'],
    ['newaliases', 'Usage: newaliases [--config FILE]'],
  ]) {
    for (const flag of ['-h', '--help']) {
      const r = face(name, [flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.split('\n')[0], first);
    }
  }
});

void test('a sendmail -h with a hop count, or after "--", is not help', () => {
  assert.equal(wantsHelp('sendmail', ['-h', '5', 'a@b']), false);
  assert.equal(wantsHelp('sendmail', ['--', '--help']), false);
  assert.equal(wantsHelp('sendmail', ['-h']), true);
  assert.equal(wantsHelp('mailq', ['--json', '-h']), true);
  const r = face('sendmail', ['-bz']);
  assert.equal(r.code, 64);
  assert.equal(r.stderr, 'correio: sendmail: unsupported mode -bz\n');
});
