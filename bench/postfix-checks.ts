/**
 * @module postfix-checks
 * The inbound checks of the bench's Postfix peer in the `checks` scenario, from Debian's
 * packages: SPF by policyd-spf (postfix-policyd-spf-python, a spawn(8) policy service asked at
 * RCPT), DKIM verification by OpenDKIM and DMARC by OpenDMARC (milters at end of data, each
 * adding its Authentication-Results). Every lookup goes to the scenario's DNS server: the
 * daemons run in a mount namespace of their own (`unshare -m`) whose /etc/resolv.conf names it
 * (policyd-spf's dnspython and OpenDMARC's libresolv read that file, so that server listens on
 * port 53 of a loopback address), and OpenDKIM's libunbound forwards to it.
 * Standards: RFC 7208 (SPF), RFC 6376 (DKIM), RFC 7489 (DMARC), as those programs implement them.
 * Security: the milters listen on 127.0.0.1 only and are children of the bench (killed at exit);
 *   the machine's own /etc/resolv.conf is never changed (the bind mount lives in the namespace).
 * For the `signing` scenario (signing-scenario.ts), OpenDKIM alone as a signing milter
 * (startPostfixSigning: `Mode sv`, `InternalHosts 127.0.0.0/8`, one key for one domain), as a
 * site signs the mail of its own networks; it needs no DNS for that.
 * Limitations: needs root (unshare, mount) and the packages opendkim, opendmarc and
 *   postfix-policyd-spf-python; in `checks` OpenDKIM only verifies (the load's mail is not ours
 *   to sign); no reports are sent. OpenDKIM 2.11 gives its libunbound the ResolverConfiguration
 *   file again for every message (its VBR handle); now and then that fails ("can't set VBR
 *   resolver configuration") and the message gets a tempfail, which `On-InternalError accept` does
 *   not change: the bench reports such a run as FAILED (docs/performance.md, "Getting the peers").
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { executable, freePort, stopChild, track } from './peers.js';

export interface PostfixChecks {
  /** a loopback address whose port 53 serves the scenario's zone */
  readonly dnsHost: string;
}

export interface PostfixFilters {
  /** main.cf lines: the policy service and the milters */
  readonly mainCf: readonly string[];
  /** master.cf lines: the policyd-spf spawn service */
  readonly masterCf: readonly string[];
  /** runs a command synchronously in the checks' namespace (for `postfix start`) */
  inNamespace(cmd: string, args: readonly string[]): { status: number | null; out: string };
  /** the milters' process ids (their CPU is Postfix's) */
  pids(): number[];
  stop(): Promise<void>;
}

/** Why Postfix cannot run the checks here, or undefined when it can. */
export function postfixChecksUnavailable(): string | undefined {
  for (const p of ['/usr/sbin/opendkim', '/usr/sbin/opendmarc', '/usr/bin/policyd-spf', '/usr/bin/unshare']) {
    if (!executable(p)) return `${p} is missing (apt-get install opendkim opendmarc postfix-policyd-spf-python)`;
  }
  return undefined;
}

/** Why Postfix cannot sign with OpenDKIM here, or undefined when it can. */
export function postfixSigningUnavailable(): string | undefined {
  return executable('/usr/sbin/opendkim') ? undefined : '/usr/sbin/opendkim is missing (apt-get install opendkim)';
}

export interface PostfixSigning {
  /** the private key (PEM), readable by root */
  readonly keyFile: string;
  readonly domain: string;
  readonly selector: string;
}

