/**
 * @module postfix-conf
 * A throwaway Postfix instance's configuration, shared by the tests that talk to a real Postfix
 * (t-87) and the bench's Postfix peer (bench/peers.ts): its own config, queue and data
 * directories under a temp dir (`postfix -c DIR`), main.cf lines for a loopback-only instance,
 * and Debian's master.cf with the public smtp service replaced by 127.0.0.1:<port>.
 * Standards: postconf(5), master(5).
 * Security: listens on 127.0.0.1 only, never port 25; mynetworks is 127.0.0.0/8; the caller
 *   stops the instance (`postfix -c DIR stop`).
 * Limitations: needs root (the master runs as root and drops to `postfix`) and Debian's postfix
 *   package (/usr/lib/postfix, /etc/postfix/master.cf).
 */
import { spawnSync } from 'node:child_process';
import { chownSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PostfixDirs {
  /** the config directory (main.cf, master.cf): `postfix -c conf` */
  readonly conf: string;
  readonly queueDir: string;
  readonly dataDir: string;
  /** where the log goes (work/postfix.log) */
  readonly work: string;
}

/** Makes work/pf-etc, pf-queue, pf-data (the last owned by the postfix user). */
export async function postfixDirs(work: string): Promise<PostfixDirs> {
  const d = { conf: join(work, 'pf-etc'), queueDir: join(work, 'pf-queue'), dataDir: join(work, 'pf-data'), work };
  for (const dir of [d.conf, d.queueDir, d.dataDir]) await mkdir(dir, { recursive: true });
  chownSync(d.dataDir, Number(spawnSync('id', ['-u', 'postfix'], { encoding: 'utf8' }).stdout.trim()), 0);
  return d;
}

export interface PostfixMain {
  readonly hostname: string;
  readonly domain: string;
  readonly mydestination: string;
  /** no DNS for delivery and no reverse lookup of clients (false: Debian's defaults for clients) */
  readonly noLookups: boolean;
}

/** main.cf: the instance's paths, names and loopback listener, then `extra` lines. */
export function postfixMainCf(d: PostfixDirs, o: PostfixMain, extra: readonly string[]): string {
  return [
    'compatibility_level = 3.6',
    `queue_directory = ${d.queueDir}`,
    `data_directory = ${d.dataDir}`,
    'command_directory = /usr/sbin',
    'daemon_directory = /usr/lib/postfix/sbin',
    'meta_directory = /etc/postfix',
    'shlib_directory = /usr/lib/postfix',
    'mail_owner = postfix',
    'setgid_group = postdrop',
    `myhostname = ${o.hostname}`,
    `mydomain = ${o.domain}`,
    `mydestination = ${o.mydestination}`,
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'smtp_dns_support_level = disabled',
    ...(o.noLookups ? ['disable_dns_lookups = yes', 'smtpd_peername_lookup = no'] : []),
    'biff = no',
    'alias_database =',
    `maillog_file_prefixes = ${d.work}`,
    `maillog_file = ${join(d.work, 'postfix.log')}`,
    ...extra,
  ].join('\n') + '\n';
}

/**
 * Debian's master.cf with its public smtp service replaced by smtpd on 127.0.0.1:`port`;
 * services chrooted as shipped only when `chroot` (the chroot needs configure-instance.sh's
 * copies of /etc files), and `extra` service lines appended.
 */
export async function postfixMasterCf(port: number, chroot: boolean, extra: readonly string[] = []): Promise<string> {
  const debian = await readFile('/etc/postfix/master.cf', 'utf8').catch(() => '');
  const services = debian
    .split('\n')
    .filter((l) => !/^smtp\s+inet\s/.test(l))
    .map((l) => {
      const f = l.split(/\s+/);
      if (!chroot && /^[a-z]/.test(l) && f.length >= 8 && f[4] === 'y') f[4] = 'n';
      return /^[a-z]/.test(l) && f.length >= 8 ? f.join(' ') : l;
    });
  if (!services.some((l) => l.startsWith('postlog '))) services.push('postlog unix-dgram n - n - 1 postlogd');
  services.unshift(`127.0.0.1:${port} inet n - ${chroot ? 'y' : 'n'} - - smtpd`);
  return [...services, ...extra].join('\n') + '\n';
}

/** Writes main.cf and master.cf into d.conf. */
export async function writePostfixConf(d: PostfixDirs, main: string, master: string): Promise<void> {
  await writeFile(join(d.conf, 'main.cf'), main);
  await writeFile(join(d.conf, 'master.cf'), master);
}

/** `postfix -c conf ARGS` (start, stop …): its status and output. */
export function postfixCtl(conf: string, args: readonly string[]): { status: number | null; out: string } {
  const r = spawnSync('/usr/sbin/postfix', ['-c', conf, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
