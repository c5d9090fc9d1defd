/**
 * @module lab-processes
 * The running lab: its state file (lab.json in the lab folder), the detached processes it
 * starts (one `correio serve` per site, one `correio lab dns`), waiting for them to answer, and
 * stopping them again.
 * Standards: POSIX signals (SIGTERM for a clean stop, as `correio serve` expects).
 * Security: a PID from lab.json is signalled only while /proc says it is still a correio
 *   process started for this lab (its command line names the lab's file), so a PID reused by
 *   another program is never killed. Everything listens on loopback addresses only.
 * Limitations: Linux (/proc) for the PID check; elsewhere a stale PID is assumed gone.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface LabSiteState {
  readonly domain: string;
  readonly ip: string;
  /** the site's folder: correio.toml, var/, serve.log */
  readonly dir: string;
  readonly config: string;
  pid: number;
}

export interface LabState {
  readonly dir: string;
  readonly ports: { smtp: number; pop3: number; imap: number };
  readonly dns: { pid: number; server: string };
  readonly sites: LabSiteState[];
}

export const stateFile = (dir: string): string => join(dir, 'lab.json');

export async function readState(dir: string): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(dir), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export async function writeState(state: LabState): Promise<void> {
  await writeFile(stateFile(state.dir), JSON.stringify(state, null, 2) + '\n');
}

/** Whether `pid` runs a command line containing `mark` (a path of this lab). */
export function running(pid: number, mark: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes(mark);
  } catch {
    return false;
  }
}

/**
 * Starts `correio ARGS…` detached (it outlives this command), output appended to `log`.
 * The same node and the same entry point as this process: a checkout's bin/correio.js, the
 * installed package's, or the tests' launcher.
 */
export function spawnCorreio(args: readonly string[], log: string, cwd: string): number {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args], {
      cwd,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, CORREIO_CONFIG: undefined },
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start correio ${args.join(' ')}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Resolves once host:port greets with 220 (a site is up), or rejects after `ms` or when `pid` exits. */
export async function waitForGreeting(host: string, port: number, pid: number, mark: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!running(pid, mark)) throw new Error(`the process (PID ${pid}) ended`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.setTimeout(2000, () => s.destroy());
      s.once('data', (d: Buffer) => {
        s.end('QUIT\r\n');
        resolve(d.toString('latin1').startsWith('220'));
      });
      s.once('error', () => resolve(false));
      s.once('close', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} did not answer within ${ms / 1000} s`);
    await delay(100);
  }
}

/**
 * Sends SIGTERM and waits (up to `ms`, then SIGKILL) until the process is gone. The SIGKILL goes
 * to its process group (it was started detached, so it leads one): a site's SMTP acceptor
 * process, which outlives a killed server while it finishes its sessions, goes with it.
 */
export async function stopProcess(pid: number, mark: string, ms = 15_000): Promise<void> {
  if (!running(pid, mark)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + ms;
  while (running(pid, mark)) {
    if (Date.now() > deadline) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        process.kill(pid, 'SIGKILL');
      }
      await delay(100);
      return;
    }
    await delay(50);
  }
}

/** The last lines of a log file, for a start that failed. */
export function logTail(file: string, lines = 5): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
