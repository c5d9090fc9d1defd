/**
 * @module dnssec-lab
 * A really signed DNS world on loopback for DANE tests: zones signed with ldnsutils
 * (`ldns-keygen`, `ldns-signzone`), served by NSD (authoritative), and a validating `unbound`
 * in front of it with the signed zones' KSKs as trust anchors, so the AD bit correio sees comes
 * from real DNSSEC validation and tampered records come back as SERVFAIL.
 * Standards: RFC 4033-4035 (DNSSEC), RFC 6761 §6.2 (`.test`; unbound's built-in local zone for
 *   it is switched off with `local-zone: "test." nodefault`).
 * Security: test only; both servers bind one 127.0.0.x address; files in a mkdtemp directory.
 * Limitations: needs Debian's nsd, unbound and ldnsutils (`missingTools()` names what is
 *   absent so a test can skip with a message); no root anchor: names outside the signed zones
 *   are insecure.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecureDns } from '../../src/dns/index.js';
import { freePort } from './net.js';

export interface LabZone {
  /** e.g. "sec.test" */
  readonly name: string;
  /** records in zone-file syntax, relative to the zone's origin (SOA and NS are added) */
  readonly records: string;
  /** sign it and trust its key (default true) */
  readonly signed?: boolean;
  /** edits the signed zone file's text before NSD loads it (to break a signature) */
  readonly tamper?: (signedText: string) => string;
}

export interface DnssecLab {
  /** the validating resolver, "127.0.0.x:port" (for delivery.dns_servers) */
  readonly resolver: string;
  close(): Promise<void>;
}

const TOOLS = ['/usr/sbin/nsd', '/usr/sbin/unbound', '/usr/bin/ldns-keygen', '/usr/bin/ldns-signzone'];

/** The tools that are not installed (empty when the lab can run). */
export async function missingTools(): Promise<string[]> {
  const { access } = await import('node:fs/promises');
  const missing: string[] = [];
  for (const t of TOOLS) await access(t).catch(() => missing.push(t));
  return missing;
}

function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd }, (err, out, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(out.trim()))),
  );
}

/** Starts NSD and unbound on `host` with `zones`; waits until unbound answers for the first zone. */
export async function startDnssecLab(zones: readonly LabZone[], host = '127.0.0.31'): Promise<DnssecLab> {
  const dir = await mkdtemp(join(tmpdir(), 'correio-dnssec-'));
  const children: ChildProcess[] = [];
  const close = async (): Promise<void> => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : Promise.resolve())));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const anchors: string[] = [];
    const nsdZones: string[] = [];
    for (const z of zones) {
      const text = `$ORIGIN ${z.name}.\n$TTL 300\n@ IN SOA ns.${z.name}. hostmaster.${z.name}. 1 3600 600 86400 300\n@ IN NS ns.${z.name}.\nns IN A ${host}\n${z.records}\n`;
      const file = `${z.name}.zone`;
      await writeFile(join(dir, file), text);
      let served = file;
      if (z.signed !== false) {
        // a KSK (its DS is the trust anchor) and a ZSK, ECDSA P-256 (RFC 6605)
        const ksk = await run('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', z.name], dir);
        const zsk = await run('ldns-keygen', ['-a', 'ECDSAP256SHA256', z.name], dir);
        await run('ldns-signzone', [file, ksk, zsk], dir);
        served = `${file}.signed`;
        if (z.tamper) await writeFile(join(dir, served), z.tamper(await readFile(join(dir, served), 'utf8')));
        anchors.push(join(dir, `${ksk}.ds`));
      }
      nsdZones.push(`zone:\n  name: "${z.name}"\n  zonefile: "${served}"\n`);
    }
    const nsdPort = await freePort(host);
    const resolverPort = await freePort(host);
    await writeFile(
      join(dir, 'nsd.conf'),
      `server:\n  ip-address: ${host}@${nsdPort}\n  username: ""\n  chroot: ""\n  zonesdir: "${dir}"\n  database: ""\n  zonelistfile: "${dir}/zone.list"\n  xfrdfile: "${dir}/xfrd.state"\n  xfrdir: "${dir}"\n  pidfile: "${dir}/nsd.pid"\n  server-count: 1\n  reuseport: no\nremote-control:\n  control-enable: no\n${nsdZones.join('')}`,
    );
    await writeFile(
      join(dir, 'unbound.conf'),
      [
        'server:',
        `  interface: ${host}@${resolverPort}`,
        `  port: ${resolverPort}`,
        '  do-daemonize: no',
        '  username: ""',
        '  chroot: ""',
        `  directory: "${dir}"`,
        `  pidfile: "${dir}/unbound.pid"`,
        '  use-syslog: no',
        '  logfile: ""',
        '  num-threads: 1',
        '  so-reuseport: no',
        '  do-ip6: no',
        '  access-control: 127.0.0.0/8 allow',
        '  do-not-query-localhost: no',
        '  qname-minimisation: no',
        '  module-config: "validator iterator"',
        // RFC 6761: unbound answers .test itself unless told not to
        '  local-zone: "test." nodefault',
        ...anchors.map((a) => `  trust-anchor-file: "${a}"`),
        ...zones.map((z) => `stub-zone:\n  name: "${z.name}"\n  stub-addr: ${host}@${nsdPort}`),
        '',
      ].join('\n'),
    );
    for (const [cmd, args] of [
      ['/usr/sbin/nsd', ['-d', '-c', join(dir, 'nsd.conf')]],
      ['/usr/sbin/unbound', ['-d', '-c', join(dir, 'unbound.conf')]],
    ] as const) {
      const c = spawn(cmd, [...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      c.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
      c.once('exit', (code) => {
        if (code && code !== 0) process.stderr.write(`dnssec-lab: ${cmd} exited ${code}: ${stderr}\n`);
      });
      children.push(c);
    }
    const resolver = `${host}:${resolverPort}`;
    const probe = new SecureDns({ servers: [resolver], timeoutMs: 500 });
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await probe.query(zones[0].name, 'SOA');
      if (r.kind === 'found') break;
      if (Date.now() > deadline) throw new Error(`unbound at ${resolver} does not answer for ${zones[0].name}: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 100));
    }
    return { resolver, close };
  } catch (err) {
    await close();
    throw err;
  }
}
