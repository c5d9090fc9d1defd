/**
 * @module pid-alive
 * Whether the process that wrote a lock file still lives: the liveness probe every lock in
 * correio uses before taking over a lock its owner left behind (kill -9, a crash).
 * Standards: POSIX kill(2) with signal 0; Linux /proc/PID/stat (state "Z": a zombie).
 * Security: reads /proc only; never signals anything (signal 0 only probes).
 * Limitations: a pid reused by an unrelated process after a crash looks alive (the caller's
 *   age rule then applies); only meaningful for pids of this machine.
 */
import { readFileSync } from 'node:fs';

/**
 * A killed process whose parent has not reaped it (a detached server under an init that reaps
 * nothing, as in some containers) still answers kill(pid, 0) but holds nothing: it is dead.
 */
function zombie(pid: number): boolean {
  try {
    // /proc/PID/stat: "pid (comm) state …"; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false; // no /proc (not Linux): kill(pid, 0) decides
  }
}

/** Whether `pid` is a live process of this machine (another user's counts: EPERM). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' && !zombie(pid);
  }
  return !zombie(pid);
}
