/**
 * Issue 13: the shipped systemd unit (contrib/correio.service) parses, and carries the
 * hardening docs/install.md documents. With systemd-analyze on the machine the unit is also
 * verified by systemd itself (ExecStart pointed at this checkout, so the binary exists).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './helpers/paths.js';

const unitFile = join(projectRoot, 'contrib', 'correio.service');

/** systemd's unit syntax: [Section] headers, Key=Value lines, # and ; comments. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      assert.ok(!sections.has(header[1]), `line ${i + 1}: section [${header[1]}] twice`);
      current = new Map();
      sections.set(header[1], current);
      return;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    assert.ok(kv, `line ${i + 1}: not Key=Value: ${raw}`);
    assert.ok(current, `line ${i + 1}: a key before any [section]`);
    current.set(kv[1], [...(current.get(kv[1]) ?? []), kv[2]]);
  });
  return sections;
}

// the keys this unit may use, per section (systemd.unit(5), systemd.service(5), systemd.exec(5),
// systemd.kill(5), systemd.resource-control(5)): a typo is caught even without systemd
const known: Record<string, readonly string[]> = {
  Unit: ['Description', 'Documentation', 'After', 'Wants', 'Requires', 'Before'],
  Service: [
    'Type', 'User', 'Group', 'WorkingDirectory', 'Environment', 'ExecStart', 'ExecReload', 'PIDFile', 'KillSignal',
    'TimeoutStopSec', 'Restart', 'RestartSec', 'RestartPreventExitStatus', 'AmbientCapabilities', 'CapabilityBoundingSet',
    'NoNewPrivileges', 'ProtectSystem', 'ReadWritePaths', 'ProtectHome', 'PrivateTmp', 'PrivateDevices', 'ProtectKernelTunables',
    'ProtectKernelModules', 'ProtectKernelLogs', 'ProtectControlGroups', 'ProtectClock', 'ProtectHostname', 'RestrictAddressFamilies',
    'RestrictNamespaces', 'RestrictRealtime', 'RestrictSUIDSGID', 'LockPersonality', 'SystemCallArchitectures', 'UMask',
    'LimitNOFILE', 'StandardOutput', 'StandardError', 'SyslogIdentifier',
  ],
  Install: ['WantedBy'],
};

void test('contrib/correio.service parses and carries the documented hardening', async () => {
  const unit = parseUnit(await readFile(unitFile, 'utf8'));
  assert.deepEqual([...unit.keys()], ['Unit', 'Service', 'Install']);
  for (const [section, keys] of unit) {
    for (const k of keys.keys()) assert.ok(known[section].includes(k), `[${section}] ${k} is not a key this unit is known to use`);
  }
  const s = unit.get('Service')!;
  const one = (k: string): string => {
    const v = s.get(k);
    assert.equal(v?.length, 1, `[Service] ${k} exactly once`);
    return v[0];
  };
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('ReadWritePaths'), '/var/lib/correio');
  assert.match(one('ExecStart'), /\/bin\/correio\.js serve$/);
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('PIDFile'), '/var/lib/correio/serve.pid', 'the pid file serve keeps (instance-lock.ts)');
  assert.equal(one('RestartPreventExitStatus'), '64 77 78');
  assert.equal(unit.get('Install')!.get('WantedBy')?.[0], 'multi-user.target');
});

void test('systemd-analyze verify accepts the unit', async (t) => {
  const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return t.skip('systemd-analyze is not installed (Debian package systemd)');
  const dir = await mkdtemp(join(tmpdir(), 'correio-unit-'));
  try {
    // verify checks that ExecStart's program exists: point it at this node and this checkout
    const text = (await readFile(unitFile, 'utf8')).replace(
      /^ExecStart=.*$/m,
      `ExecStart=${process.execPath} ${join(projectRoot, 'bin', 'correio.js')} serve`,
    );
    const copy = join(dir, 'correio.service');
    await writeFile(copy, text);
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    // warnings about this unit itself (not about other units on the machine) fail the test
    const ours = r.stderr.split('\n').filter((l) => l.includes('correio.service'));
    assert.deepEqual(ours, []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
