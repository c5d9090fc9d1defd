/**
 * @module port-holder
 * Which process listens on a TCP port: the socket's inode from /proc/net/tcp and tcp6, then the
 * process whose file descriptors hold that inode, with its command line. For messages such as
 * "127.0.0.1:25 is in use by PID 812 (/usr/lib/postfix/sbin/master)".
 * Standards: Linux proc(5) (/proc/net/tcp: hexadecimal local address and port, state 0A = LISTEN).
 * Security: read-only; other users' processes are found only by root (their fd links are private).
 * Limitations: Linux only; elsewhere, and for processes this user may not inspect, the holder is
 *   unknown (undefined), never guessed.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface PortHolder {
  readonly pid: number;
  /** the command line, arguments joined by spaces */
  readonly command: string;
}

/** Inodes of the sockets listening on `port` (any local address). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10 || f[3] !== '0A') continue;
      const local = f[1];
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) inodes.add(f[9]);
    }
  }
  return inodes;
}

/** The process listening on TCP `port`, when this user can see it. */
export function findPortHolder(port: number): PortHolder | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1])) {
        let command = '';
        try {
          command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '').join(' ');
        } catch {
          // the process ended meanwhile
        }
        return { pid: Number(pid), command };
      }
    }
  }
  return undefined;
}
