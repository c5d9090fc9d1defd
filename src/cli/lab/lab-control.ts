/**
 * @module lab-control
 * `correio lab up` and `lab down`: build the seed's world in a folder (a correio.toml, data
 * directory and directory entries per site, the DNS zone), start its processes and print how
 * to use it; stop them and remove the folder.
 * Standards: see lab-world.ts.
 * Security: unprivileged: loopback addresses and high ports only. `down` removes only a folder
 *   holding a lab.json, and signals only processes started for it (lab-processes.ts).
 * Limitations: one lab per folder; sites share one port on different loopback addresses.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseConfig } from '../../config/index.js';
import { openDirectory, hashPassword } from '../../directory/index.js';
import { labPassword, labPorts, labZone, seedWorld, siteConfig, type LabSite } from './lab-world.js';
import { logTail, readState, running, spawnCorreio, stateFile, stopProcess, waitForGreeting, writeState, type LabSiteState, type LabState } from './lab-processes.js';

/** A lab problem for the user: one line, a sysexits status. */
export class LabError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const EX_USAGE = 64;
const EX_UNAVAILABLE = 69;
const EX_TEMPFAIL = 75;

/** Writes a site's folder: correio.toml, and its users, aliases, lists and roles. */
async function buildSite(site: LabSite, dir: string, text: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'correio.toml');
  await writeFile(file, text);
  const config = parseConfig(text, { file, baseDir: dir, absoluteFile: file });
  const directory = await openDirectory(config);
  try {
    const hash = await hashPassword(labPassword);
    for (const u of site.users) await directory.addUser(u, hash);
    for (const [name, targets] of Object.entries(site.aliases)) await directory.setAlias(name, targets);
    for (const l of site.lists) {
      await directory.createList(l.address, l.owner);
      await directory.addListMembers(l.address, l.members);
    }
    for (const [role, holder] of Object.entries(site.roles)) await directory.setRole(role, holder);
  } finally {
    await directory.close();
  }
  return file;
}

/** Starts the DNS server and waits for the port it bound (written to dns.port). */
async function startDns(dir: string): Promise<{ pid: number; server: string }> {
  const portFile = join(dir, 'dns.port');
  const pid = spawnCorreio(['lab', 'dns', '--zone', join(dir, 'zone.json'), '--port-file', portFile], join(dir, 'dns.log'), dir);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (existsSync(portFile)) {
      const port = Number((await readFile(portFile, 'utf8')).trim());
      if (port > 0) return { pid, server: `127.0.0.1:${port}` };
    }
    if (!running(pid, dir)) throw new LabError(`the lab's DNS server did not start: ${logTail(join(dir, 'dns.log'))}`, EX_UNAVAILABLE);
    if (Date.now() > deadline) throw new LabError('the lab\'s DNS server did not start within 20 s', EX_UNAVAILABLE);
    await delay(50);
  }
}

/** Starts a site's `correio serve` and waits for its SMTP greeting. */
export async function startSite(state: LabState, site: LabSiteState): Promise<void> {
  site.pid = spawnCorreio(['serve', '--config', site.config], join(site.dir, 'serve.log'), site.dir);
  try {
    await waitForGreeting(site.ip, state.ports.smtp, site.pid, site.config);
  } catch (err) {
    throw new LabError(`${site.domain} did not start (${(err as Error).message}): ${logTail(join(site.dir, 'serve.log'))}`, EX_UNAVAILABLE);
  }
}

