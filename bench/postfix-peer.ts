/**
 * @module postfix-peer
 * The full Postfix the bench compares correio against: an instance of our own (postfix -c
 * <tmp dir>, on 127.0.0.1:<high port>, main.cf and master.cf from test/helpers/postfix-conf.ts)
 * in the modes of anchors.md, and, for the `checks` scenario, with the inbound checks Debian's
 * packages give it (postfix-checks.ts: policyd-spf, OpenDKIM, OpenDMARC).
 * Standards: postconf(5), master(5).
 * Security: loopback only, never port 25; stopped by stop() and, at exit, by peers.ts killAll().
 * Limitations: needs root and the installed postfix package.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { postfixCtl, postfixDirs, postfixMainCf, postfixMasterCf, writePostfixConf } from '../test/helpers/postfix-conf.js';
import { addStopHook, executable, freePort, sleep, waitForSmtp } from './peers.js';
import { startPostfixChecks, startPostfixSigning, type PostfixChecks, type PostfixSigning } from './postfix-checks.js';

/** The signing scenarios' submission side: STARTTLS with this certificate, and OpenDKIM signing when `dkim` is given. */
export interface PostfixSubmission {
  readonly cert: string;
  readonly key: string;
  readonly dkim?: PostfixSigning;
}

export type PostfixMode = 'hold' | 'relay' | 'maildir';

export interface PostfixInstance {
  port: number;
  queueDir: string;
  maildir: string;
  masterPid(): number | undefined;
  /** processes outside the master's tree whose CPU is Postfix's too (the milters of `checks`) */
  helperPids(): number[];
  stop(): Promise<void>;
}

/** Why a full Postfix cannot run here, or undefined if it can. */
export function postfixUnavailable(): string | undefined {
  if (!executable('/usr/sbin/postfix') || !executable('/usr/lib/postfix/sbin/master')) {
    return 'the postfix package is not installed (scripts/bench-setup.sh --install, as root)';
  }
  if (process.getuid?.() !== 0) return 'Postfix needs root to start (run the bench as root)';
  return undefined;
}

/**
 * Which Postfix setup to compare against (BENCH_POSTFIX_CONFIG):
 * - "tuned" (default): no chroot, no reverse lookup of the client, DNS lookups disabled; the
 *   fastest Postfix we know how to set up here, so the ratio is conservative.
 * - "anchor": the setup of ../shared/bench/anchors.md, which the issues' numbers come from:
 *   Debian's master.cf as shipped (smtpd, cleanup and the others chrooted; the chroot prepared by
 *   Debian's configure-instance.sh) and Debian's defaults for client lookups.
 */
export function postfixConfig(): 'tuned' | 'anchor' {
  const v = process.env.BENCH_POSTFIX_CONFIG ?? 'tuned';
  if (v !== 'tuned' && v !== 'anchor') throw new Error(`BENCH_POSTFIX_CONFIG must be "tuned" or "anchor", not "${v}"`);
  return v;
}

/**
 * Starts Postfix from its own config directory under work: listening on 127.0.0.1:<free port>
 * only, queue in work, logging to work/postfix.log. Modes as in anchors.md: hold (every message
 * to the hold queue), relay (to the sink), maildir (local(8) into work/maildir/ via an alias).
 * With `checks` (the checks scenario), SPF, DKIM and DMARC are checked at RCPT and end of data
 * against the DNS server `checks` names (postfix-checks.ts). With `submission` (the signing
 * scenarios), smtpd offers STARTTLS and, with its `dkim`, OpenDKIM signs the mail of 127.0.0.0/8.
 */
export async function startPostfix(work: string, mode: PostfixMode, sinkPort: number, checks?: PostfixChecks, submission?: PostfixSubmission): Promise<PostfixInstance> {
  const anchor = postfixConfig() === 'anchor';
  const maildir = path.join(work, 'maildir') + '/';
  await fsp.chmod(work, 0o755);
  const dirs = await postfixDirs(work);
  const nobody = spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' });
  if (mode === 'maildir') {
    await fsp.mkdir(maildir, { recursive: true });
    fs.chownSync(maildir, Number(nobody.stdout.trim()), 65534);
  }
  const port = await freePort();
  const filters = checks ? await startPostfixChecks(work, checks) : submission?.dkim ? await startPostfixSigning(work, submission.dkim) : undefined;
  const tls = submission ? [`smtpd_tls_cert_file = ${submission.cert}`, `smtpd_tls_key_file = ${submission.key}`, 'smtpd_tls_security_level = may'] : [];
  const main = postfixMainCf(dirs, { hostname: 'pfbench.localhost', domain: 'localhost', mydestination: 'localhost, $myhostname', noLookups: !anchor }, [
    'myorigin = $myhostname',
    `relayhost = [127.0.0.1]:${sinkPort}`,
    'default_transport = smtp',
    'relay_transport = smtp',
    mode === 'maildir' ? `alias_maps = inline:{benchmd=${maildir}}` : 'alias_maps =',
    mode === 'hold' ? 'smtpd_recipient_restrictions = check_recipient_access static:HOLD' : '',
    ...(filters?.mainCf ?? []),
    ...tls,
  ]);
  // Debian's master.cf, with the public smtp service replaced by 127.0.0.1:<port>, no chroot
  // (the chroot would need its own copies of /etc files; it costs nothing per message).
  await writePostfixConf(dirs, main, await postfixMasterCf(port, anchor, filters?.masterCf ?? []));
  if (anchor) {
    // what Debian's service does before a start: copy /etc files and libraries into the chroot
    const r = spawnSync('/usr/lib/postfix/configure-instance.sh', ['-'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, MAIL_CONFIG: dirs.conf },
    });
    if (r.status !== 0) throw new Error(`configure-instance.sh failed: ${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
  // with checks, started where /etc/resolv.conf names the checks' DNS server (policyd-spf reads it)
  const r = filters ? filters.inNamespace('/usr/sbin/postfix', ['-c', dirs.conf, 'start']) : postfixCtl(dirs.conf, ['start']);
  if (r.status !== 0) {
    await filters?.stop();
    throw new Error(`postfix start failed: ${r.out.trim()}`);
  }
  let stopped = false;
  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    postfixCtl(dirs.conf, ['stop']);
  };
  const removeHook = addStopHook(stopSync);
  const masterPid = (): number | undefined => {
    try {
      return Number(fs.readFileSync(path.join(dirs.queueDir, 'pid/master.pid'), 'latin1').trim()) || undefined;
    } catch {
      return undefined;
    }
  };
  try {
    await waitForSmtp(port, 20_000);
  } catch (e) {
    stopSync();
    await filters?.stop();
    throw e;
  }
  return {
    port,
    queueDir: dirs.queueDir,
    maildir,
    masterPid,
    helperPids: () => filters?.pids() ?? [],
    stop: async () => {
      const pid = masterPid();
      stopSync();
      removeHook();
      // wait for the master to be gone so no Postfix outlives the bench
      for (let i = 0; pid && i < 100; i++) {
        try {
          process.kill(pid, 0);
        } catch {
          break;
        }
        await sleep(100);
      }
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await filters?.stop();
    },
  };
}
