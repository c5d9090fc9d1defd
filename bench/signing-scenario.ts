/**
 * @module signing-scenario
 * The bench's outbound-signing scenarios (issue 15): a submission load — STARTTLS, then one
 * AUTH PLAIN per session (correio signs only local and authenticated mail, never an
 * unauthenticated trusted network: docs/trust.md), connections kept for many messages, EHLO and
 * PIPELINING — from benchmd@localhost to itself, delivered into its Maildir.
 *   submission  the load with no DKIM key (nothing signed): the baseline
 *   signing     the same load with an RSA-2048 key for `localhost` (selector `bench`): every
 *               message DKIM-signed at intake
 * Postfix's rows take the same load over STARTTLS without AUTH (its clients are trusted by
 * address: mynetworks 127.0.0.0/8), and for `signing` sign with OpenDKIM (postfix-checks.ts:
 * `Mode sv`, `InternalHosts 127.0.0.0/8`, the same key); the CPU counted is Postfix's and
 * OpenDKIM's. Once per run, not per message, the signature of one delivered message is checked
 * with dkimpy (python3-dkim, the public key given as the DNS answer), so both rows measure a
 * signature that verifies.
 * Standards: RFC 6376 (DKIM), RFC 6409 (submission), RFC 3207 (STARTTLS), RFC 4954 (AUTH).
 * Security: loopback only; the key is made for the run and removed with its work directory.
 * Limitations: correio's sessions authenticate and Postfix's do not (one AUTH per session, 20
 *   per run); needs Debian's python3-dkim (/usr/bin/python3) for the check (the run fails without it).
 */
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { BenchContext, Sample } from './bench-context.js';
import { projectRoot } from './correio-instance.js';
import { freePort, waitForFiles } from './peers.js';
import { startPostfix } from './postfix-peer.js';

export type SigningScenario = 'submission' | 'signing';

export const isSigningScenario = (s: string): s is SigningScenario => s === 'submission' || s === 'signing';

const USER = 'benchmd@localhost';
const PASSWORD = 'bench-password';
const DOMAIN = 'localhost';
const SELECTOR = 'bench';

/** The run's DKIM key: PKCS#8 PEM and the DNS TXT record of its public key. */
function makeKey(): { pem: string; txt: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
  return { pem, txt: `v=DKIM1; k=rsa; p=${spki}` };
}

// dkimpy's verify() with the public key as the only DNS answer; prints d= and the outcome
const VERIFY = `
import sys, dkim
msg = open(sys.argv[1], 'rb').read()
txt = sys.argv[2].encode()
asked = []
def dns(name, timeout=5):
    asked.append(name)
    return txt if name.lower().rstrip(b'.') == b'${SELECTOR}._domainkey.${DOMAIN}' else None
sigs = [l for l in msg.split(b'\\n') if l.lower().startswith(b'dkim-signature:')]
ok = dkim.verify(msg, dnsfunc=dns)
print('signatures=%d verified=%s asked=%s' % (len(sigs), ok, b','.join(asked).decode()))
sys.exit(0 if ok and len(sigs) >= 1 else 1)
`;

/** One delivered message of `dirs` verifies with dkimpy; throws with what it said otherwise. */
async function verifySample(dirs: readonly string[], txt: string): Promise<void> {
  for (const d of dirs) {
    const files = (await fsp.readdir(d).catch(() => [] as string[])).filter((f) => !f.startsWith('.'));
    if (files.length === 0) continue;
    const r = spawnSync('/usr/bin/python3', ['-c', VERIFY, path.join(d, files[0]), txt], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`the delivered sample's DKIM signature did not verify with dkimpy: ${(r.stdout + r.stderr).trim().split('\n').slice(-2).join(' / ')}`);
    return;
  }
  throw new Error('no delivered message to verify');
}

export async function runSigning(ctx: BenchContext, work: string, profile: boolean, o: { scenario: SigningScenario; timeoutMs: number; postfix: boolean }): Promise<Sample> {
  const sign = o.scenario === 'signing';
  const key = sign ? makeKey() : undefined;
  const cert = path.join(projectRoot, 'test', 'fixtures', 'tls', 'localhost.crt');
  const certKey = path.join(projectRoot, 'test', 'fixtures', 'tls', 'localhost.key');
  if (o.postfix) {
    let keyFile: string | undefined;
    if (key) {
      keyFile = path.join(work, 'dkim-bench.pem');
      await fsp.writeFile(keyFile, key.pem, { mode: 0o600 });
    }
    const p = await startPostfix(work, 'maildir', 9, undefined, { cert, key: certKey, ...(keyFile && { dkim: { keyFile, domain: DOMAIN, selector: SELECTOR } }) });
    try {
      const s = await ctx.measure(async () => {
        const t0 = performance.now();
        const acceptMs = await ctx.loadAs(p.port, { from: USER, to: USER, starttls: true });
        const t1 = await waitForFiles(path.join(p.maildir, 'new'), ctx.messages, o.timeoutMs);
        return { acceptMs, e2eMs: t1 - t0 };
      }, () => p.masterPid(), () => p.helperPids());
      if (key) await verifySample([path.join(p.maildir, 'new')], key.txt);
      return s;
    } finally {
      await p.stop();
    }
  }
  const submission = await freePort();
  return ctx.withCorreio(
    work,
    {
      users: [USER],
      password: PASSWORD,
      smtpLines: [`submission = ["127.0.0.1:${submission}"]`, `tls_cert = ${JSON.stringify(cert)}`, `tls_key = ${JSON.stringify(certKey)}`],
      prepare: async (dataDir) => {
        if (!key) return;
        const dir = path.join(dataDir, 'dkim', DOMAIN);
        await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
        await fsp.writeFile(path.join(dir, `${SELECTOR}.pem`), key.pem, { mode: 0o600 });
      },
    },
    profile,
    async (c) => {
      // new/ and cur/: the search index's warmer may have moved some already
      const box = path.join(c.dataDir, 'mail', 'localhost', 'benchmd');
      const dirs = [path.join(box, 'new'), path.join(box, 'cur')];
      const s = await ctx.measure(async () => {
        const t0 = performance.now();
        const acceptMs = await ctx.loadAs(submission, { from: USER, to: USER, starttls: true, auth: { user: USER, password: PASSWORD } });
        const t1 = await waitForFiles(dirs, ctx.messages, o.timeoutMs);
        return { acceptMs, e2eMs: t1 - t0 };
      }, () => c.child.pid);
      if (key) await verifySample(dirs, key.txt);
      return s;
    },
  );
}
