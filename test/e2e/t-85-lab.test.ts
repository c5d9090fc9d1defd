/**
 * t-85 (issue 18): `correio lab` as a user runs it, unprivileged: `lab up` in a new folder on a
 * free port brings up the seed's two sites (127.0.0.2, 127.0.0.3) and the DNS server for their
 * MX records, `lab run all` plays every scenario (figure 5, role, forwarding, list, the
 * cross-site loop, unknown user, site down and retry) and checks each outcome, `lab down` stops
 * everything and removes the folder. Also: the CLI's one-line answers for a lab that is not
 * there, a scenario that does not exist, and a second `lab up` on a running lab.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';

const base = await mkdtemp(join(tmpdir(), 'correio-lab-test-'));
const dir = join(base, 'lab');

after(async () => {
  if (existsSync(join(dir, 'lab.json'))) await runCli(['lab', 'down', '--dir', dir]);
  await rm(base, { recursive: true, force: true });
});

/** Three free consecutive ports on both lab addresses (SMTP, POP3, IMAP). */
async function labPort(): Promise<number> {
  for (;;) {
    const p = await freePort('127.0.0.2');
    if (p > 65533) continue;
    const free = await Promise.all(
      ['127.0.0.2', '127.0.0.3'].flatMap((ip) => [p, p + 1, p + 2].map(async (q) => (await freePortIs(ip, q)))),
    );
    if (free.every(Boolean)) return p;
  }
}

async function freePortIs(ip: string, port: number): Promise<boolean> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, ip, () => s.close(() => resolve(true)));
  });
}

void test('lab up, every scenario as the seed says, lab down', async () => {
  const missing = await runCli(['lab', 'run', 'figure5', '--dir', dir]);
  assert.equal(missing.code, 69);
  assert.match(missing.stderr, /no lab is running in .*: start one with "correio lab up/);

  const up = await runCli(['lab', 'up', '--dir', dir, '--port', String(await labPort())], { timeoutMs: 120_000 });
  assert.equal(up.code, 0, up.stderr + up.stdout);
  assert.match(up.stdout, /dsc\.ufpb\.br +mx\.dsc\.ufpb\.br 127\.0\.0\.2/);
  assert.match(up.stdout, /role: +chefe-de-departamento@dc\.uece\.br -> pascal@dc\.uece\.br/);
  assert.match(up.stdout, /password is "correio"/);
  const state = JSON.parse(await readFile(join(dir, 'lab.json'), 'utf8')) as { sites: { pid: number }[]; dns: { pid: number } };
  assert.equal(state.sites.length, 2);

  const again = await runCli(['lab', 'up', '--dir', dir]);
  assert.equal(again.code, 75);
  assert.match(again.stderr, /a lab is already running in/);

  const unknown = await runCli(['lab', 'run', 'nada', '--dir', dir]);
  assert.equal(unknown.code, 64);
  assert.match(unknown.stderr, /no scenario "nada": one of figure5, role, forwarding, list, loop, unknown-user, site-down, or all/);

  const run = await runCli(['lab', 'run', 'all', '--dir', dir, '--timeout', '60s'], { timeoutMs: 600_000 });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  for (const name of ['figure5', 'role', 'forwarding', 'list', 'loop', 'unknown-user', 'site-down']) {
    assert.match(run.stdout, new RegExp(`^${name}: as the seed says$`, 'm'));
  }
  // figure 5 told as the seed prints it, and the paths read from the trace fields
  assert.match(run.stdout, /C: RCPT TO:<jacques@dc\.uece\.br>\n +S: 550 No such user here/);
  assert.match(run.stdout, /arrived for helvecio@dsc\.ufpb\.br: dc\.uece\.br -> mx\.dc\.uece\.br \(SMTP\) -> mx\.dsc\.ufpb\.br \(ESMTPS?\)/);
  assert.match(run.stdout, /the report says: smtp; 554 5\.4\.6 Mail loop detected/);
  assert.match(run.stdout, /dsc\.ufpb\.br deferred it: connect to 127\.0\.0\.3:\d+: ECONNREFUSED/);

  // site-down restarted dc.uece.br: lab.json has its new PID
  const last = JSON.parse(await readFile(join(dir, 'lab.json'), 'utf8')) as { sites: { pid: number }[] };
  const down = await runCli(['lab', 'down', '--dir', dir], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.equal(existsSync(dir), false);
  for (const pid of [...state.sites.map((s) => s.pid), ...last.sites.map((s) => s.pid), state.dns.pid]) assert.equal(existsSync(`/proc/${pid}/cmdline`) && (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(dir), false, `PID ${pid} is gone`);
});
