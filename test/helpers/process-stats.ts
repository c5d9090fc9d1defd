/**
 * @module test-process-stats
 * A process's resident memory and CPU from /proc (Linux), and a wait for it to be idle: what
 * the tests bounding RSS growth over a big transfer (t-60, t-94) sample.
 * Limitations: Linux only (callers skip without /proc).
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';
import { RawImap } from './raw-imap.js';
import { startSiteProcess, type SiteOptions } from './site.js';

/** Resident set size in octets (0 when /proc says nothing). */
export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** CPU ticks (user + system) the process has used, from /proc. */
export function cpuTicksOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * Waits until the process is idle (under 3 ticks of CPU in each of six half seconds in a row, at
 * most 60 s): the background work after a 20 MB delivery (~80 MB of RSS, issue 14's note) must
 * not fall into the next transfer's window.
 */
export async function settled(pid: number): Promise<void> {
  for (let i = 0, quiet = 0, last = cpuTicksOf(pid); i < 120 && quiet < 6; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuTicksOf(pid);
    quiet = now - last < 3 ? quiet + 1 : 0;
    last = now;
  }
}

/**
 * A message as BDAT commands (RFC 3030) of at least `size` octets each but the last, which is
 * LAST: each the command line followed by its octets.
 */
export function bdatChunks(pieces: readonly Buffer[], size: number): Buffer[][] {
  const total = pieces.reduce((n, b) => n + b.length, 0);
  const out: Buffer[][] = [];
  let pending: Buffer[] = [];
  let pendingSize = 0;
  let sent = 0;
  for (const b of pieces) {
    pending.push(b);
    pendingSize += b.length;
    sent += b.length;
    if (pendingSize >= size || sent === total) {
      out.push([Buffer.from(`BDAT ${pendingSize}${sent === total ? ' LAST' : ''}\r\n`), ...pending]);
      pending = [];
      pendingSize = 0;
    }
  }
  return out;
}

/**
 * The RSS of `pid` before `run` (once the process is idle) and its peak while `run` runs,
 * sampled every 20 ms.
 */
export async function rssDuring(pid: number, run: () => Promise<void>): Promise<{ baseline: number; peak: number }> {
  await settled(pid);
  const baseline = rssOf(pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
  try {
    await run();
  } finally {
    clearInterval(sampler);
  }
  return { baseline, peak: Math.max(peak, rssOf(pid)) };
}

/**
 * `correio serve` (startSiteProcess) with a 1 MB young generation (`--max-semi-space-size=1`):
 * with V8's default, the garbage of any streamed transfer let RSS grow by 29–43 MB before a
 * collection, which would hide whether a big message is held whole.
 */
export async function startSmallHeapSite(opts: SiteOptions): ReturnType<typeof startSiteProcess> {
  // the server process only (startSiteProcess passes this environment on)
  const nodeOptions = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --max-semi-space-size=1`.trim();
  try {
    return await startSiteProcess(opts);
  } finally {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  }
}

/**
 * A small-heap `correio serve` (startSmallHeapSite) with the user big@localhost and `service`
 * (IMAP or the web) on a port picked afresh each time startSiteProcess starts serve over (a port
 * taken meanwhile); `port` is the one it listens on.
 */
export async function startBigSite(dataDir: string, service: 'imap' | 'http'): Promise<{ site: Awaited<ReturnType<typeof startSiteProcess>>; port: number }> {
  let port = 0;
  const site = await startSmallHeapSite({
    domains: ['localhost'],
    users: ['big@localhost'],
    dataDir,
    tables: async () => {
      port = await freePort();
      return `[${service}]\nlisten = ["127.0.0.1:${port}"]\n`;
    },
  });
  return { site, port };
}

/**
 * A small-heap `correio serve` (startBigSite) with IMAP and the user big@localhost, logged
 * in over a raw socket: `run` gets the client, the server's pid and the user's Maildir (its
 * folder exists after the login); everything is removed afterwards (the t-60 IMAP tests).
 */
export async function withBigImapSite(prefix: string, run: (c: RawImap, pid: number, inbox: string) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  const { site, port: imapPort } = await startBigSite(dataDir, 'imap');
  const c = await RawImap.connect(imapPort);
  try {
    const login = (await c.run('LOGIN big@localhost secret')).toString();
    if (!/OK/.test(login)) throw new Error(`LOGIN: ${login}`);
    await run(c, site.child!.pid!, join(dataDir, 'mail', 'localhost', 'big'));
  } finally {
    c.close();
    await site.destroy();
    await rm(dataDir, { recursive: true, force: true });
  }
}