/** `lab up`: the folder must be new or empty; returns the running lab. */
export async function labUp(dirArg: string, basePort: number): Promise<LabState> {
  const dir = resolve(dirArg);
  const old = await readState(dir);
  if (old && (old.sites.some((s) => running(s.pid, s.config)) || running(old.dns.pid, dir))) {
    throw new LabError(`a lab is already running in ${dir}: use it, or stop it with "correio lab down --dir ${dir}"`, EX_TEMPFAIL);
  }
  if (old) await rm(dir, { recursive: true, force: true });
  if (existsSync(dir) && (await readdir(dir)).length > 0) {
    throw new LabError(`${dir} exists and is not empty: name a new folder with --dir (the lab writes its sites there)`, EX_USAGE);
  }
  await mkdir(dir, { recursive: true });
  const ports = labPorts(basePort);
  await writeFile(join(dir, 'zone.json'), JSON.stringify(labZone(seedWorld), null, 2) + '\n');
  const dns = await startDns(dir);
  const state: LabState = { dir, ports, dns, sites: [] };
  try {
    for (const site of seedWorld) {
      const siteDir = join(dir, site.domain);
      const config = await buildSite(site, siteDir, siteConfig(site, ports, dns.server));
      const s: LabSiteState = { domain: site.domain, ip: site.ip, dir: siteDir, config, pid: 0 };
      state.sites.push(s);
      await writeState(state);
      await startSite(state, s);
    }
    await writeState(state);
    return state;
  } catch (err) {
    await stopAll(state);
    throw err;
  }
}

async function stopAll(state: LabState): Promise<void> {
  for (const s of state.sites) await stopProcess(s.pid, s.config);
  await stopProcess(state.dns.pid, state.dir);
}

/** `lab down`: stops every process of the lab and removes its folder. */
export async function labDown(dirArg: string): Promise<string> {
  const dir = resolve(dirArg);
  const state = await readState(dir);
  if (!state) {
    if (!existsSync(stateFile(dir))) throw new LabError(`no lab in ${dir} (no lab.json there): name the lab's folder with --dir`, EX_USAGE);
    throw new LabError(`${stateFile(dir)} cannot be read: stop its processes by hand and remove ${dir}`, EX_UNAVAILABLE);
  }
  await stopAll(state);
  await rm(dir, { recursive: true, force: true });
  return dir;
}

/** What `lab up` prints: the sites, the people, how to send and how to read. */
export function describeLab(state: LabState): string[] {
  const { smtp, pop3, imap } = state.ports;
  const out = [`correio lab is up in ${state.dir} (DNS ${state.dns.server}: the sites' MX records)`, ''];
  for (const s of state.sites) {
    const site = seedWorld.find((w) => w.domain === s.domain);
    out.push(`  ${s.domain.padEnd(12)} mx.${s.domain} ${s.ip}  SMTP ${smtp}  POP3 ${pop3}  IMAP ${imap}  (PID ${s.pid}, log ${join(s.dir, 'serve.log')})`);
    if (site) {
      out.push(`    users:   ${site.users.join(', ')}`);
      for (const [a, t] of Object.entries(site.aliases)) out.push(`    alias:   ${a} -> ${t.join(', ')}`);
      for (const l of site.lists) out.push(`    list:    ${l.address}: ${l.members.join(', ')}`);
      for (const [r, h] of Object.entries(site.roles)) out.push(`    role:    ${r} -> ${h}`);
    }
  }
  const [s1, s2] = state.sites;
  out.push(
    '',
    `Every user's password is "${labPassword}".`,
    'Send (any loopback client may relay, as on one machine):',
    `  swaks --server ${s1.ip}:${smtp} --from helvecio@dsc.ufpb.br --to suzana@dc.uece.br`,
    `  echo "Subject: oi" | correio sendmail --config ${s1.config} -f helvecio@dsc.ufpb.br suzana@dc.uece.br`,
    'Read:',
    `  curl -s --url "imap://${s2.ip}:${imap}/INBOX" --user suzana@dc.uece.br:${labPassword} -X "FETCH 1:* (ENVELOPE)"`,
    `  ls ${join(s2.dir, 'var', 'mail', 'dc.uece.br', 'suzana', 'new')}`,
    `  correio queue list --config ${s1.config}   ·   correio trace ID --config ${s1.config}`,
    `Run the seed's examples: correio lab run all --dir ${state.dir}   (the list: correio lab run --list)`,
    `Stop it and remove ${state.dir}: correio lab down --dir ${state.dir}`,
  );
  return out;
}
