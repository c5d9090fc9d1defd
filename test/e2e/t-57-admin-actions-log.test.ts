/**
 * Issue 13: every operator action is logged with who did it and what changed. The CLI changes
 * the directory without the server, so its changes (users, aliases, lists, roles) and its queue
 * commands with the server stopped go to `data_dir/admin.log`, one JSON line each in the log's
 * schema, `by` the operator ($SUDO_USER), `via` "cli". Through a running `correio serve`, the
 * admin API's changes and queue actions are lines of serve's own log and of admin.log, `by` the
 * caller's login and `token` the id of the API token it used. No record carries a password or
 * its hash. Real CLI processes, a real serve process, real HTTP.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliCommand, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { waitFor } from '../helpers/site.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'correio-admin-log-'));
});
after(() => rm(dir, { recursive: true, force: true }));

type Line = Record<string, unknown>;

async function adminLog(dataDir: string): Promise<Line[]> {
  return (await readFile(join(dataDir, 'admin.log'), 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);
}

/** The fields of a line that tell the action (time and hostname aside). */
function fields(l: Line): Line {
  const { time, level, hostname, msg, ...rest } = l;
  assert.equal(typeof time, 'number');
  assert.deepEqual([level, hostname, msg], [30, 'mx.a.example', 'admin']);
  return rest;
}

test('CLI: directory changes and an offline queue command in data_dir/admin.log, with the operator and what changed', async () => {
  await writeFile(join(dir, 'cli.toml'), `hostname = "mx.a.example"\ndata_dir = "cli-data"\nlocal_domains = ["a.example"]\n[smtp]\nlisten = []\n[imap]\nlisten = []\n[http]\nlisten = []\n[metrics]\nlisten = []\n[delivery.routes]\n"far.example" = "smtp:[127.0.0.1]:9"\n`);
  const env = { SUDO_USER: 'night-operator' };
  const cli = async (args: string[], stdin?: string): Promise<void> => {
    const r = await runCli([...args, '--config', join(dir, 'cli.toml')], { env, ...(stdin !== undefined && { stdin }) });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  };
  await cli(['user', 'add', 'ana@a.example', '--password-stdin'], 'first-Secret\n');
  await cli(['user', 'add', 'bea@a.example']);
  await cli(['alias', 'set', 'info@a.example', 'ana@a.example']);
  await cli(['alias', 'set', 'info@a.example', 'bea@a.example', 'ana@a.example']);
  await cli(['user', 'passwd', 'ana@a.example'], 'second-Secret\n');
  await cli(['list', 'create', 'team@a.example', '--owner', 'ana@a.example']);
  await cli(['list', 'add', 'team@a.example', 'bea@a.example']);
  await cli(['role', 'set', 'hostmaster@a.example', 'bea@a.example']);
  await cli(['alias', 'delete', 'info@a.example']);
  // deleting what is not there changes nothing and records nothing
  assert.notEqual((await runCli(['user', 'delete', 'ghost@a.example', '--config', join(dir, 'cli.toml')], { env })).code, 0);
  await cli(['user', 'delete', 'bea@a.example']);
  const made = await runCli(['token', 'create', 'ana@a.example', '--scope', 'jmap', '--label', 'phone', '--config', join(dir, 'cli.toml')], { env });
  assert.equal(made.code, 0, made.stderr);
  const tokenId = /^correio_([0-9a-f]{12})_/.exec(made.stdout)?.[1] ?? '';
  await cli(['token', 'revoke', tokenId]);
  // a queue command with no server running
  const sm = await runCli(['sendmail', '-v', '--config', join(dir, 'cli.toml'), 'x@far.example'], { stdin: 'Subject: held\n\nheld\n' });
  assert.equal(sm.code, 0, sm.stderr);
  const id = /queued as (\S+)/.exec(sm.stderr)?.[1] ?? '';
  await cli(['queue', 'hold', id]);

  const dataDir = join(dir, 'cli-data');
  const text = await readFile(join(dataDir, 'admin.log'), 'utf8');
  assert.doesNotMatch(text, /Secret|scrypt|\$7\$/, 'no password or hash in the record');
  assert.ok(!text.includes(made.stdout.trim()), 'no token secret in the record');
  assert.equal((await stat(join(dataDir, 'admin.log'))).mode & 0o777, 0o600);
  const who = { by: 'night-operator', via: 'cli' };
  assert.deepEqual((await adminLog(dataDir)).map(fields), [
    { action: 'user add', address: 'ana@a.example', password: 'set', ...who },
    { action: 'user add', address: 'bea@a.example', password: 'none', ...who },
    { action: 'alias set', name: 'info@a.example', targets: ['ana@a.example'], ...who },
    { action: 'alias set', name: 'info@a.example', targets: ['bea@a.example', 'ana@a.example'], was: ['ana@a.example'], ...who },
    { action: 'user password', address: 'ana@a.example', ...who },
    { action: 'list create', address: 'team@a.example', owner: 'ana@a.example', ...who },
    { action: 'list add', address: 'team@a.example', members: ['bea@a.example'], ...who },
    { action: 'role set', address: 'hostmaster@a.example', holder: 'bea@a.example', ...who },
    { action: 'alias delete', name: 'info@a.example', was: ['bea@a.example', 'ana@a.example'], ...who },
    { action: 'user delete', address: 'bea@a.example', ...who },
    { action: 'token create', id: tokenId, owner: 'ana@a.example', scopes: ['jmap'], label: 'phone', ...who },
    { action: 'token revoke', id: tokenId, ...who },
    { action: 'hold', id, messageId: id, count: 1, ...who, server: false },
  ]);
});