/** Starts OpenDKIM signing mail from 127.0.0.0/8 for `domain` with the key (a copy OpenDKIM's user owns). */
export async function startPostfixSigning(work: string, o: PostfixSigning): Promise<PostfixFilters> {
  const dir = path.join(work, 'signing');
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'opendkim'], { encoding: 'utf8' }).stdout.trim());
  await fsp.chown(dir, id('-u'), id('-g'));
  const key = path.join(dir, `${o.selector}.private`);
  await fsp.copyFile(o.keyFile, key);
  await fsp.chmod(key, 0o600);
  await fsp.chown(key, id('-u'), id('-g'));
  const port = await freePort();
  const conf = path.join(dir, 'opendkim.conf');
  await fsp.writeFile(conf, [
    'Syslog no', 'Background no', 'Mode sv', `Socket inet:${port}@127.0.0.1`, 'UserID opendkim', 'AuthservID pfbench.localhost',
    'InternalHosts 127.0.0.0/8', `Domain ${o.domain}`, `Selector ${o.selector}`, `KeyFile ${key}`,
    'Canonicalization relaxed/relaxed', 'SignatureAlgorithm rsa-sha256', 'On-Default accept',
    // the bench's work directory is under /tmp, which every user may write
    'RequireSafeKeys false',
  ].join('\n') + '\n', { mode: 0o644 });
  let said = '';
  const child = track(spawn('/usr/sbin/opendkim', ['-f', '-x', conf], { stdio: ['ignore', 'ignore', 'pipe'] }));
  child.stderr?.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-500)));
  const stop = (): Promise<void> => stopChild(child, 'SIGTERM', 3000);
  try {
    await waitForPort(port, 'opendkim', [child]);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}${said ? `: ${said.trim()}` : ''}`);
  }
  return {
    mainCf: [`smtpd_milters = inet:127.0.0.1:${port}`, 'milter_default_action = tempfail'],
    masterCf: [],
    inNamespace: (cmd, args) => {
      const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
      return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
    },
    pids: () => (child.pid && child.exitCode === null ? [child.pid] : []),
    stop,
  };
}

/** Writes the daemons' settings under work/checks and starts OpenDKIM and OpenDMARC. */
export async function startPostfixChecks(work: string, o: PostfixChecks): Promise<PostfixFilters> {
  const dir = path.join(work, 'checks');
  await fsp.mkdir(dir, { recursive: true });
  await fsp.chmod(dir, 0o755);
  const file = async (name: string, lines: readonly string[]): Promise<string> => {
    const p = path.join(dir, name);
    await fsp.writeFile(p, lines.join('\n') + '\n', { mode: 0o644 });
    return p;
  };
  // the zone server shares the loaded bench process: patient, so that a slow answer is no tempfail
  const resolv = await file('resolv.conf', [`nameserver ${o.dnsHost}`, 'options timeout:5 attempts:3']);
  // no host is exempt: the load comes from 127.0.0.1, which every one of them skips by default
  const nobody = await file('no-hosts', ['192.0.2.255']);
  const unbound = await file('unbound.conf', ['server:', '  do-not-query-localhost: no', 'forward-zone:', '  name: "."', `  forward-addr: ${o.dnsHost}@53`]);
  // policyd-spf.conf(5): MAIL FROM checked, HELO only for the null sender, as correio does
  const spf = await file('policyd-spf.conf', ['debugLevel = 0', 'HELO_reject = Null', 'Mail_From_reject = Fail', 'PermError_reject = False', 'TempError_Defer = False', `skip_addresses = 192.0.2.255/32`]);
  const [dkimPort, dmarcPort] = [await freePort(), await freePort()];
  const dkimConf = await file('opendkim.conf', [
    'Syslog no', 'Background no', 'Mode v', `Socket inet:${dkimPort}@127.0.0.1`, 'UserID opendkim', 'AuthservID pfbench.localhost',
    `InternalHosts ${nobody}`, `ResolverConfiguration ${unbound}`, 'AlwaysAddARHeader yes', 'On-Default accept',
  ]);
  const dmarcConf = await file('opendmarc.conf', [
    'Syslog false', 'Background false', `Socket inet:${dmarcPort}@127.0.0.1`, 'UserID opendmarc', 'AuthservID pfbench.localhost',
    'TrustedAuthservIDs pfbench.localhost', `IgnoreHosts ${nobody}`, 'SPFSelfValidate false', 'RejectFailures false', 'FailureReports false',
  ]);
  // unshare -m: a private mount namespace; the bind mount makes resolv.conf ours inside it only
  const wrap = (cmd: string, args: readonly string[]): string[] => ['-m', 'sh', '-c', `mount --bind "$0" /etc/resolv.conf && exec "$@"`, resolv, cmd, ...args];
  let said = '';
  const start = (cmd: string, args: readonly string[]): ChildProcess => {
    const c = track(spawn('/usr/bin/unshare', wrap(cmd, args), { stdio: ['ignore', 'ignore', 'pipe'] }));
    c.stderr?.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-500)));
    return c;
  };
  const children = [start('/usr/sbin/opendkim', ['-f', '-x', dkimConf]), start('/usr/sbin/opendmarc', ['-f', '-c', dmarcConf])];
  const stop = async (): Promise<void> => {
    for (const c of children) await stopChild(c, 'SIGTERM', 3000);
  };
  try {
    for (const [port, name] of [[dkimPort, 'opendkim'], [dmarcPort, 'opendmarc']] as const) await waitForPort(port, name, children);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}${said ? `: ${said.trim()}` : ''}`);
  }
  return {
    mainCf: [
      'policyd-spf_time_limit = 3600',
      'smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service unix:private/policyd-spf',
      `smtpd_milters = inet:127.0.0.1:${dkimPort}, inet:127.0.0.1:${dmarcPort}`,
      'milter_default_action = accept',
    ],
    masterCf: [`policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf ${spf}`],
    inNamespace: (cmd, args) => {
      const r = spawnSync('/usr/bin/unshare', wrap(cmd, args), { encoding: 'utf8', timeout: 60_000 });
      return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
    },
    pids: () => children.flatMap((c) => (c.pid && c.exitCode === null ? [c.pid] : [])),
    stop,
  };
}

/** Waits until a milter accepts connections on 127.0.0.1:port; fails when one of them exited. */
async function waitForPort(port: number, name: string, children: readonly ChildProcess[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const dead = children.find((c) => c.exitCode !== null);
    if (dead) throw new Error(`${name}: a milter exited with status ${dead.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not listen on 127.0.0.1:${port} within 10 s`);
}