test('admin API through serve: changes and queue actions in serve\'s log and admin.log, by the login and its token', async () => {
  const smtp = await freePort();
  const http = await freePort();
  const config = join(dir, 'api.toml');
  await writeFile(
    config,
    `hostname = "mx.a.example"\ndata_dir = "api-data"\nlocal_domains = ["a.example"]\n[smtp]\nlisten = ["127.0.0.1:${smtp}"]\n[imap]\nlisten = []\n` +
      `[http]\nlisten = ["127.0.0.1:${http}"]\nadmins = ["boss@a.example"]\n[metrics]\nlisten = []\n[log]\nformat = "json"\n` +
      `[delivery]\nretry_min = "1h"\n[delivery.routes]\n"far.example" = "smtp:[127.0.0.1]:9"\n`,
  );
  assert.equal((await runCli(['user', 'add', 'boss@a.example', '--password-stdin', '--config', config], { stdin: 'boss-pass\n' })).code, 0);
  const made = await runCli(['token', 'create', 'boss@a.example', '--scope', 'admin', '--config', config]);
  assert.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim();
  const tokenId = /^correio_([0-9a-f]{12})_/.exec(token)?.[1];
  assert.ok(tokenId, token);
  const child = spawn(process.execPath, [...cliCommand(), 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CORREIO_CONFIG: undefined } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  try {
    await waitFor('serve started', () => out.includes('"msg":"correio started"'), 30_000);
    const api = async (method: string, path: string, auth: string, body?: unknown): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${http}/api/admin/v1${path}`, {
        method,
        headers: { authorization: auth, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      await res.arrayBuffer();
      return res.status;
    };
    const bearer = `Bearer ${token}`;
    assert.equal(await api('POST', '/users', bearer, { address: 'cid@a.example', password: 'api-Secret' }), 201);
    assert.equal(await api('PUT', `/aliases/${encodeURIComponent('sales@a.example')}`, `Basic ${Buffer.from('boss@a.example:boss-pass').toString('base64')}`, { targets: ['cid@a.example'] }), 200);
    const sm = await runCli(['sendmail', '-v', '--config', config, 'x@far.example'], { stdin: 'Subject: q\n\nq\n' });
    const id = /queued as (\S+)/.exec(sm.stderr)?.[1] ?? '';
    assert.ok(id, sm.stderr);
    assert.equal(await api('POST', '/queue/actions', bearer, { action: 'hold', ids: [id] }), 200);

    const expected: Line[] = [
      { action: 'user add', address: 'cid@a.example', password: 'set', by: 'boss@a.example', via: 'api', token: tokenId },
      { action: 'alias set', name: 'sales@a.example', targets: ['cid@a.example'], by: 'boss@a.example', via: 'api' },
      { action: 'hold', id, messageId: id, count: 1, by: 'boss@a.example', via: 'api', token: tokenId },
    ];
    await waitFor('three admin lines in serve\'s log', () => (out.match(/"msg":"admin"/g) ?? []).length === 3, 10_000);
    const served = out.split('\n').filter((l) => l.includes('"msg":"admin"')).map((l) => JSON.parse(l) as Line);
    assert.deepEqual(served.map(fields), expected);
    // the same lines in admin.log, after the CLI's before the start (the user and its token)
    const kept = (await adminLog(join(dir, 'api-data'))).map(fields);
    assert.deepEqual(kept.slice(2), expected);
    assert.deepEqual(kept[0], { action: 'user add', address: 'boss@a.example', password: 'set', by: kept[0].by, via: 'cli' });
    assert.deepEqual(kept[1], { action: 'token create', id: tokenId, owner: 'boss@a.example', scopes: ['admin'], by: kept[0].by, via: 'cli' });
    assert.doesNotMatch(out + (await readFile(join(dir, 'api-data', 'admin.log'), 'utf8')), /api-Secret|boss-pass|scrypt/);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});
